// Vectorised float32 tile kernels with run-time instruction-set dispatch: the math functions (exp, log,
// tanh, sin, erf, ...) and the simple arithmetic loops, compiled once per instruction set and chosen
// once at load time (METALGRAD_ISA=generic|sse2|avx2|avx512 overrides the choice, for testing).
#pragma once

#include <string>
#include <vector>

#include "kernels.h"
#include "ops.h"

namespace metalgrad::cpu::vecmath {

// `generic` is portable C++ (what arm64 runs); the others are x86-64 only.
enum class Isa { generic, sse2, avx2, avx512 };

const char* isa_name(Isa isa);

// Whether this build has the kernels of `isa` and this CPU (and OS) can run them.
bool isa_supported(Isa isa);

// Every supported instruction set, slowest first.
std::vector<Isa> supported_isas();

// The instruction set the tile kernels use: the best supported one unless METALGRAD_ISA names
// another supported one. Chosen once.
Isa active_isa();

// e.g. "avx512 (supported: generic sse2 avx2 avx512)"; notes an ignored METALGRAD_ISA value.
std::string cpu_features();

// The f32 tile kernel of `op` for `isa`, or nullptr where that instruction set has none (the caller
// then uses the portable loop of kernels.cc). Results of exact ops (arithmetic, comparisons, sqrt,
// floor, ceil, min, max, abs, neg, sign) are bit-identical to the portable loops; transcendentals
// stay within a few ulp of libm (native/tests/test_vecmath.cc states the bounds).
InstrKernel f32_kernel(Isa isa, ScalarOp op);

// The f32 kernel of binary or compare op `op` whose operand a (operand 0) or b (operand 1) is the
// constant whose bits are in BoundInstr::imm, the other operand a register; nullptr if none.
InstrKernel f32_kernel_const_operand(Isa isa, ScalarOp op, int operand);

// The per-instruction-set tables (nullptr where not compiled in); used by the functions above.
struct IsaKernels {
  InstrKernel f32[kNumScalarOps];
  InstrKernel f32_scalar_a[kNumScalarOps];  // a is the constant in BoundInstr::imm, b a register
  InstrKernel f32_scalar_b[kNumScalarOps];  // b is the constant
};
const IsaKernels* generic_kernels();
const IsaKernels* sse2_kernels();
const IsaKernels* avx2_kernels();
const IsaKernels* avx512_kernels();

}  // namespace metalgrad::cpu::vecmath
