// Scalar functors named after the ABI ops (ops.h), and the value conversions between register kinds.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "dtype.h"

namespace metalgrad::cpu {

template <class T> constexpr bool is_float_v = std::is_same_v<T, float>;

// Float -> int truncates toward zero and saturates; NaN -> 0. Written so no path is UB.
inline int32_t saturate_i32(double x) {
  if (!(x == x)) return 0;
  if (x >= 2147483648.0) return std::numeric_limits<int32_t>::max();
  if (x <= -2147483649.0) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(x);
}

inline uint32_t saturate_u32(double x) {
  if (!(x > -1.0)) return 0;  // also NaN
  if (x >= 4294967296.0) return std::numeric_limits<uint32_t>::max();
  return static_cast<uint32_t>(x);
}

inline int32_t saturate_i32(float x) {
  if (!(x == x)) return 0;
  if (x >= 2147483648.0f) return std::numeric_limits<int32_t>::max();
  if (x < -2147483648.0f) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(x);
}

inline uint32_t saturate_u32(float x) {
  if (!(x > -1.0f)) return 0;
  if (x >= 4294967296.0f) return std::numeric_limits<uint32_t>::max();
  return static_cast<uint32_t>(x);
}

// Value of kind To from a register value of kind From (bool registers hold 0/1).
template <DType To, DType From>
inline reg_t<To> convert_value(reg_t<From> x) {
  if constexpr (To == From) {
    return x;
  } else if constexpr (To == DType::boolean) {
    return x != 0 ? 1u : 0u;
  } else if constexpr (To == DType::f32) {
    return static_cast<float>(x);
  } else if constexpr (From == DType::f32 && To == DType::i32) {
    return saturate_i32(x);
  } else if constexpr (From == DType::f32 && To == DType::u32) {
    return saturate_u32(x);
  } else {
    return static_cast<reg_t<To>>(x);  // integer <-> integer wraps (two's complement)
  }
}

// A const operand (double) converted to kind K.
template <DType K>
inline reg_t<K> const_value(double x) {
  if constexpr (K == DType::f32) return static_cast<float>(x);
  else if constexpr (K == DType::i32) return saturate_i32(x);
  else if constexpr (K == DType::u32) return saturate_u32(x);
  else return x != 0.0 ? 1u : 0u;
}

// Integer arithmetic wraps, so it is done on uint32_t and cast back.
template <class T> constexpr uint32_t bits(T x) { return static_cast<uint32_t>(x); }

template <class T>
inline T int_pow(T base, T e) {
  if constexpr (std::is_signed_v<T>) {
    if (e < 0) {
      if (base == 1) return 1;
      if (base == -1) return (e & 1) ? -1 : 1;
      return 0;
    }
  }
  uint32_t b = bits(base), r = 1, n = bits(e);
  while (n) {
    if (n & 1) r *= b;
    b *= b;
    n >>= 1;
  }
  return static_cast<T>(r);
}

namespace fn {

struct neg {
  template <class T> T operator()(T x) const {
    if constexpr (is_float_v<T>) return -x;
    else return static_cast<T>(0u - bits(x));
  }
};
struct exp { float operator()(float x) const { return std::exp(x); } };
struct log { float operator()(float x) const { return std::log(x); } };
struct log1p { float operator()(float x) const { return std::log1p(x); } };
struct expm1 { float operator()(float x) const { return std::expm1(x); } };
struct sin { float operator()(float x) const { return std::sin(x); } };
struct cos { float operator()(float x) const { return std::cos(x); } };
struct tanh { float operator()(float x) const { return std::tanh(x); } };
struct sqrt { float operator()(float x) const { return std::sqrt(x); } };
struct erf { float operator()(float x) const { return std::erf(x); } };
struct floor { float operator()(float x) const { return std::floor(x); } };
struct ceil { float operator()(float x) const { return std::ceil(x); } };
struct abs {
  template <class T> T operator()(T x) const {
    if constexpr (is_float_v<T>) return std::fabs(x);
    else if constexpr (std::is_signed_v<T>) return x < 0 ? static_cast<T>(0u - bits(x)) : x;
    else return x;
  }
};
// sign keeps NaN and signed zero for floats.
struct sign {
  template <class T> T operator()(T x) const {
    if constexpr (is_float_v<T>) return x > 0 ? 1.0f : (x < 0 ? -1.0f : x);
    else return static_cast<T>((x > 0) - (x < 0));
  }
};
struct add {
  template <class T> T operator()(T a, T b) const {
    if constexpr (is_float_v<T>) return a + b;
    else return static_cast<T>(bits(a) + bits(b));
  }
};
struct sub {
  template <class T> T operator()(T a, T b) const {
    if constexpr (is_float_v<T>) return a - b;
    else return static_cast<T>(bits(a) - bits(b));
  }
};
struct mul {
  template <class T> T operator()(T a, T b) const {
    if constexpr (is_float_v<T>) return a * b;
    else return static_cast<T>(bits(a) * bits(b));
  }
};
// Integer division never traps: x/0 is all bits set, INT_MIN/-1 wraps to INT_MIN.
struct div {
  template <class T> T operator()(T a, T b) const {
    if constexpr (is_float_v<T>) {
      return a / b;
    } else if constexpr (std::is_signed_v<T>) {
      bool special = b == 0 || (b == -1 && a == std::numeric_limits<T>::min());
      T q = a / (special ? 1 : b);
      return b == 0 ? -1 : (b == -1 ? static_cast<T>(0u - bits(a)) : q);
    } else {
      T q = a / (b == 0 ? 1u : b);
      return b == 0 ? ~0u : q;
    }
  }
};
struct pow {
  template <class T> T operator()(T a, T b) const {
    if constexpr (is_float_v<T>) return std::pow(a, b);
    else return int_pow(a, b);
  }
};
// Float max/min propagate NaN.
struct max {
  template <class T> T operator()(T a, T b) const {
    if constexpr (is_float_v<T>) return a != a ? a : (b != b ? b : (a > b ? a : b));
    else return a > b ? a : b;
  }
};
struct min {
  template <class T> T operator()(T a, T b) const {
    if constexpr (is_float_v<T>) return a != a ? a : (b != b ? b : (a < b ? a : b));
    else return a < b ? a : b;
  }
};
struct lt { template <class T> uint32_t operator()(T a, T b) const { return a < b; } };
struct le { template <class T> uint32_t operator()(T a, T b) const { return a <= b; } };
struct gt { template <class T> uint32_t operator()(T a, T b) const { return a > b; } };
struct ge { template <class T> uint32_t operator()(T a, T b) const { return a >= b; } };
struct eq { template <class T> uint32_t operator()(T a, T b) const { return a == b; } };
struct ne { template <class T> uint32_t operator()(T a, T b) const { return a != b; } };
struct and_ { template <class T> T operator()(T a, T b) const { return a & b; } };
struct or_ { template <class T> T operator()(T a, T b) const { return a | b; } };
// `not` is bitwise on integers and logical on bool registers (which hold 0/1).
struct not_ { template <class T> T operator()(T x) const { return ~x; } };
struct not_bool { uint32_t operator()(uint32_t x) const { return x ^ 1u; } };


// ---- Bitwise ops and erf_inv (random number generation) ----

struct xor_ { template <class T> T operator()(T a, T b) const { return a ^ b; } };
// Shift amounts are read as unsigned; 32 or more shifts every bit out (XLA).
struct shift_left {
  template <class T> T operator()(T a, T b) const {
    return static_cast<T>(bits(b) >= 32u ? 0u : bits(a) << bits(b));
  }
};
struct shift_right_logical {
  template <class T> T operator()(T a, T b) const {
    return static_cast<T>(bits(b) >= 32u ? 0u : bits(a) >> bits(b));
  }
};
// Shifts in copies of the sign bit, on int32 and uint32 alike (no signed shift is evaluated).
struct shift_right_arithmetic {
  template <class T> T operator()(T a, T b) const {
    const uint32_t fill = (bits(a) >> 31) ? ~0u : 0u;
    return static_cast<T>(bits(b) >= 32u ? fill : ((bits(a) ^ fill) >> bits(b)) ^ fill);
  }
};
// Giles' single-precision approximation, as XLA's ErfInv for f32 (so random.normal matches JAX
// closely); erf_inv(+-1) = +-inf, NaN outside [-1, 1].
struct erf_inv {
  float operator()(float x) const {
    static constexpr float kSmall[9] = {2.81022636e-08f, 3.43273939e-07f, -3.5233877e-06f,
                                        -4.39150654e-06f, 0.00021858087f, -0.00125372503f,
                                        -0.00417768164f, 0.246640727f, 1.50140941f};
    static constexpr float kLarge[9] = {-0.000200214257f, 0.000100950558f, 0.00134934322f,
                                        -0.00367342844f, 0.00573950773f, -0.0076224613f,
                                        0.00943887047f, 1.00167406f, 2.83297682f};
    float w = -std::log1p(-x * x);
    const bool small = w < 5.0f;
    const float* c = small ? kSmall : kLarge;
    w = small ? w - 2.5f : std::sqrt(w) - 3.0f;
    float p = c[0];
    for (int i = 1; i < 9; ++i) p = c[i] + p * w;
    return std::fabs(x) == 1.0f ? x * std::numeric_limits<float>::infinity() : p * x;
  }
};

}  // namespace fn
}  // namespace metalgrad::cpu
