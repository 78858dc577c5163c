// The SSE2 instruction set of vecmath.h (every x86-64 CPU): four lanes, no FMA, no rounding
// instruction (floor and ceil stay on the portable loops).
#include "vecmath.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define MG_VM_INLINE inline __attribute__((always_inline))
#define MG_VM_TARGET
#include "vecmath_impl.h"

namespace metalgrad::cpu::vecmath {
namespace {

struct Sse2V {
  using F = __m128;
  using I = __m128i;
  using M = __m128;
  static constexpr int kLanes = 4;
  static constexpr bool kHasRound = false;

  static MG_VM_INLINE F set(float v) { return _mm_set1_ps(v); }
  static MG_VM_INLINE I seti(int32_t v) { return _mm_set1_epi32(v); }
  static MG_VM_INLINE F load(const float* p) { return _mm_loadu_ps(p); }
  static MG_VM_INLINE void store(float* p, F v) { _mm_storeu_ps(p, v); }
  static MG_VM_INLINE F add(F a, F b) { return _mm_add_ps(a, b); }
  static MG_VM_INLINE F sub(F a, F b) { return _mm_sub_ps(a, b); }
  static MG_VM_INLINE F mul(F a, F b) { return _mm_mul_ps(a, b); }
  static MG_VM_INLINE F div(F a, F b) { return _mm_div_ps(a, b); }
  static MG_VM_INLINE F fma(F a, F b, F c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
  static MG_VM_INLINE F sqrt(F x) { return _mm_sqrt_ps(x); }
  static MG_VM_INLINE F floor(F x) { return x; }  // unused: kHasRound is false
  static MG_VM_INLINE F ceil(F x) { return x; }
  // Round to nearest even through int32 (callers keep |x| < 2^31).
  static MG_VM_INLINE F rint(F x) { return _mm_cvtepi32_ps(_mm_cvtps_epi32(x)); }
  static MG_VM_INLINE F min(F a, F b) { return _mm_min_ps(a, b); }
  static MG_VM_INLINE F max(F a, F b) { return _mm_max_ps(a, b); }
  static MG_VM_INLINE I to_int(F x) { return _mm_cvtps_epi32(x); }
  static MG_VM_INLINE F to_float(I i) { return _mm_cvtepi32_ps(i); }
  static MG_VM_INLINE I as_int(F x) { return _mm_castps_si128(x); }
  static MG_VM_INLINE F as_float(I i) { return _mm_castsi128_ps(i); }
  static MG_VM_INLINE I addi(I a, I b) { return _mm_add_epi32(a, b); }
  static MG_VM_INLINE I subi(I a, I b) { return _mm_sub_epi32(a, b); }
  static MG_VM_INLINE I andi(I a, I b) { return _mm_and_si128(a, b); }
  static MG_VM_INLINE I ori(I a, I b) { return _mm_or_si128(a, b); }
  template <int N> static MG_VM_INLINE I shli(I a) { return _mm_slli_epi32(a, N); }
  template <int N> static MG_VM_INLINE I srli(I a) { return _mm_srli_epi32(a, N); }
  template <int N> static MG_VM_INLINE I srai(I a) { return _mm_srai_epi32(a, N); }
  static MG_VM_INLINE F bit_or(F a, F b) { return _mm_or_ps(a, b); }
  static MG_VM_INLINE F bit_xor(F a, F b) { return _mm_xor_ps(a, b); }
  static MG_VM_INLINE F abs(F x) { return _mm_andnot_ps(_mm_set1_ps(-0.0f), x); }
  static MG_VM_INLINE F signbit(F x) { return _mm_and_ps(_mm_set1_ps(-0.0f), x); }
  static MG_VM_INLINE M lt(F a, F b) { return _mm_cmplt_ps(a, b); }
  static MG_VM_INLINE M le(F a, F b) { return _mm_cmple_ps(a, b); }
  static MG_VM_INLINE M gt(F a, F b) { return _mm_cmpgt_ps(a, b); }
  static MG_VM_INLINE M ge(F a, F b) { return _mm_cmpge_ps(a, b); }
  static MG_VM_INLINE M eq(F a, F b) { return _mm_cmpeq_ps(a, b); }
  static MG_VM_INLINE M ne(F a, F b) { return _mm_cmpneq_ps(a, b); }
  static MG_VM_INLINE M isnan(F x) { return _mm_cmpunord_ps(x, x); }
  static MG_VM_INLINE F select(M m, F a, F b) { return _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b)); }
  static MG_VM_INLINE bool any(M m) { return _mm_movemask_ps(m) != 0; }
};

}  // namespace

const IsaKernels* sse2_kernels() {
  static const IsaKernels table = make_kernels<Sse2V>();
  return &table;
}

}  // namespace metalgrad::cpu::vecmath

#else

namespace metalgrad::cpu::vecmath {
const IsaKernels* sse2_kernels() { return nullptr; }
}  // namespace metalgrad::cpu::vecmath

#endif
