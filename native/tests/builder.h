// Helpers that assemble step programs (native/ABI.md layout) and buffer tables for the tests.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "engine.h"
#include "ops.h"

namespace testing {

using metalgrad::cpu::BufferDesc;
using metalgrad::cpu::DType;
using metalgrad::cpu::ScalarOp;

template <class T> constexpr int dtype_code();
template <> constexpr int dtype_code<float>() { return 0; }
template <> constexpr int dtype_code<int32_t>() { return 1; }
template <> constexpr int dtype_code<uint32_t>() { return 2; }
template <> constexpr int dtype_code<uint8_t>() { return 3; }

template <class T>
BufferDesc desc(std::vector<T>& v) {
  return BufferDesc{v.data(), v.size(), dtype_code<T>()};
}

inline std::vector<int32_t> contiguous(const std::vector<int32_t>& shape) {
  std::vector<int32_t> strides(shape.size());
  int32_t s = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = s;
    s *= shape[d];
  }
  return strides;
}

struct Program {
  std::vector<int32_t> code;

  // Header: magic, version, nsteps (built with push_back: GCC 12 misreports an initializer list).
  Program() {
    code.push_back(0x4D47);
    code.push_back(1);
    code.push_back(0);
  }

  Program& step(int32_t kind, const std::vector<int32_t>& payload) {
    code.push_back(kind);
    code.push_back(static_cast<int32_t>(payload.size()));
    code.insert(code.end(), payload.begin(), payload.end());
    ++code[2];
    return *this;
  }
};

inline void append(std::vector<int32_t>& out, std::initializer_list<int32_t> xs) {
  out.insert(out.end(), xs.begin(), xs.end());
}

struct Operand {
  int32_t dtype, buf, offset;
  std::vector<int32_t> strides;
  int32_t reg = -1;  // outputs only
};

struct Instr {
  ScalarOp op;
  int32_t kind, dst, a, b = -1, c = -1;
};

// Payload of an ELEMENTWISE step.
struct Elementwise {
  std::vector<int32_t> shape;
  std::vector<Operand> inputs, outputs;
  int32_t nregs = 0;
  std::vector<Instr> instrs;

  std::vector<int32_t> payload() const {
    std::vector<int32_t> p{static_cast<int32_t>(shape.size())};
    p.insert(p.end(), shape.begin(), shape.end());
    append(p, {static_cast<int32_t>(inputs.size()), static_cast<int32_t>(outputs.size()), nregs,
               static_cast<int32_t>(instrs.size())});
    for (const auto& in : inputs) {
      append(p, {in.dtype, in.buf, in.offset});
      p.insert(p.end(), in.strides.begin(), in.strides.end());
    }
    for (const auto& out : outputs) {
      append(p, {out.dtype, out.buf, out.offset});
      p.insert(p.end(), out.strides.begin(), out.strides.end());
      p.push_back(out.reg);
    }
    for (const auto& i : instrs) append(p, {static_cast<int32_t>(i.op), i.kind, i.dst, i.a, i.b, i.c});
    return p;
  }
};

inline void run(const Program& prog, std::vector<BufferDesc> bufs, std::vector<double> consts = {}) {
  metalgrad::cpu::run(prog.code.data(), prog.code.size(), consts.data(), consts.size(), bufs.data(),
                      bufs.size());
}

// Runs `dst = op(x)` elementwise on contiguous vectors; R is the result element type.
template <class T, class R = T>
std::vector<R> apply_unary(ScalarOp op, std::vector<T> x) {
  const int32_t n = static_cast<int32_t>(x.size());
  std::vector<R> out(x.size());
  Elementwise ew{{n}, {{dtype_code<T>(), 0, 0, {1}}}, {{dtype_code<R>(), 1, 0, {1}, 1}}, 2,
                 {{op, dtype_code<T>(), 1, 0}}};
  run(Program().step(1, ew.payload()), {desc(x), desc(out)});
  return out;
}

// Runs `dst = op(a, b)` elementwise; the op computes in a's kind.
template <class T, class R = T>
std::vector<R> apply_binary(ScalarOp op, std::vector<T> a, std::vector<T> b) {
  const int32_t n = static_cast<int32_t>(a.size());
  std::vector<R> out(a.size());
  Elementwise ew{{n},
                 {{dtype_code<T>(), 0, 0, {1}}, {dtype_code<T>(), 1, 0, {1}}},
                 {{dtype_code<R>(), 2, 0, {1}, 2}},
                 3,
                 {{op, dtype_code<T>(), 2, 0, 1}}};
  run(Program().step(1, ew.payload()), {desc(a), desc(b), desc(out)});
  return out;
}

}  // namespace testing
