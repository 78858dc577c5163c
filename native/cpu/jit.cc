// The elementwise JIT (jit.h): register allocation over a step's scalar program, then one loop of
// AVX-512F code per step, 16 elements per iteration, the last partial vector under a lane mask.
#include "jit.h"

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels.h"
#include "vecmath.h"
#include "vecmath_coeffs.h"
#include "x86_asm.h"

#if defined(__x86_64__) && defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#define MG_JIT 1
#endif

namespace metalgrad::cpu {

JitKernel::JitKernel(uint64_t signature, void* code, size_t bytes) : signature_(signature), code_(code), bytes_(bytes) {}

JitKernel::~JitKernel() {
#ifdef MG_JIT
  if (code_ != nullptr) munmap(code_, bytes_);
#endif
}

namespace {

std::atomic<int> jit_switch{-1};  // -1: not read yet; 0 off; 1 on

bool jit_supported_here() {
#ifdef MG_JIT
  const char* env = std::getenv("METALGRAD_JIT");
  if (env != nullptr && std::strcmp(env, "0") == 0) return false;
  return vecmath::active_isa() == vecmath::Isa::avx512;
#else
  return false;
#endif
}

}  // namespace

bool jit_enabled() {
  int on = jit_switch.load(std::memory_order_relaxed);
  if (on < 0) {
    on = jit_supported_here() ? 1 : 0;
    jit_switch.store(on, std::memory_order_relaxed);
  }
  return on == 1;
}

void set_jit_enabled(bool on) { jit_switch.store(on && jit_supported_here() ? 1 : 0, std::memory_order_relaxed); }

#ifdef MG_JIT
namespace {

using namespace x86;

// zmm0-25 hold program values; 26-31 are scratch inside one op. k1 is the tail mask, k2-k3 scratch.
constexpr int kValueRegs = 26;
constexpr int kS0 = 26, kS1 = 27, kS2 = 28, kS3 = 29, kS4 = 30, kS5 = 31;
constexpr int kTailMask = 1, kK2 = 2, kK3 = 3;
constexpr int kLanes = 16;
// Pointer registers of the operands, in order; rax is the element index, rcx and rdx scratch.
constexpr Gpr kOperandRegs[kJitMaxOperands] = {r8, r9, r10, r11, rbx, r12, r13, r14, r15, rbp};

bool is_callee_saved(Gpr r) { return r == rbx || r == rbp || r == r12 || r == r13 || r == r14 || r == r15; }

uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// One instruction with its registers allocated (-1: unused).
struct AllocInstr {
  ScalarOp op;
  int dst, a, b, c;
};

struct Allocation {
  std::vector<std::pair<int, int>> hoisted_inputs;   // (zmm, input): loaded once per call
  std::vector<std::pair<int, uint32_t>> hoisted_consts;  // (zmm, bits)
  std::vector<std::pair<int, int>> loads;            // (zmm, input): loaded every iteration
  std::vector<AllocInstr> instrs;
  std::vector<std::pair<int, int>> stores;           // (output, zmm)
  std::vector<char> bytes;                           // per operand: a bool, one byte per element
};

bool jit_op(const Instr& in) {
  const bool f32 = in.kind == DType::f32, boolean = in.kind == DType::boolean;
  switch (in.op) {
    case ScalarOp::copy:
    case ScalarOp::const_:
    case ScalarOp::select:
      return f32 || boolean;
    case ScalarOp::and_: case ScalarOp::or_: case ScalarOp::xor_: case ScalarOp::not_:
      return boolean;
    case ScalarOp::neg: case ScalarOp::abs: case ScalarOp::sign: case ScalarOp::sqrt:
    case ScalarOp::floor: case ScalarOp::ceil: case ScalarOp::exp: case ScalarOp::tanh:
    case ScalarOp::expm1: case ScalarOp::log: case ScalarOp::log1p: case ScalarOp::erf:
    case ScalarOp::add: case ScalarOp::sub: case ScalarOp::mul: case ScalarOp::div:
    case ScalarOp::max: case ScalarOp::min:
    case ScalarOp::lt: case ScalarOp::le: case ScalarOp::gt: case ScalarOp::ge:
    case ScalarOp::eq: case ScalarOp::ne:
      return f32;
    default:
      return false;
  }
}

int source_count(OpForm form) {
  switch (form) {
    case OpForm::constant: return 0;
    case OpForm::binary: case OpForm::compare: return 2;
    case OpForm::select: return 3;
    default: return 1;
  }
}

// Assigns vector registers to the program's values: a value lives from its definition to its last
// read; inputs that repeat one value and constants are loaded once per call and keep their register.
// False when the step has something the JIT does not handle or needs too many registers.
bool allocate(const ElementwiseStep& step, const double* consts, uint64_t broadcast, Allocation& out) {
  const int nin = static_cast<int>(step.inputs.size());
  const int nout = static_cast<int>(step.outputs.size());
  if (nin + nout > kJitMaxOperands) return false;
  // Float32 operands, and bools (bytes, 0 or 1 in registers) that are not one repeated value.
  for (int i = 0; i < nin; ++i) {
    const DType dt = step.inputs[i].dtype;
    if (dt != DType::f32 && (dt != DType::boolean || (broadcast >> i & 1))) return false;
    out.bytes.push_back(dt == DType::boolean);
  }
  for (int o = 0; o < nout; ++o) {
    const DType dt = step.outputs[o].dtype;
    if ((dt != DType::f32 && dt != DType::boolean) || (broadcast >> (nin + o) & 1)) return false;
    out.bytes.push_back(dt == DType::boolean);
  }
  for (const Instr& in : step.instrs) if (!jit_op(in)) return false;

  // Backward pass: which reads are a value's last, and which definitions are never read.
  const size_t n = step.instrs.size();
  std::vector<char> needed(static_cast<size_t>(step.nregs), 0);
  for (const ElementwiseOutput& o : step.outputs) needed[o.reg] = 1;
  std::vector<std::array<char, 3>> last(n);
  std::vector<char> dead(n, 0);
  for (size_t k = n; k-- > 0;) {
    const Instr& in = step.instrs[k];
    dead[k] = !needed[in.dst];
    needed[in.dst] = 0;
    if (dead[k]) continue;
    const OpForm form = op_info(in.op).form;
    const int nsrc = source_count(form);
    const int32_t src[3] = {in.a, in.b, in.c};
    for (int s = 0; s < nsrc; ++s) {
      last[k][s] = !needed[src[s]];
      needed[src[s]] = 1;
    }
  }

  std::vector<int> cur(static_cast<size_t>(step.nregs), -1);
  std::vector<char> permanent(kValueRegs, 0);
  uint32_t free_mask = (1u << kValueRegs) - 1;
  auto take = [&]() {
    if (free_mask == 0) return -1;
    const int r = __builtin_ctz(free_mask);
    free_mask &= free_mask - 1;
    return r;
  };
  auto release = [&](int r) { if (!permanent[r]) free_mask |= 1u << r; };
  // Loop-invariant values first: their registers must stay theirs through every iteration.
  for (int i = 0; i < nin; ++i) {
    if (!needed[i] || !(broadcast >> i & 1)) continue;
    if ((cur[i] = take()) < 0) return false;
    permanent[cur[i]] = 1;
    out.hoisted_inputs.push_back({cur[i], i});
  }
  std::vector<int> const_reg(n, -1);
  for (size_t k = 0; k < n; ++k) {
    const Instr& in = step.instrs[k];
    if (dead[k] || op_info(in.op).form != OpForm::constant) continue;
    if ((const_reg[k] = take()) < 0) return false;
    permanent[const_reg[k]] = 1;
    out.hoisted_consts.push_back({const_reg[k], const_bits(in.kind, consts[in.a])});
  }
  for (int i = 0; i < nin; ++i) {
    if (!needed[i] || (broadcast >> i & 1)) continue;
    if ((cur[i] = take()) < 0) return false;
    out.loads.push_back({cur[i], i});
  }
  for (size_t k = 0; k < n; ++k) {
    const Instr& in = step.instrs[k];
    if (dead[k]) continue;
    const OpForm form = op_info(in.op).form;
    if (form == OpForm::constant) {
      cur[in.dst] = const_reg[k];
      continue;
    }
    AllocInstr ai{in.op, -1, -1, -1, -1};
    const int32_t src[3] = {in.a, in.b, in.c};
    int* phys[3] = {&ai.a, &ai.b, &ai.c};
    const int nsrc = source_count(form);
    for (int s = 0; s < nsrc; ++s) *phys[s] = cur[src[s]];
    for (int s = 0; s < nsrc; ++s) if (last[k][s]) release(cur[src[s]]);
    if ((ai.dst = take()) < 0) return false;
    out.instrs.push_back(ai);
    cur[in.dst] = ai.dst;
  }
  for (int o = 0; o < nout; ++o) out.stores.push_back({o, cur[step.outputs[o].reg]});
  return true;
}

// The constant pool: float32 words addressed RIP-relative from the code, placed after it.
class Pool {
 public:
  Mem f32(float v) { return word(bits_of(v)); }
  Mem u32(uint32_t v) { return word(v); }
  const std::vector<uint32_t>& words() const { return words_; }

 private:
  Mem word(uint32_t v) {
    for (size_t i = 0; i < words_.size(); ++i) if (words_[i] == v) return pool_f32(static_cast<int32_t>(i * 4));
    words_.push_back(v);
    return pool_f32(static_cast<int32_t>((words_.size() - 1) * 4));
  }
  std::vector<uint32_t> words_;
};

// Emits instructions of one program op; every emitter reads its sources before writing dst, so dst
// may be a source's register.
class OpEmitter {
 public:
  OpEmitter(Assembler& a, Pool& pool) : a_(a), pool_(pool) {}

  void emit(const AllocInstr& in) {
    const int d = in.dst, x = in.a, y = in.b;
    switch (in.op) {
      case ScalarOp::copy: return a_.vmovaps(d, x);
      case ScalarOp::neg: return a_.pd66(0xEF, d, x, pool_.u32(0x80000000u));  // vpxord
      case ScalarOp::abs: return a_.pd66(0xDB, d, x, pool_.u32(0x7fffffffu));  // vpandd
      case ScalarOp::sqrt: return a_.vsqrtps(d, x);
      case ScalarOp::add: return a_.ps(0x58, d, x, y);
      case ScalarOp::mul: return a_.ps(0x59, d, x, y);
      case ScalarOp::sub: return a_.ps(0x5C, d, x, y);
      case ScalarOp::div: return a_.ps(0x5E, d, x, y);
      // A NaN first operand wins, as in the portable loops; vmaxps/vminps would return the second.
      case ScalarOp::max: return nan_first(0x5F, d, x, y);
      case ScalarOp::min: return nan_first(0x5D, d, x, y);
      case ScalarOp::floor: return round(d, x, 0x09);
      case ScalarOp::ceil: return round(d, x, 0x0A);
      case ScalarOp::sign: return sign(d, x);
      case ScalarOp::lt: return compare(d, x, y, kLtOq);
      case ScalarOp::le: return compare(d, x, y, kLeOq);
      case ScalarOp::gt: return compare(d, x, y, kGtOq);
      case ScalarOp::ge: return compare(d, x, y, kGeOq);
      case ScalarOp::eq: return compare(d, x, y, kEqOq);
      case ScalarOp::ne: return compare(d, x, y, kNeqUq);
      case ScalarOp::select:
        a_.vptestmd(kK2, x, x);
        return a_.vblendmps(d, kK2, in.c, y);
      // Bools are 0 or 1 in every lane, so the bitwise ops are the logical ones.
      case ScalarOp::and_: return a_.pd66(0xDB, d, x, y);
      case ScalarOp::or_: return a_.pd66(0xEB, d, x, y);
      case ScalarOp::xor_: return a_.pd66(0xEF, d, x, y);
      case ScalarOp::not_: return a_.pd66(0xEF, d, x, pool_.u32(1));
      case ScalarOp::exp: return exp(d, x);
      case ScalarOp::expm1: return expm1(d, x);
      case ScalarOp::log: return log(d, x);
      case ScalarOp::log1p: return log1p(d, x);
      case ScalarOp::tanh: return tanh(d, x);
      case ScalarOp::erf: return erf(d, x);
      default: return;  // allocate() admits only the ops above
    }
  }

 private:
  Assembler& a_;
  Pool& pool_;

  void nan_first(uint8_t opcode, int d, int x, int y) {
    a_.vcmpps(kK2, x, x, kUnordQ);
    a_.ps(opcode, kS0, x, y);
    a_.vblendmps(d, kK2, kS0, x);
  }
  // vecmath's FloorOp/CeilOp: a NaN passes through unchanged (the rounding would quiet it).
  void round(int d, int x, uint8_t mode) {
    a_.vcmpps(kK2, x, x, kUnordQ);
    a_.vrndscaleps(kS0, x, mode);
    a_.vblendmps(d, kK2, kS0, x);
  }
  void sign(int d, int x) {
    a_.vcmpps(kK2, x, pool_.f32(0.0f), kLtOq);
    a_.vcmpps(kK3, x, pool_.f32(0.0f), kGtOq);
    a_.vmovaps(kS0, x);
    a_.vbroadcastss(kS0, pool_.f32(-1.0f), kK2);
    a_.vbroadcastss(kS0, pool_.f32(1.0f), kK3);
    a_.vmovaps(d, kS0);
  }
  // Bool registers hold uint32 1 or 0, as in the interpreter.
  void compare(int d, int x, int y, CmpPred p) {
    a_.vcmpps(kK2, x, y, p);
    a_.vpbroadcastd_z(d, pool_.u32(1), kK2);
  }
  // acc = c[N-1]; acc = acc * t + c[i] for i = N-2 .. 0 (vecmath's horner).
  template <size_t N>
  void horner(int acc, int t, const float (&c)[N]) {
    a_.vbroadcastss(acc, pool_.f32(c[N - 1]));
    for (size_t i = N - 1; i-- > 0;) a_.fma(0xA8, acc, t, pool_.f32(c[i]));  // vfmadd213ps
  }
  // s1 = n = rint(x * log2e); s0 = x - n ln2 (two steps), from x in s0.
  void exp_reduce() {
    a_.ps(0x59, kS1, kS0, pool_.f32(vecmath::kLog2e));
    a_.vrndscaleps(kS1, kS1, 0x08);
    a_.fma(0xB8, kS0, kS1, pool_.f32(-vecmath::kLn2Hi));  // vfmadd231ps: s0 += n * -ln2hi
    a_.fma(0xB8, kS0, kS1, pool_.f32(-vecmath::kLn2Lo));
  }
  // r = 2^r (integer lanes r in [-126, 127]) as float bits.
  void pow2i(int r, int src) {
    a_.pd66(0xFE, r, src, pool_.u32(127));  // vpaddd
    a_.vpslld(r, r, 23);
  }
  // vecmath's vexp.
  void exp(int d, int x) {
    a_.ps(0x5F, kS0, x, pool_.f32(-104.0f));  // max(x, -104)
    a_.ps(0x5D, kS0, kS0, pool_.f32(89.0f));  // min(., 89)
    exp_reduce();
    horner(kS2, kS0, vecmath::kExpP);
    a_.ps(0x59, kS3, kS0, kS0);     // r * r
    a_.fma(0xA8, kS3, kS2, kS0);    // p = r*r * P(r) + r
    a_.ps(0x58, kS3, kS3, pool_.f32(1.0f));
    a_.vcvtps2dq(kS2, kS1);
    scale2(kS3, kS2);
    nan_passes(d, x, kS3);
  }
  // d = isnan(x) ? x + x : res (the last step of most math functions).
  void nan_passes(int d, int x, int res) {
    a_.vcmpps(kK2, x, x, kUnordQ);
    a_.ps(0x58, kS0, x, x);
    a_.vblendmps(d, kK2, res, kS0);
  }
  // p * 2^n for integer lanes n (vecmath's scale2), in p; n and kS0 are clobbered.
  void scale2(int p, int n) {
    a_.vpsrad(kS0, n, 1);
    pow2i(kS1, kS0);
    a_.ps(0x59, p, p, kS1);
    a_.pd66(0xFA, n, n, kS0);
    pow2i(n, n);
    a_.ps(0x59, p, p, n);
  }
  // vecmath's vexpm1.
  void expm1(int d, int x) {
    a_.ps(0x5F, kS0, x, pool_.f32(-18.0f));
    a_.ps(0x5D, kS0, kS0, pool_.f32(89.0f));
    a_.vcmpps(kK3, kS0, pool_.f32(18.0f), kGtOq);  // the 2^n expm1(r) + (2^n - 1) form loses above 18
    exp_reduce();
    horner(kS2, kS0, vecmath::kExpm1P);
    a_.ps(0x59, kS3, kS0, kS0);
    a_.fma(0xA8, kS3, kS2, kS0);    // q = expm1(r)
    a_.vcvtps2dq(kS4, kS1);         // n as integers
    a_.ps(0x5D, kS2, kS1, pool_.f32(127.0f));
    a_.vcvtps2dq(kS2, kS2);
    pow2i(kS2, kS2);                // t = 2^min(n, 127)
    a_.ps(0x5C, kS5, kS2, pool_.f32(1.0f));
    a_.fma(0xB8, kS5, kS2, kS3);    // small = t * q + (t - 1)
    a_.ps(0x58, kS3, kS3, pool_.f32(1.0f));
    scale2(kS3, kS4);               // big = (q + 1) 2^n
    a_.vblendmps(kS5, kK3, kS5, kS3);
    a_.pd66(0xDB, kS0, x, pool_.u32(0x7fffffffu));
    a_.vcmpps(kK2, kS0, pool_.f32(0x1p-25f), kLtOq);
    a_.vmovaps(kS5, x, kK2);        // tiny x (and signed zero): x
    nan_passes(d, x, kS5);
  }
  // vecmath's log_core: log(u) for positive finite u, into kS3 (u is read first; kS0-kS3 clobbered).
  void log_core(int u) {
    a_.vcmpps(kK2, u, pool_.f32(0x1p-126f), kLtOq);
    a_.ps(0x59, kS0, u, pool_.f32(0x1p23f));
    a_.vblendmps(kS0, kK2, u, kS0);          // subnormals scaled into the normal range
    a_.vpsrld(kS1, kS0, 23);
    a_.pd66(0xFA, kS1, kS1, pool_.u32(127));
    a_.vcvtdq2ps(kS1, kS1);                  // e
    a_.ps(0x5C, kS1, kS1, pool_.f32(23.0f), kK2);
    a_.pd66(0xDB, kS2, kS0, pool_.u32(0x007fffffu));
    a_.pd66(0xEB, kS2, kS2, pool_.u32(0x3f800000u));  // m in [1, 2)
    a_.vcmpps(kK3, kS2, pool_.f32(1.41421356f), kGtOq);
    a_.ps(0x59, kS2, kS2, pool_.f32(0.5f), kK3);
    a_.ps(0x58, kS1, kS1, pool_.f32(1.0f), kK3);
    a_.ps(0x5C, kS2, kS2, pool_.f32(1.0f));  // f = m - 1
    horner(kS0, kS2, vecmath::kLogQ);
    a_.ps(0x59, kS3, kS2, kS2);
    a_.fma(0xA8, kS3, kS0, kS2);             // y = f*f Q(f) + f
    a_.fma(0xB8, kS3, kS1, pool_.f32(vecmath::kLn2Lo));
    a_.fma(0xB8, kS3, kS1, pool_.f32(vecmath::kLn2Hi));
  }
  // vecmath's vlog.
  void log(int d, int x) {
    log_core(x);
    a_.vcmpps(kK2, x, pool_.f32(0.0f), kLtOq);
    a_.vbroadcastss(kS3, pool_.u32(0x7fc00000u), kK2);
    a_.vcmpps(kK2, x, pool_.f32(0.0f), kEqOq);
    a_.vbroadcastss(kS3, pool_.u32(0xff800000u), kK2);
    a_.vcmpps(kK2, x, pool_.u32(0x7f800000u), kEqOq);
    a_.vmovaps(kS3, x, kK2);
    nan_passes(d, x, kS3);
  }
  // vecmath's vlog1p: log(u) + c/u with u = 1 + x and c the rounding error of that sum.
  void log1p(int d, int x) {
    a_.ps(0x58, kS4, x, pool_.f32(1.0f));
    a_.vbroadcastss(kS5, pool_.f32(1.0f));
    a_.ps(0x5C, kS5, kS5, kS4);
    a_.ps(0x58, kS5, kS5, x);                // (1 - u) + x
    a_.ps(0x5C, kS0, x, kS4);
    a_.ps(0x58, kS0, kS0, pool_.f32(1.0f));  // (x - u) + 1
    a_.pd66(0xDB, kS1, x, pool_.u32(0x7fffffffu));
    a_.vcmpps(kK2, kS1, pool_.f32(1.0f), kLtOq);
    a_.vblendmps(kS5, kK2, kS0, kS5);        // c
    log_core(kS4);
    a_.ps(0x5E, kS5, kS5, kS4);
    a_.ps(0x58, kS3, kS3, kS5);
    a_.pd66(0xDB, kS0, x, pool_.u32(0x7fffffffu));
    a_.vcmpps(kK2, kS0, pool_.f32(0x1p-24f), kLtOq);
    a_.vmovaps(kS3, x, kK2);
    a_.vcmpps(kK2, x, pool_.f32(-1.0f), kLtOq);
    a_.vbroadcastss(kS3, pool_.u32(0x7fc00000u), kK2);
    a_.vcmpps(kK2, x, pool_.f32(-1.0f), kEqOq);
    a_.vbroadcastss(kS3, pool_.u32(0xff800000u), kK2);
    a_.vcmpps(kK2, x, pool_.u32(0x7f800000u), kEqOq);
    a_.vmovaps(kS3, x, kK2);
    nan_passes(d, x, kS3);
  }
  // vecmath's verf: a polynomial below 1.125, 1 - exp(L(a)) above, 1 from 3.93.
  void erf(int d, int x) {
    a_.pd66(0xDB, kS5, x, pool_.u32(0x7fffffffu));     // a
    a_.vcmpps(kK2, kS5, pool_.f32(vecmath::kErfSplit), kLtOq);
    a_.vcmpps(kK3, kS5, pool_.f32(3.93f), kGeOq);
    a_.ps(0x59, kS1, kS5, kS5);
    horner(kS2, kS1, vecmath::kErfQ);
    a_.fma(0xA8, kS2, kS5, kS5);                        // small = a Q(a^2) + a
    a_.ps(0x5D, kS1, kS5, pool_.f32(3.93f));
    a_.ps(0x5C, kS1, kS1, pool_.f32(vecmath::kErfcCenter));
    horner(kS0, kS1, vecmath::kErfcL);                  // l = log(erfc(a))
    exp_reduce();
    horner(kS3, kS0, vecmath::kExpP);
    a_.ps(0x59, kS4, kS0, kS0);
    a_.fma(0xA8, kS4, kS3, kS0);
    a_.ps(0x58, kS4, kS4, pool_.f32(1.0f));
    a_.vcvtps2dq(kS1, kS1);
    pow2i(kS1, kS1);
    a_.ps(0x59, kS4, kS4, kS1);                         // exp(l)
    a_.vbroadcastss(kS3, pool_.f32(1.0f));
    a_.ps(0x5C, kS3, kS3, kS4);                         // large = 1 - exp(l)
    a_.vblendmps(kS3, kK2, kS3, kS2);
    a_.vbroadcastss(kS3, pool_.f32(1.0f), kK3);
    a_.pd66(0xDB, kS0, x, pool_.u32(0x80000000u));
    a_.pd66(0xEB, kS3, kS3, kS0);
    nan_passes(d, x, kS3);
  }
  // vecmath's vtanh: e = expm1(2 min(|x|, 9.1)), tanh = e / (e + 2) with x's sign.
  void tanh(int d, int x) {
    a_.pd66(0xDB, kS0, x, pool_.u32(0x7fffffffu));
    a_.vbroadcastss(kS1, pool_.f32(9.1f));
    a_.ps(0x5D, kS0, kS1, kS0);     // min(9.1, |x|): a NaN |x| stays
    a_.ps(0x58, kS0, kS0, kS0);
    exp_reduce();
    horner(kS2, kS0, vecmath::kExpm1P);
    a_.ps(0x59, kS3, kS0, kS0);
    a_.fma(0xA8, kS3, kS2, kS0);    // q = r*r * P(r) + r
    a_.vcvtps2dq(kS1, kS1);
    pow2i(kS1, kS1);                // t = 2^n
    a_.ps(0x5C, kS2, kS1, pool_.f32(1.0f));
    a_.fma(0xB8, kS2, kS1, kS3);    // e = t * q + (t - 1)
    a_.ps(0x58, kS0, kS2, pool_.f32(2.0f));
    a_.ps(0x5E, kS2, kS2, kS0);
    a_.pd66(0xDB, kS0, x, pool_.u32(0x80000000u));
    a_.pd66(0xEB, d, kS2, kS0);     // vpord
  }
};

// One iteration of the loop over 16 elements (mask: the tail's lane mask, 0 for a whole vector).
void emit_body(Assembler& a, OpEmitter& ops, Pool& pool, const Allocation& al, int nin, uint64_t streamed, int mask) {
  for (const auto& [zmm, input] : al.loads) {
    if (!al.bytes[input]) {
      a.vmovups_load(zmm, at_index4(kOperandRegs[input], rax), mask);
      continue;
    }
    // A bool is any nonzero byte: widen, then make each nonzero lane 1.
    a.vpmovzxbd(zmm, at_index1(kOperandRegs[input], rax), mask);
    a.vptestmd(kK2, zmm, zmm);
    a.vpbroadcastd_z(zmm, pool.u32(1), kK2);
  }
  for (const AllocInstr& in : al.instrs) ops.emit(in);
  for (const auto& [output, zmm] : al.stores) {
    const int op = nin + output;
    if (al.bytes[op]) {
      a.vpmovdb_store(at_index1(kOperandRegs[op], rax), zmm, mask);
      continue;
    }
    const Mem m = at_index4(kOperandRegs[op], rax);
    if (mask == 0 && (streamed >> output & 1)) a.vmovntps(m, zmm);
    else a.vmovups_store(m, zmm, mask);
  }
}

// With METALGRAD_JIT_DUMP=<directory>, each compiled kernel (code, then its constants from the next
// 64-byte boundary) is written to <directory>/jit-<pid>-<n>.bin, for
// `objdump -D -b binary -mi386:x86-64 FILE`. Failures to write are ignored.
void dump(const std::vector<uint8_t>& bytes) {
  static const char* dir = std::getenv("METALGRAD_JIT_DUMP");
  static std::atomic<int> count{0};
  if (dir == nullptr) return;
  const std::string path = std::string(dir) + "/jit-" + std::to_string(getpid()) + "-" + std::to_string(count++) + ".bin";
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
}

// Executable memory holding `bytes`, or nullptr where the system refuses it.
void* make_executable(const std::vector<uint8_t>& bytes, size_t& mapped) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  mapped = (bytes.size() + page - 1) / page * page;
  void* mem = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return nullptr;
  std::memcpy(mem, bytes.data(), bytes.size());
  if (mprotect(mem, mapped, PROT_READ | PROT_EXEC) != 0) {
    munmap(mem, mapped);
    return nullptr;
  }
  return mem;
}

std::shared_ptr<const JitKernel> compile_kernel(const ElementwiseStep& step, const double* consts, uint64_t signature) {
  auto none = std::make_shared<const JitKernel>(signature, nullptr, 0);
  Allocation al;
  if (!allocate(step, consts, signature & 0xffffffffu, al)) return none;
  const int nin = static_cast<int>(step.inputs.size());
  const int nops = nin + static_cast<int>(step.outputs.size());
  const uint64_t streamed = signature >> 32;

  Assembler a;
  Pool pool;
  OpEmitter ops(a, pool);
  // void fn(char* const* ptrs /* rdi */, int64_t n /* rsi */)
  std::vector<Gpr> saved;
  for (int op = 0; op < nops; ++op) if (is_callee_saved(kOperandRegs[op])) saved.push_back(kOperandRegs[op]);
  for (Gpr r : saved) a.push(r);
  for (int op = 0; op < nops; ++op) a.mov_load(kOperandRegs[op], at(rdi, 8 * op));
  for (const auto& [zmm, input] : al.hoisted_inputs) a.vbroadcastss(zmm, at(kOperandRegs[input]));
  for (const auto& [zmm, bits] : al.hoisted_consts) a.vbroadcastss(zmm, pool.u32(bits));
  a.xor_rr32(rax, rax);
  Assembler::Label loop, tail, done;
  a.bind(loop);
  a.lea(rdx, at(rax, kLanes));
  a.cmp_rr(rdx, rsi);
  a.jcc(kGreater, tail);
  emit_body(a, ops, pool, al, nin, streamed, 0);
  a.add_imm8(rax, kLanes);
  a.jmp(loop);
  a.bind(tail);
  a.cmp_rr(rax, rsi);
  a.jcc(kGreaterEqual, done);
  // k1 = (1 << (n - i)) - 1
  a.mov_rr(rcx, rsi, false);
  a.sub_rr(rcx, rax, false);
  a.mov_imm32(rdx, 1);
  a.shl_cl32(rdx);
  a.dec32(rdx);
  a.kmovw(kTailMask, rdx);
  emit_body(a, ops, pool, al, nin, streamed, kTailMask);
  a.bind(done);
  a.vzeroupper();
  for (size_t i = saved.size(); i-- > 0;) a.pop(saved[i]);
  a.ret();

  std::vector<uint8_t> bytes = a.code();
  const size_t pool_pos = (bytes.size() + 63) / 64 * 64;
  a.link_pool(pool_pos);
  bytes = a.code();
  bytes.resize(pool_pos + pool.words().size() * 4, 0xCC);
  if (!pool.words().empty()) std::memcpy(bytes.data() + pool_pos, pool.words().data(), pool.words().size() * 4);
  dump(bytes);
  size_t mapped = 0;
  void* code = make_executable(bytes, mapped);
  if (code == nullptr) return none;
  return std::make_shared<const JitKernel>(signature, code, mapped);
}

}  // namespace

#else

namespace {
std::shared_ptr<const JitKernel> compile_kernel(const ElementwiseStep&, const double*, uint64_t signature) {
  return std::make_shared<const JitKernel>(signature, nullptr, 0);
}
}  // namespace

#endif

std::shared_ptr<const JitKernel> jit_kernel_for(const ElementwiseStep& step, const double* consts, uint64_t signature) {
  // Two threads may both compile on a first run; the later store wins and both kernels are valid.
  std::shared_ptr<const JitKernel> k = std::atomic_load(&step.jit);
  if (!k || k->signature() != signature) {
    k = compile_kernel(step, consts, signature);
    std::atomic_store(&step.jit, k);
  }
  return k->compiled() ? k : nullptr;
}

}  // namespace metalgrad::cpu
