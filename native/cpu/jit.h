// Machine code for fused elementwise programs (x86-64 with AVX-512F, Linux): a step's scalar program
// compiled into one loop that keeps every value in a vector register, so a chain of ops costs one
// load per input and one store per output per 16 elements instead of a trip through register tiles
// per op. Steps the JIT cannot compile (other dtypes, ops without an encoding here, strided
// operands) run on the tile interpreter, which stays the portable path.
//
// The generated code computes exactly what the AVX-512 tile kernels compute (vecmath_impl.h): the
// same instructions in the same order, so results are bit-identical with the JIT on or off.
#pragma once

#include <cstdint>
#include <memory>

#include "program.h"

namespace metalgrad::cpu {

// A compiled step for runs of elements along which each operand (inputs, then outputs) is either
// contiguous or one value repeated. `ptrs[op]` is the operand's first element of the run.
class JitKernel {
 public:
  using Fn = void (*)(char* const* ptrs, int64_t n);
  JitKernel(uint64_t signature, void* code, size_t bytes);
  ~JitKernel();
  JitKernel(const JitKernel&) = delete;
  JitKernel& operator=(const JitKernel&) = delete;

  // Runs the program over n elements of the run starting at ptrs.
  void run(char* const* ptrs, int64_t n) const { reinterpret_cast<Fn>(code_)(ptrs, n); }
  // Which operands repeat one value (bit op) and which outputs use non-temporal stores (bit 32 + o).
  uint64_t signature() const { return signature_; }
  // nullptr when the step could not be compiled (the interpreter runs it).
  bool compiled() const { return code_ != nullptr; }

 private:
  uint64_t signature_;
  void* code_;
  [[maybe_unused]] size_t bytes_;  // mapped length (unmapped on destruction where code is mapped)
};

// Operands a JIT kernel can take (general-purpose registers hold their pointers).
constexpr int kJitMaxOperands = 10;

// Whether fused steps run as machine code: on x86-64 Linux when the vecmath instruction set is
// AVX-512 and METALGRAD_JIT is not 0. set_jit_enabled turns it off and on again (tests compare both).
bool jit_enabled();
void set_jit_enabled(bool on);

// The kernel of `step` for `signature` (see JitKernel::signature), compiled on first use and cached
// in step.jit (one signature at a time; any thread may call this), or nullptr when the step has
// something the JIT does not handle or executable memory is refused.
std::shared_ptr<const JitKernel> jit_kernel_for(const ElementwiseStep& step, const double* consts, uint64_t signature);

}  // namespace metalgrad::cpu
