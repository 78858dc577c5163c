// The float32 math and tile loops of vecmath.h, written once over a traits type V (F: float vector,
// I: int32 vector, M: lane mask) and included once by each per-instruction-set file.
//
// The includer defines MG_VM_INLINE (always_inline plus its target attribute) and MG_VM_TARGET (the
// target attribute alone), and its traits struct, before including this file. Everything here is in
// an anonymous namespace, so each instruction set's copy is private to its file and the linker can
// never pick a copy compiled for a wider instruction set.
//
// Method (no table lookups): Cody-Waite range reduction, then a polynomial fitted for minimax
// relative error (weighted least squares in float64, coefficients rounded to float32), then exact
// reconstruction by exponent arithmetic. Special values are fixed up with selects.

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels.h"
#include "ops.h"
#include "vecmath.h"
#include "vecmath_coeffs.h"

namespace metalgrad::cpu::vecmath {
namespace {

// Horner evaluation c[0] + t*(c[1] + t*(...)).
template <class V, size_t N>
MG_VM_INLINE typename V::F horner(typename V::F t, const float (&c)[N]) {
  typename V::F acc = V::set(c[N - 1]);
  for (size_t i = N - 1; i-- > 0;) acc = V::fma(acc, t, V::set(c[i]));
  return acc;
}

// 2^n for integer-valued n in [-126, 127].
template <class V>
MG_VM_INLINE typename V::F pow2i(typename V::I n) {
  return V::as_float(V::template shli<23>(V::addi(n, V::seti(127))));
}

// p * 2^n for integer-valued n in [-252, 254], rounding once (subnormal results included).
template <class V>
MG_VM_INLINE typename V::F scale2(typename V::F p, typename V::I n) {
  typename V::I half = V::template srai<1>(n);
  return V::mul(V::mul(p, pow2i<V>(half)), pow2i<V>(V::subi(n, half)));
}

// Reduces x = n ln2 + r with |r| <= ln2/2 (about); n integer-valued.
template <class V>
MG_VM_INLINE typename V::F exp_reduce(typename V::F x, typename V::F& n) {
  n = V::rint(V::mul(x, V::set(kLog2e)));
  typename V::F r = V::fma(n, V::set(-kLn2Hi), x);
  return V::fma(n, V::set(-kLn2Lo), r);
}

// exp(r) - 1 for the reduced argument (polynomial of kExpP).
template <class V>
MG_VM_INLINE typename V::F expm1_poly_exp(typename V::F r) {
  return V::fma(V::mul(r, r), horner<V>(r, kExpP), r);
}

// exp(x) for x in [-87, 88] (finite, normal result); NaN propagates.
template <class V>
MG_VM_INLINE typename V::F exp_core(typename V::F x) {
  typename V::F n;
  typename V::F r = exp_reduce<V>(x, n);
  typename V::F p = V::add(expm1_poly_exp<V>(r), V::set(1.0f));
  return V::mul(p, pow2i<V>(V::to_int(n)));
}

template <class V>
MG_VM_INLINE typename V::F vexp(typename V::F x) {
  // exp overflows above 88.72 and underflows to 0 below -103.97; the clamp keeps n in scale2's range.
  typename V::F xc = V::min(V::max(x, V::set(-104.0f)), V::set(89.0f));
  typename V::F n;
  typename V::F r = exp_reduce<V>(xc, n);
  typename V::F p = V::add(expm1_poly_exp<V>(r), V::set(1.0f));
  typename V::F res = scale2<V>(p, V::to_int(n));
  return V::select(V::isnan(x), V::add(x, x), res);
}

template <class V>
MG_VM_INLINE typename V::F vexpm1(typename V::F x) {
  using F = typename V::F;
  F xc = V::min(V::max(x, V::set(-18.0f)), V::set(89.0f));  // expm1 < -18 rounds to -1
  F n;
  F r = exp_reduce<V>(xc, n);
  F q = V::fma(V::mul(r, r), horner<V>(r, kExpm1P), r);  // expm1(r)
  typename V::I ni = V::to_int(n);
  // expm1(x) = 2^n expm1(r) + (2^n - 1); above 18 the -1 is below half an ulp.
  F t = pow2i<V>(V::to_int(V::min(n, V::set(127.0f))));
  F small = V::fma(t, q, V::sub(t, V::set(1.0f)));
  F big = scale2<V>(V::add(q, V::set(1.0f)), ni);
  F res = V::select(V::gt(xc, V::set(18.0f)), big, small);
  // Tiny x (and signed zero): expm1(x) = x.
  res = V::select(V::lt(V::abs(x), V::set(0x1p-25f)), x, res);
  return V::select(V::isnan(x), V::add(x, x), res);
}

// log(u) for positive normal or subnormal finite u; other inputs give garbage (callers fix up).
template <class V>
MG_VM_INLINE typename V::F log_core(typename V::F u) {
  using F = typename V::F;
  // Subnormals are scaled into the normal range first.
  typename V::M sub = V::lt(u, V::set(0x1p-126f));
  F us = V::select(sub, V::mul(u, V::set(0x1p23f)), u);
  typename V::I bits = V::as_int(us);
  F e = V::to_float(V::subi(V::template srli<23>(bits), V::seti(127)));
  e = V::sub(e, V::select(sub, V::set(23.0f), V::set(0.0f)));
  // Mantissa in [1, 2), then in [sqrt(1/2), sqrt(2)) so f = m - 1 is small and exact.
  F m = V::as_float(V::ori(V::andi(bits, V::seti(0x007fffff)), V::seti(0x3f800000)));
  typename V::M high = V::gt(m, V::set(1.41421356f));
  m = V::select(high, V::mul(m, V::set(0.5f)), m);
  e = V::add(e, V::select(high, V::set(1.0f), V::set(0.0f)));
  F f = V::sub(m, V::set(1.0f));
  F y = V::fma(V::mul(f, f), horner<V>(f, kLogQ), f);
  return V::fma(e, V::set(kLn2Hi), V::fma(e, V::set(kLn2Lo), y));
}

template <class V>
MG_VM_INLINE typename V::F vlog(typename V::F x) {
  typename V::F res = log_core<V>(x);
  res = V::select(V::lt(x, V::set(0.0f)), V::set(__builtin_nanf("")), res);
  res = V::select(V::eq(x, V::set(0.0f)), V::set(-kInf), res);
  res = V::select(V::eq(x, V::set(kInf)), x, res);
  return V::select(V::isnan(x), V::add(x, x), res);
}

template <class V>
MG_VM_INLINE typename V::F vlog1p(typename V::F x) {
  using F = typename V::F;
  const F one = V::set(1.0f);
  F u = V::add(one, x);
  // c = (1 + x) - u exactly (Fast2Sum, larger operand first); log1p(x) = log(u) + c/u.
  F c = V::select(V::lt(V::abs(x), one), V::add(V::sub(one, u), x), V::add(V::sub(x, u), one));
  F res = V::add(log_core<V>(u), V::div(c, u));
  res = V::select(V::lt(V::abs(x), V::set(0x1p-24f)), x, res);  // also keeps -0
  res = V::select(V::lt(x, V::set(-1.0f)), V::set(__builtin_nanf("")), res);
  res = V::select(V::eq(x, V::set(-1.0f)), V::set(-kInf), res);
  res = V::select(V::eq(x, V::set(kInf)), x, res);
  return V::select(V::isnan(x), V::add(x, x), res);
}

template <class V>
MG_VM_INLINE typename V::F vtanh(typename V::F x) {
  using F = typename V::F;
  // tanh(a) = e/(e + 2) with e = expm1(2a), accurate near 0 too; it rounds to 1 above 9.01, and min
  // keeps a NaN (second operand).
  F a = V::min(V::set(9.1f), V::abs(x));
  F n;
  F r = exp_reduce<V>(V::add(a, a), n);
  F q = V::fma(V::mul(r, r), horner<V>(r, kExpm1P), r);
  F t = pow2i<V>(V::to_int(n));
  F e = V::fma(t, q, V::sub(t, V::set(1.0f)));
  return V::bit_or(V::div(e, V::add(e, V::set(2.0f))), V::signbit(x));
}

// sin(x) (kCos false) or cos(x): x = j pi/2 + r, then the quadrant j picks +-sin(r) or +-cos(r).
template <class V, bool kCos>
MG_VM_INLINE typename V::F vsincos(typename V::F x) {
  using F = typename V::F;
  using I = typename V::I;
  F a = V::abs(x);
  typename V::M slow = V::gt(a, V::set(kTrigFastMax));  // also +-inf
  F jf = V::rint(V::mul(V::min(a, V::set(kTrigFastMax)), V::set(kTwoOverPi)));
  F r = V::fma(jf, V::set(-kPio2[0]), a);
  r = V::fma(jf, V::set(-kPio2[1]), r);
  r = V::fma(jf, V::set(-kPio2[2]), r);
  r = V::fma(jf, V::set(-kPio2[3]), r);
  I j = V::to_int(jf);
  if constexpr (kCos) j = V::addi(j, V::seti(1));  // cos(a) = sin(a + pi/2)
  F s2 = V::mul(r, r);
  F sin_r = V::fma(V::mul(r, s2), horner<V>(s2, kSinS), r);
  F cos_r = V::fma(s2, V::fma(s2, horner<V>(s2, kCosC), V::set(-0.5f)), V::set(1.0f));
  typename V::M odd = V::ne(V::to_float(V::andi(j, V::seti(1))), V::set(0.0f));
  F res = V::select(odd, cos_r, sin_r);
  res = V::bit_xor(res, V::as_float(V::template shli<30>(V::andi(j, V::seti(2)))));
  if constexpr (!kCos) res = V::bit_xor(res, V::signbit(x));
  if (V::any(slow)) {
    // Large arguments need a reduction with more bits of pi: libm's double sin/cos, rounded.
    alignas(64) float xs[V::kLanes], rs[V::kLanes];
    V::store(xs, x);
    V::store(rs, res);
    F sl = V::select(slow, V::set(1.0f), V::set(0.0f));
    alignas(64) float flags[V::kLanes];
    V::store(flags, sl);
    for (int i = 0; i < V::kLanes; ++i) {
      if (flags[i] != 0.0f) {
        double d = xs[i];
        rs[i] = static_cast<float>(kCos ? std::cos(d) : std::sin(d));
      }
    }
    res = V::load(rs);
  }
  return res;
}

template <class V>
MG_VM_INLINE typename V::F verf(typename V::F x) {
  using F = typename V::F;
  F a = V::abs(x);
  F small = V::fma(a, horner<V>(V::mul(a, a), kErfQ), a);
  // erf(a) = 1 - exp(L(a)) with L = log(erfc); erf rounds to 1 above 3.9205.
  F l = horner<V>(V::sub(V::min(a, V::set(3.93f)), V::set(kErfcCenter)), kErfcL);
  F large = V::sub(V::set(1.0f), exp_core<V>(l));
  F res = V::select(V::lt(a, V::set(kErfSplit)), small, large);
  res = V::select(V::ge(a, V::set(3.93f)), V::set(1.0f), res);
  res = V::bit_or(res, V::signbit(x));
  return V::select(V::isnan(x), V::add(x, x), res);
}

// ---- exact ops: the same IEEE results as kernels.cc's portable loops ----

template <class V>
MG_VM_INLINE typename V::F vmax(typename V::F a, typename V::F b) {
  // The portable rule: a NaN a wins, then a NaN b, else a > b ? a : b.
  return V::select(V::isnan(a), a, V::max(a, b));
}

template <class V>
MG_VM_INLINE typename V::F vmin(typename V::F a, typename V::F b) {
  return V::select(V::isnan(a), a, V::min(a, b));
}

template <class V>
MG_VM_INLINE typename V::F vsign(typename V::F x) {
  typename V::F res = V::select(V::lt(x, V::set(0.0f)), V::set(-1.0f), x);
  return V::select(V::gt(x, V::set(0.0f)), V::set(1.0f), res);
}

// ---- tile loops ----

// Unary op functors: run<V>(x).
#define MG_VM_UNARY(name, expr)                                     \
  struct name {                                                     \
    template <class V>                                              \
    static MG_VM_INLINE typename V::F run(typename V::F x) { return expr; } \
  };
MG_VM_UNARY(ExpOp, vexp<V>(x))
MG_VM_UNARY(Expm1Op, vexpm1<V>(x))
MG_VM_UNARY(LogOp, vlog<V>(x))
MG_VM_UNARY(Log1pOp, vlog1p<V>(x))
MG_VM_UNARY(TanhOp, vtanh<V>(x))
MG_VM_UNARY(SinOp, (vsincos<V, false>(x)))
MG_VM_UNARY(CosOp, (vsincos<V, true>(x)))
MG_VM_UNARY(ErfOp, verf<V>(x))
MG_VM_UNARY(SqrtOp, V::sqrt(x))
MG_VM_UNARY(NegOp, V::bit_xor(x, V::set(-0.0f)))
MG_VM_UNARY(AbsOp, V::abs(x))
MG_VM_UNARY(SignOp, vsign<V>(x))
// libm's floorf/ceilf return a signaling NaN unchanged, where the rounding instructions quiet it.
MG_VM_UNARY(FloorOp, V::select(V::isnan(x), x, V::floor(x)))
MG_VM_UNARY(CeilOp, V::select(V::isnan(x), x, V::ceil(x)))
#undef MG_VM_UNARY

#define MG_VM_BINARY(name, expr)                                                      \
  struct name {                                                                       \
    template <class V>                                                                \
    static MG_VM_INLINE typename V::F run(typename V::F a, typename V::F b) { return expr; } \
  };
MG_VM_BINARY(AddOp, V::add(a, b))
MG_VM_BINARY(SubOp, V::sub(a, b))
MG_VM_BINARY(MulOp, V::mul(a, b))
MG_VM_BINARY(DivOp, V::div(a, b))
MG_VM_BINARY(MaxOp, vmax<V>(a, b))
MG_VM_BINARY(MinOp, vmin<V>(a, b))
// Comparisons give bool registers: uint32 0 or 1, stored through the float lanes' bits.
MG_VM_BINARY(LtOp, V::select(V::lt(a, b), V::as_float(V::seti(1)), V::set(0.0f)))
MG_VM_BINARY(LeOp, V::select(V::le(a, b), V::as_float(V::seti(1)), V::set(0.0f)))
MG_VM_BINARY(GtOp, V::select(V::gt(a, b), V::as_float(V::seti(1)), V::set(0.0f)))
MG_VM_BINARY(GeOp, V::select(V::ge(a, b), V::as_float(V::seti(1)), V::set(0.0f)))
MG_VM_BINARY(EqOp, V::select(V::eq(a, b), V::as_float(V::seti(1)), V::set(0.0f)))
MG_VM_BINARY(NeOp, V::select(V::ne(a, b), V::as_float(V::seti(1)), V::set(0.0f)))
#undef MG_VM_BINARY

// Whole vectors, then the tail through a zero-padded lane buffer.
template <class V, class Op>
MG_VM_TARGET void unary_kernel(const BoundInstr& in, int64_t n) {
  auto* d = static_cast<float*>(in.dst);
  const auto* a = static_cast<const float*>(in.a);
  int64_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) V::store(d + i, Op::template run<V>(V::load(a + i)));
  if (i < n) {
    alignas(64) float ta[V::kLanes] = {}, td[V::kLanes];
    const size_t rest = static_cast<size_t>(n - i) * sizeof(float);
    std::memcpy(ta, a + i, rest);
    V::store(td, Op::template run<V>(V::load(ta)));
    std::memcpy(d + i, td, rest);
  }
}

template <class V, class Op>
MG_VM_TARGET void binary_kernel(const BoundInstr& in, int64_t n) {
  auto* d = static_cast<float*>(in.dst);
  const auto* a = static_cast<const float*>(in.a);
  const auto* b = static_cast<const float*>(in.b);
  int64_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) {
    V::store(d + i, Op::template run<V>(V::load(a + i), V::load(b + i)));
  }
  if (i < n) {
    alignas(64) float ta[V::kLanes] = {}, tb[V::kLanes] = {}, td[V::kLanes];
    const size_t rest = static_cast<size_t>(n - i) * sizeof(float);
    std::memcpy(ta, a + i, rest);
    std::memcpy(tb, b + i, rest);
    V::store(td, Op::template run<V>(V::load(ta), V::load(tb)));
    std::memcpy(d + i, td, rest);
  }
}

template <class V, class Op, bool kScalarA>
MG_VM_INLINE typename V::F run_with_const(typename V::F x, typename V::F c) {
  if constexpr (kScalarA) return Op::template run<V>(c, x);
  else return Op::template run<V>(x, c);
}

// One operand is a constant (bits in in.imm) instead of a register: a is when kScalarA, else b.
template <class V, class Op, bool kScalarA>
MG_VM_TARGET void binary_scalar_kernel(const BoundInstr& in, int64_t n) {
  auto* d = static_cast<float*>(in.dst);
  const auto* v = static_cast<const float*>(kScalarA ? in.b : in.a);
  float c;
  std::memcpy(&c, &in.imm, 4);
  const typename V::F cv = V::set(c);
  int64_t i = 0;
  for (; i + V::kLanes <= n; i += V::kLanes) V::store(d + i, run_with_const<V, Op, kScalarA>(V::load(v + i), cv));
  if (i < n) {
    alignas(64) float tv[V::kLanes] = {}, td[V::kLanes];
    const size_t rest = static_cast<size_t>(n - i) * sizeof(float);
    std::memcpy(tv, v + i, rest);
    V::store(td, run_with_const<V, Op, kScalarA>(V::load(tv), cv));
    std::memcpy(d + i, td, rest);
  }
}

template <class V, class Op>
void put_binary(IsaKernels& t, ScalarOp op) {
  const int i = static_cast<int>(op);
  t.f32[i] = &binary_kernel<V, Op>;
  t.f32_scalar_a[i] = &binary_scalar_kernel<V, Op, true>;
  t.f32_scalar_b[i] = &binary_scalar_kernel<V, Op, false>;
}

// The f32 kernel table of one instruction set; ops without a vector kernel stay nullptr.
template <class V>
IsaKernels make_kernels() {
  IsaKernels t{};
  auto put = [&t](ScalarOp op, InstrKernel k) { t.f32[static_cast<int>(op)] = k; };
  put(ScalarOp::exp, &unary_kernel<V, ExpOp>);
  put(ScalarOp::expm1, &unary_kernel<V, Expm1Op>);
  put(ScalarOp::log, &unary_kernel<V, LogOp>);
  put(ScalarOp::log1p, &unary_kernel<V, Log1pOp>);
  put(ScalarOp::tanh, &unary_kernel<V, TanhOp>);
  put(ScalarOp::sin, &unary_kernel<V, SinOp>);
  put(ScalarOp::cos, &unary_kernel<V, CosOp>);
  put(ScalarOp::erf, &unary_kernel<V, ErfOp>);
  put(ScalarOp::sqrt, &unary_kernel<V, SqrtOp>);
  put(ScalarOp::neg, &unary_kernel<V, NegOp>);
  put(ScalarOp::abs, &unary_kernel<V, AbsOp>);
  put(ScalarOp::sign, &unary_kernel<V, SignOp>);
  if constexpr (V::kHasRound) {
    put(ScalarOp::floor, &unary_kernel<V, FloorOp>);
    put(ScalarOp::ceil, &unary_kernel<V, CeilOp>);
  }
  put_binary<V, AddOp>(t, ScalarOp::add);
  put_binary<V, SubOp>(t, ScalarOp::sub);
  put_binary<V, MulOp>(t, ScalarOp::mul);
  put_binary<V, DivOp>(t, ScalarOp::div);
  put_binary<V, MaxOp>(t, ScalarOp::max);
  put_binary<V, MinOp>(t, ScalarOp::min);
  put_binary<V, LtOp>(t, ScalarOp::lt);
  put_binary<V, LeOp>(t, ScalarOp::le);
  put_binary<V, GtOp>(t, ScalarOp::gt);
  put_binary<V, GeOp>(t, ScalarOp::ge);
  put_binary<V, EqOp>(t, ScalarOp::eq);
  put_binary<V, NeOp>(t, ScalarOp::ne);
  return t;
}

}  // namespace
}  // namespace metalgrad::cpu::vecmath
