// The AVX2+FMA instruction set of vecmath.h: eight lanes. Only functions carrying the target
// attribute use these instructions; vecmath.cc calls them only where the CPU has them.
#include "vecmath.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define MG_VM_INLINE inline __attribute__((always_inline, target("avx2,fma")))
#define MG_VM_TARGET __attribute__((target("avx2,fma")))
#include "vecmath_impl.h"

namespace metalgrad::cpu::vecmath {
namespace {

struct Avx2V {
  using F = __m256;
  using I = __m256i;
  using M = __m256;
  static constexpr int kLanes = 8;
  static constexpr bool kHasRound = true;

  static MG_VM_INLINE F set(float v) { return _mm256_set1_ps(v); }
  static MG_VM_INLINE I seti(int32_t v) { return _mm256_set1_epi32(v); }
  static MG_VM_INLINE F load(const float* p) { return _mm256_loadu_ps(p); }
  static MG_VM_INLINE void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static MG_VM_INLINE F add(F a, F b) { return _mm256_add_ps(a, b); }
  static MG_VM_INLINE F sub(F a, F b) { return _mm256_sub_ps(a, b); }
  static MG_VM_INLINE F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static MG_VM_INLINE F div(F a, F b) { return _mm256_div_ps(a, b); }
  static MG_VM_INLINE F fma(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static MG_VM_INLINE F sqrt(F x) { return _mm256_sqrt_ps(x); }
  static MG_VM_INLINE F floor(F x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  static MG_VM_INLINE F ceil(F x) { return _mm256_round_ps(x, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC); }
  static MG_VM_INLINE F rint(F x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static MG_VM_INLINE F min(F a, F b) { return _mm256_min_ps(a, b); }
  static MG_VM_INLINE F max(F a, F b) { return _mm256_max_ps(a, b); }
  static MG_VM_INLINE I to_int(F x) { return _mm256_cvtps_epi32(x); }
  static MG_VM_INLINE F to_float(I i) { return _mm256_cvtepi32_ps(i); }
  static MG_VM_INLINE I as_int(F x) { return _mm256_castps_si256(x); }
  static MG_VM_INLINE F as_float(I i) { return _mm256_castsi256_ps(i); }
  static MG_VM_INLINE I addi(I a, I b) { return _mm256_add_epi32(a, b); }
  static MG_VM_INLINE I subi(I a, I b) { return _mm256_sub_epi32(a, b); }
  static MG_VM_INLINE I andi(I a, I b) { return _mm256_and_si256(a, b); }
  static MG_VM_INLINE I ori(I a, I b) { return _mm256_or_si256(a, b); }
  template <int N> static MG_VM_INLINE I shli(I a) { return _mm256_slli_epi32(a, N); }
  template <int N> static MG_VM_INLINE I srli(I a) { return _mm256_srli_epi32(a, N); }
  template <int N> static MG_VM_INLINE I srai(I a) { return _mm256_srai_epi32(a, N); }
  static MG_VM_INLINE F bit_or(F a, F b) { return _mm256_or_ps(a, b); }
  static MG_VM_INLINE F bit_xor(F a, F b) { return _mm256_xor_ps(a, b); }
  static MG_VM_INLINE F abs(F x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }
  static MG_VM_INLINE F signbit(F x) { return _mm256_and_ps(_mm256_set1_ps(-0.0f), x); }
  static MG_VM_INLINE M lt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static MG_VM_INLINE M le(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
  static MG_VM_INLINE M gt(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  static MG_VM_INLINE M ge(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  static MG_VM_INLINE M eq(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  static MG_VM_INLINE M ne(F a, F b) { return _mm256_cmp_ps(a, b, _CMP_NEQ_UQ); }
  static MG_VM_INLINE M isnan(F x) { return _mm256_cmp_ps(x, x, _CMP_UNORD_Q); }
  static MG_VM_INLINE F select(M m, F a, F b) { return _mm256_blendv_ps(b, a, m); }
  static MG_VM_INLINE bool any(M m) { return _mm256_movemask_ps(m) != 0; }
};

}  // namespace

const IsaKernels* avx2_kernels() {
  static const IsaKernels table = make_kernels<Avx2V>();
  return &table;
}

}  // namespace metalgrad::cpu::vecmath

#else

namespace metalgrad::cpu::vecmath {
const IsaKernels* avx2_kernels() { return nullptr; }
}  // namespace metalgrad::cpu::vecmath

#endif
