// The AVX-512F instruction set of vecmath.h: sixteen lanes with mask registers. Only functions
// carrying the target attribute use these instructions; vecmath.cc calls them only where the CPU
// has them.
#include "vecmath.h"

#if defined(__x86_64__)
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's AVX-512 headers trip this warning on their own _mm512_undefined_ps().
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#define MG_VM_INLINE inline __attribute__((always_inline, target("avx512f")))
#define MG_VM_TARGET __attribute__((target("avx512f")))
#include "vecmath_impl.h"

namespace metalgrad::cpu::vecmath {
namespace {

struct Avx512V {
  using F = __m512;
  using I = __m512i;
  using M = __mmask16;
  static constexpr int kLanes = 16;
  static constexpr bool kHasRound = true;

  static MG_VM_INLINE F set(float v) { return _mm512_set1_ps(v); }
  static MG_VM_INLINE I seti(int32_t v) { return _mm512_set1_epi32(v); }
  static MG_VM_INLINE F load(const float* p) { return _mm512_loadu_ps(p); }
  static MG_VM_INLINE void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static MG_VM_INLINE F add(F a, F b) { return _mm512_add_ps(a, b); }
  static MG_VM_INLINE F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static MG_VM_INLINE F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static MG_VM_INLINE F div(F a, F b) { return _mm512_div_ps(a, b); }
  static MG_VM_INLINE F fma(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static MG_VM_INLINE F sqrt(F x) { return _mm512_sqrt_ps(x); }
  static MG_VM_INLINE F floor(F x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC); }
  static MG_VM_INLINE F ceil(F x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC); }
  static MG_VM_INLINE F rint(F x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static MG_VM_INLINE F min(F a, F b) { return _mm512_min_ps(a, b); }
  static MG_VM_INLINE F max(F a, F b) { return _mm512_max_ps(a, b); }
  static MG_VM_INLINE I to_int(F x) { return _mm512_cvtps_epi32(x); }
  static MG_VM_INLINE F to_float(I i) { return _mm512_cvtepi32_ps(i); }
  static MG_VM_INLINE I as_int(F x) { return _mm512_castps_si512(x); }
  static MG_VM_INLINE F as_float(I i) { return _mm512_castsi512_ps(i); }
  static MG_VM_INLINE I addi(I a, I b) { return _mm512_add_epi32(a, b); }
  static MG_VM_INLINE I subi(I a, I b) { return _mm512_sub_epi32(a, b); }
  static MG_VM_INLINE I andi(I a, I b) { return _mm512_and_si512(a, b); }
  static MG_VM_INLINE I ori(I a, I b) { return _mm512_or_si512(a, b); }
  template <int N> static MG_VM_INLINE I shli(I a) { return _mm512_slli_epi32(a, N); }
  template <int N> static MG_VM_INLINE I srli(I a) { return _mm512_srli_epi32(a, N); }
  template <int N> static MG_VM_INLINE I srai(I a) { return _mm512_srai_epi32(a, N); }
  // Float bitwise ops are AVX-512DQ; the integer forms are in AVX-512F.
  static MG_VM_INLINE F bit_or(F a, F b) { return as_float(_mm512_or_si512(as_int(a), as_int(b))); }
  static MG_VM_INLINE F bit_xor(F a, F b) { return as_float(_mm512_xor_si512(as_int(a), as_int(b))); }
  static MG_VM_INLINE F abs(F x) { return as_float(_mm512_and_si512(as_int(x), seti(0x7fffffff))); }
  static MG_VM_INLINE F signbit(F x) { return as_float(_mm512_and_si512(as_int(x), seti(INT32_MIN))); }
  static MG_VM_INLINE M lt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static MG_VM_INLINE M le(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
  static MG_VM_INLINE M gt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
  static MG_VM_INLINE M ge(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
  static MG_VM_INLINE M eq(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static MG_VM_INLINE M ne(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_NEQ_UQ); }
  static MG_VM_INLINE M isnan(F x) { return _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q); }
  static MG_VM_INLINE F select(M m, F a, F b) { return _mm512_mask_blend_ps(m, b, a); }
  static MG_VM_INLINE bool any(M m) { return m != 0; }
};

}  // namespace

const IsaKernels* avx512_kernels() {
  static const IsaKernels table = make_kernels<Avx512V>();
  return &table;
}

}  // namespace metalgrad::cpu::vecmath

#else

namespace metalgrad::cpu::vecmath {
const IsaKernels* avx512_kernels() { return nullptr; }
}  // namespace metalgrad::cpu::vecmath

#endif
