// Register tiles of the elementwise interpreter, and binding a program's instructions to them.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels.h"
#include "program.h"

namespace metalgrad::cpu {

// Elements per register tile: large enough to amortise the per-instruction dispatch and per-tile
// bookkeeping, small enough that a few live registers stay in L1/L2. A register is kTile 4-byte
// slots (4 KiB). Measured on W1's 16M-element chain at 1 thread: 512 -> 1024 is ~7% faster; 2048
// gains no more and would push programs with many registers out of L2.
constexpr int64_t kTile = 1024;

// An instruction with its kernel chosen and its registers as indices (-1: unused); `imm` holds a
// constant operand's bits. Binding it to tiles turns the indices into pointers.
struct ProtoInstr {
  InstrKernel fn = nullptr;
  int32_t dst = -1, a = -1, b = -1, c = -1;
  uint32_t imm = 0;
};

// The instructions of `step` ready to bind, chosen once per step and cached in it. A binary op or
// comparison reading a register that holds a constant gets a kernel taking the constant as an
// immediate where one exists, and a const instruction whose register is then never read (by a
// later instruction, an output, or `also_read` when >= 0) is dropped, so chains like x*1.5+2 do not
// refill constant tiles on every tile. A step must always be run with the same `also_read`.
const std::vector<ProtoInstr>& step_protos(const ElementwiseStep& step, const double* consts, int32_t also_read = -1);

// `protos` bound to the register tiles at `regs` (register r is kTile 4-byte slots at r * kTile * 4).
inline void bind_protos(const std::vector<ProtoInstr>& protos, char* regs, std::vector<BoundInstr>& out) {
  auto reg = [&](int32_t r) -> char* { return r < 0 ? nullptr : regs + static_cast<int64_t>(r) * kTile * 4; };
  out.resize(protos.size());
  for (size_t i = 0; i < protos.size(); ++i) {
    const ProtoInstr& p = protos[i];
    out[i] = BoundInstr{p.fn, reg(p.dst), reg(p.a), reg(p.b), reg(p.c), p.imm};
  }
}

}  // namespace metalgrad::cpu
