// Tile kernels of the elementwise interpreter: one tight loop per (op, kind), chosen once per step.
#pragma once

#include <cstdint>

#include "dtype.h"
#include "ops.h"

namespace metalgrad::cpu {

struct BoundInstr;

// Runs one instruction over the first n slots of its registers.
using InstrKernel = void (*)(const BoundInstr&, int64_t n);

// An instruction with its registers resolved to tile storage.
struct BoundInstr {
  InstrKernel fn = nullptr;
  void* dst = nullptr;
  const void* a = nullptr;
  const void* b = nullptr;
  const void* c = nullptr;
  uint32_t imm = 0;  // bits of the converted constant for `const`
};

// The kernel of (op, kind); `src` is the source kind of `convert`. nullptr when the pair is not
// defined by the ABI.
InstrKernel instr_kernel(ScalarOp op, DType kind, DType src);

// The kernel of binary or compare op `op` on `kind` whose operand a (operand 0) or b (operand 1) is
// the constant with bits BoundInstr::imm instead of a register; nullptr where there is none.
InstrKernel const_operand_kernel(ScalarOp op, DType kind, int operand);

// Bits of consts value `x` converted to register kind `kind`.
uint32_t const_bits(DType kind, double x);

}  // namespace metalgrad::cpu
