// The portable instruction set of vecmath.h: one lane of plain C++ (what arm64 runs; the compiler
// may vectorise the loops).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#define MG_VM_INLINE inline __attribute__((always_inline))
#define MG_VM_TARGET
#include "vecmath_impl.h"

namespace metalgrad::cpu::vecmath {
namespace {

struct GenericV {
  using F = float;
  using I = int32_t;
  using M = bool;
  static constexpr int kLanes = 1;
  static constexpr bool kHasRound = true;

  static MG_VM_INLINE F set(float v) { return v; }
  static MG_VM_INLINE I seti(int32_t v) { return v; }
  static MG_VM_INLINE F load(const float* p) { return *p; }
  static MG_VM_INLINE void store(float* p, F v) { std::memcpy(p, &v, 4); }
  static MG_VM_INLINE F add(F a, F b) { return a + b; }
  static MG_VM_INLINE F sub(F a, F b) { return a - b; }
  static MG_VM_INLINE F mul(F a, F b) { return a * b; }
  static MG_VM_INLINE F div(F a, F b) { return a / b; }
  static MG_VM_INLINE F fma(F a, F b, F c) { return a * b + c; }
  static MG_VM_INLINE F sqrt(F x) { return std::sqrt(x); }
  static MG_VM_INLINE F floor(F x) { return std::floor(x); }
  static MG_VM_INLINE F ceil(F x) { return std::ceil(x); }
  // Round to nearest even for |x| < 2^22 (what the callers pass): adding 1.5 * 2^23 leaves no
  // fraction bits. Inline everywhere, where std::rint may be a library call.
  static MG_VM_INLINE F rint(F x) {
    return (x + 12582912.0f) - 12582912.0f;
  }
  // x86 semantics: the second operand when unordered.
  static MG_VM_INLINE F min(F a, F b) { return a < b ? a : b; }
  static MG_VM_INLINE F max(F a, F b) { return a > b ? a : b; }
  // Integral x to int32; NaN and out of range give INT32_MIN, like cvtps2dq.
  static MG_VM_INLINE I to_int(F x) {
    return std::fabs(x) < 2147483648.0f ? static_cast<int32_t>(x) : std::numeric_limits<int32_t>::min();
  }
  static MG_VM_INLINE F to_float(I i) { return static_cast<float>(i); }
  static MG_VM_INLINE I as_int(F x) { I i; std::memcpy(&i, &x, 4); return i; }
  static MG_VM_INLINE F as_float(I i) { F x; std::memcpy(&x, &i, 4); return x; }
  static MG_VM_INLINE uint32_t u(I i) { return static_cast<uint32_t>(i); }
  static MG_VM_INLINE I addi(I a, I b) { return static_cast<I>(u(a) + u(b)); }
  static MG_VM_INLINE I subi(I a, I b) { return static_cast<I>(u(a) - u(b)); }
  static MG_VM_INLINE I andi(I a, I b) { return a & b; }
  static MG_VM_INLINE I ori(I a, I b) { return a | b; }
  template <int N> static MG_VM_INLINE I shli(I a) { return static_cast<I>(u(a) << N); }
  template <int N> static MG_VM_INLINE I srli(I a) { return static_cast<I>(u(a) >> N); }
  template <int N> static MG_VM_INLINE I srai(I a) { return a >> N; }
  static MG_VM_INLINE F bit_or(F a, F b) { return as_float(as_int(a) | as_int(b)); }
  static MG_VM_INLINE F bit_xor(F a, F b) { return as_float(as_int(a) ^ as_int(b)); }
  static MG_VM_INLINE F abs(F x) { return as_float(as_int(x) & 0x7fffffff); }
  static MG_VM_INLINE F signbit(F x) { return as_float(static_cast<I>(u(as_int(x)) & 0x80000000u)); }
  static MG_VM_INLINE M lt(F a, F b) { return a < b; }
  static MG_VM_INLINE M le(F a, F b) { return a <= b; }
  static MG_VM_INLINE M gt(F a, F b) { return a > b; }
  static MG_VM_INLINE M ge(F a, F b) { return a >= b; }
  static MG_VM_INLINE M eq(F a, F b) { return a == b; }
  static MG_VM_INLINE M ne(F a, F b) { return a != b; }
  static MG_VM_INLINE M isnan(F x) { return x != x; }
  static MG_VM_INLINE F select(M m, F a, F b) { return m ? a : b; }
  static MG_VM_INLINE bool any(M m) { return m; }
};

}  // namespace

const IsaKernels* generic_kernels() {
  static const IsaKernels table = make_kernels<GenericV>();
  return &table;
}

}  // namespace metalgrad::cpu::vecmath
