// @file Scalar ops of generated Metal kernels: one `mg_<op>` per ABI op (native/ABI.md), overloaded
// per register kind (float, int, uint, bool), with the exact semantics of the CPU functors
// (native/cpu/scalar.h). Baseline MSL only. Compile with fast math off (MTLCompileOptions.mathMode =
// safe, or fastMathEnabled = NO): fast math may drop NaN/inf semantics and use approximate exp/log.
#ifndef MG_OPS_H
#define MG_OPS_H

#include <metal_stdlib>
using namespace metal;

// NaN test on the bits, so it holds even where the compiler assumes no NaNs.
inline bool mg_isnan(float x) { return (as_type<uint>(x) & 0x7fffffffu) > 0x7f800000u; }

// copy
inline float mg_copy(float x) { return x; }
inline int mg_copy(int x) { return x; }
inline uint mg_copy(uint x) { return x; }
inline bool mg_copy(bool x) { return x; }

// convert: float -> int truncates toward zero and saturates, NaN -> 0; int <-> int wraps; to bool
// is `!= 0` (so NaN -> true).
inline float mg_convert_f32(float x) { return x; }
inline float mg_convert_f32(int x) { return float(x); }
inline float mg_convert_f32(uint x) { return float(x); }
inline float mg_convert_f32(bool x) { return x ? 1.0f : 0.0f; }
inline int mg_convert_i32(float x) {
  if (mg_isnan(x)) return 0;
  if (x >= 2147483648.0f) return 2147483647;
  if (x < -2147483648.0f) return -2147483647 - 1;
  return int(x);
}
inline int mg_convert_i32(int x) { return x; }
inline int mg_convert_i32(uint x) { return int(x); }
inline int mg_convert_i32(bool x) { return x ? 1 : 0; }
inline uint mg_convert_u32(float x) {
  if (!(x > -1.0f)) return 0u;
  if (x >= 4294967296.0f) return 4294967295u;
  return uint(x);
}
inline uint mg_convert_u32(int x) { return uint(x); }
inline uint mg_convert_u32(uint x) { return x; }
inline uint mg_convert_u32(bool x) { return x ? 1u : 0u; }
inline bool mg_convert_bool(float x) { return x != 0.0f; }
inline bool mg_convert_bool(int x) { return x != 0; }
inline bool mg_convert_bool(uint x) { return x != 0u; }
inline bool mg_convert_bool(bool x) { return x; }

// Integer arithmetic wraps: it is done on uint and cast back (signed overflow is never evaluated).
inline float mg_neg(float x) { return -x; }
inline int mg_neg(int x) { return int(0u - uint(x)); }
inline uint mg_neg(uint x) { return 0u - x; }

inline float mg_exp(float x) { return exp(x); }
inline float mg_log(float x) { return log(x); }
// log1p(x) = log(u) * x / (u - 1) with u = 1 + x: the rounding error of u cancels (Goldberg).
inline float mg_log1p(float x) {
  float u = 1.0f + x;
  if (u == 1.0f) return x;
  if (u == INFINITY) return u;
  return log(u) * (x / (u - 1.0f));
}
// expm1(x) = (u - 1) * x / log(u) with u = exp(x): the same cancellation trick (Kahan).
inline float mg_expm1(float x) {
  float u = exp(x);
  if (u == 1.0f) return x;
  float um1 = u - 1.0f;
  if (um1 == -1.0f || u == INFINITY) return um1;
  return um1 * (x / log(u));
}
inline float mg_sin(float x) { return sin(x); }
inline float mg_cos(float x) { return cos(x); }
inline float mg_tanh(float x) { return tanh(x); }
inline float mg_sqrt(float x) { return sqrt(x); }

// erf (Metal has none): x * P(x^2) below 0.921875, 1 - exp(-x^2) * Q(1 / (1 + x/2)) up to 4, then
// +-1. Least-squares fits in relative error; within 2e-7 relative (3 ulp) of the exact erf.
inline float mg_erf(float x) {
  float a = x < 0.0f ? -x : x;
  float r;
  if (a < 0.921875f) {
    float z = x * x;
    float p = -6.024533650e-04f;
    p = p * z + 5.000880454e-03f;
    p = p * z - 2.677294612e-02f;
    p = p * z + 1.128203869e-01f;
    p = p * z - 3.761252463e-01f;
    p = p * z + 1.128379107e+00f;
    return x * p;
  }
  if (a >= 4.0f) {
    r = 1.0f;
  } else {
    float t = 1.0f / (1.0f + 0.5f * a);
    float q = 1.207929477e-02f;
    q = q * t + 7.138036937e-02f;
    q = q * t - 3.886427283e-01f;
    q = q * t + 4.828444123e-01f;
    q = q * t - 5.510926619e-02f;
    q = q * t + 3.292584419e-01f;
    q = q * t + 2.640779614e-01f;
    q = q * t + 2.843239903e-01f;
    q = q * t - 1.199708931e-04f;
    r = 1.0f - exp(-(a * a)) * q;
  }
  return x < 0.0f ? -r : r;  // NaN stays NaN (r is NaN)
}
inline float mg_floor(float x) { return floor(x); }
inline float mg_ceil(float x) { return ceil(x); }

inline float mg_abs(float x) { return fabs(x); }
inline int mg_abs(int x) { return x < 0 ? mg_neg(x) : x; }
inline uint mg_abs(uint x) { return x; }

// sign keeps NaN and signed zero for floats.
inline float mg_sign(float x) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : x); }
inline int mg_sign(int x) { return int(x > 0) - int(x < 0); }
inline uint mg_sign(uint x) { return x > 0u ? 1u : 0u; }

inline float mg_add(float a, float b) { return a + b; }
inline int mg_add(int a, int b) { return int(uint(a) + uint(b)); }
inline uint mg_add(uint a, uint b) { return a + b; }
inline float mg_sub(float a, float b) { return a - b; }
inline int mg_sub(int a, int b) { return int(uint(a) - uint(b)); }
inline uint mg_sub(uint a, uint b) { return a - b; }
inline float mg_mul(float a, float b) { return a * b; }
inline int mg_mul(int a, int b) { return int(uint(a) * uint(b)); }
inline uint mg_mul(uint a, uint b) { return a * b; }

// Integer division never traps: x/0 is all bits set, INT_MIN/-1 wraps to INT_MIN.
inline float mg_div(float a, float b) { return a / b; }
inline int mg_div(int a, int b) {
  if (b == 0) return -1;
  if (b == -1) return mg_neg(a);
  return a / b;
}
inline uint mg_div(uint a, uint b) { return b == 0u ? 4294967295u : a / b; }

// Integer pow by squaring (wrapping); a negative exponent gives 0 unless the base is +-1.
inline uint mg_pow_bits(uint b, uint n) {
  uint r = 1u;
  while (n != 0u) {
    if ((n & 1u) != 0u) r *= b;
    b *= b;
    n >>= 1u;
  }
  return r;
}
inline float mg_pow(float a, float b) { return pow(a, b); }
inline int mg_pow(int a, int b) {
  if (b < 0) return a == 1 ? 1 : (a == -1 ? ((b & 1) != 0 ? -1 : 1) : 0);
  return int(mg_pow_bits(uint(a), uint(b)));
}
inline uint mg_pow(uint a, uint b) { return mg_pow_bits(a, b); }

// Float max/min propagate NaN (the first NaN operand).
inline float mg_max(float a, float b) { return mg_isnan(a) ? a : (mg_isnan(b) ? b : (a > b ? a : b)); }
inline int mg_max(int a, int b) { return a > b ? a : b; }
inline uint mg_max(uint a, uint b) { return a > b ? a : b; }
inline bool mg_max(bool a, bool b) { return a || b; }
inline float mg_min(float a, float b) { return mg_isnan(a) ? a : (mg_isnan(b) ? b : (a < b ? a : b)); }
inline int mg_min(int a, int b) { return a < b ? a : b; }
inline uint mg_min(uint a, uint b) { return a < b ? a : b; }
inline bool mg_min(bool a, bool b) { return a && b; }

// Comparisons: operands of one kind, a bool result (false against NaN, except ne).
#define MG_COMPARE(name, op)                                  \
  inline bool name(float a, float b) { return a op b; }       \
  inline bool name(int a, int b) { return a op b; }           \
  inline bool name(uint a, uint b) { return a op b; }         \
  inline bool name(bool a, bool b) { return int(a) op int(b); }
MG_COMPARE(mg_lt, <)
MG_COMPARE(mg_le, <=)
MG_COMPARE(mg_gt, >)
MG_COMPARE(mg_ge, >=)
MG_COMPARE(mg_eq, ==)
MG_COMPARE(mg_ne, !=)
#undef MG_COMPARE

// and/or are bitwise on integers and logical on bool; not likewise.
inline int mg_and(int a, int b) { return a & b; }
inline uint mg_and(uint a, uint b) { return a & b; }
inline bool mg_and(bool a, bool b) { return a && b; }
inline int mg_or(int a, int b) { return a | b; }
inline uint mg_or(uint a, uint b) { return a | b; }
inline bool mg_or(bool a, bool b) { return a || b; }
inline int mg_not(int x) { return ~x; }
inline uint mg_not(uint x) { return ~x; }
inline bool mg_not(bool x) { return !x; }

inline float mg_select(bool p, float a, float b) { return p ? a : b; }
inline int mg_select(bool p, int a, int b) { return p ? a : b; }
inline uint mg_select(bool p, uint a, uint b) { return p ? a : b; }
inline bool mg_select(bool p, bool a, bool b) { return p ? a : b; }

// ---- Bitwise ops and erf_inv (random number generation) ----

inline int mg_xor(int a, int b) { return a ^ b; }
inline uint mg_xor(uint a, uint b) { return a ^ b; }
inline bool mg_xor(bool a, bool b) { return a != b; }

// Shift amounts are read as unsigned; 32 or more shifts every bit out (XLA): 0 for shift_left and
// shift_right_logical, copies of the sign bit for shift_right_arithmetic (also on uint).
inline uint mg_shl_bits(uint a, uint n) { return n >= 32u ? 0u : a << n; }
inline uint mg_shr_bits(uint a, uint n) { return n >= 32u ? 0u : a >> n; }
inline uint mg_sar_bits(uint a, uint n) {
  uint fill = (a >> 31) != 0u ? 4294967295u : 0u;
  return n >= 32u ? fill : ((a ^ fill) >> n) ^ fill;
}
inline int mg_shift_left(int a, int b) { return int(mg_shl_bits(uint(a), uint(b))); }
inline uint mg_shift_left(uint a, uint b) { return mg_shl_bits(a, b); }
inline int mg_shift_right_logical(int a, int b) { return int(mg_shr_bits(uint(a), uint(b))); }
inline uint mg_shift_right_logical(uint a, uint b) { return mg_shr_bits(a, b); }
inline int mg_shift_right_arithmetic(int a, int b) { return int(mg_sar_bits(uint(a), uint(b))); }
inline uint mg_shift_right_arithmetic(uint a, uint b) { return mg_sar_bits(a, b); }

// bitcast_convert_type: the same 32 bits read as another kind.
template <class T> inline float mg_bitcast_convert_type_f32(T x) { return as_type<float>(x); }
template <class T> inline int mg_bitcast_convert_type_i32(T x) { return as_type<int>(x); }
template <class T> inline uint mg_bitcast_convert_type_u32(T x) { return as_type<uint>(x); }

// erf_inv: Giles' single-precision approximation, as XLA's ErfInv for f32 (so random.normal
// matches JAX closely); erf_inv(+-1) = +-inf, NaN outside [-1, 1].
inline float mg_erf_inv(float x) {
  float w = -mg_log1p(-x * x);
  float p;
  if (w < 5.0f) {
    w = w - 2.5f;
    p = 2.81022636e-08f;
    p = 3.43273939e-07f + p * w;
    p = -3.5233877e-06f + p * w;
    p = -4.39150654e-06f + p * w;
    p = 0.00021858087f + p * w;
    p = -0.00125372503f + p * w;
    p = -0.00417768164f + p * w;
    p = 0.246640727f + p * w;
    p = 1.50140941f + p * w;
  } else {
    w = sqrt(w) - 3.0f;
    p = -0.000200214257f;
    p = 0.000100950558f + p * w;
    p = 0.00134934322f + p * w;
    p = -0.00367342844f + p * w;
    p = 0.00573950773f + p * w;
    p = -0.0076224613f + p * w;
    p = 0.00943887047f + p * w;
    p = 1.00167406f + p * w;
    p = 2.83297682f + p * w;
  }
  return fabs(x) == 1.0f ? x * INFINITY : p * x;
}

#endif  // MG_OPS_H
