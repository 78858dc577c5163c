// Packed float32 GEMM (Goto/BLIS style): operands are copied into cache-sized contiguous panels and
// a register-blocked micro-kernel, chosen once per process by CPU features, computes C tiles.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace metalgrad::cpu {

// A strided matrix operand: element (b, r, c) is at data[b*bs + r*rs + c*cs].
struct GemmOperand {
  const float* data;
  int64_t bs, rs, cs;
};

// Called with (p, i0, rows, j0, cols) once per finished block of C (every pass over k done):
// rows [i0, i0 + rows) x columns [j0, j0 + cols) of batch element p, on the thread that computed
// it, while the block is in cache. Each element of C is in exactly one block.
using GemmBlockHook = std::function<void(int64_t, int64_t, int64_t, int64_t, int64_t)>;

// C[b, i, j] = sum_l A[b, i, l] * B[b, l, j] for b < batch, i < m, j < n (k = 0 writes zeros).
// Any strides work (transposed operands are handled by the packing); C must not overlap A or B.
// Threads over the batch and C tiles; the result does not depend on the thread count. `hook`, when
// set, runs on each finished block (an epilogue).
void sgemm(int64_t batch, int64_t m, int64_t n, int64_t k, GemmOperand a, GemmOperand b, float* c,
           int64_t c_bs, int64_t c_rs, int64_t c_cs, const GemmBlockHook& hook = {});

// Micro-kernel families. The default is the best the CPU supports, unless the environment variable
// METALGRAD_ISA names another (generic or sse2: the portable kernel; avx2; avx512).
enum class GemmIsa { scalar, avx2, avx512 };

bool gemm_isa_supported(GemmIsa isa);
GemmIsa gemm_isa();
const char* gemm_isa_name(GemmIsa isa);
// Test hook: selects a family the CPU supports; throws std::invalid_argument otherwise.
void set_gemm_isa(GemmIsa isa);

}  // namespace metalgrad::cpu
