// Micro-kernels of the packed GEMM: C tile (mr x nr, row stride c_rs, unit column stride) =, or +=,
// the product of a packed A panel (k steps of mr floats) and a packed B panel (k steps of nr floats).
#pragma once

#include <cstdint>

namespace metalgrad::cpu {

using MicroKernelFn = void (*)(int64_t k, const float* pa, const float* pb, float* c, int64_t c_rs,
                               bool accumulate);

// A micro-kernel with the blocking that suits it: kc steps of k per pass, and packed B blocks of
// kc x nc (sized for L2) that mr x kc A panels (sized for L1) sweep.
struct MicroKernel {
  MicroKernelFn fn;
  int mr, nr;
  int64_t kc, nc;
};

MicroKernel scalar_micro_kernel();
#if defined(__x86_64__)
MicroKernel avx2_micro_kernel();
MicroKernel avx512_micro_kernel();
#endif

}  // namespace metalgrad::cpu
