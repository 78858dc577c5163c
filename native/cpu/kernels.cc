// Instantiates the tile loops of every (op, kind) pair the ABI defines.
#include "kernels.h"

#include <cstring>

#include "scalar.h"
#include "vecmath.h"

namespace metalgrad::cpu {
namespace {

template <class F, class T>
void unary_loop(const BoundInstr& in, int64_t n) {
  auto* d = static_cast<T*>(in.dst);
  const auto* a = static_cast<const T*>(in.a);
  F f;
  for (int64_t i = 0; i < n; ++i) d[i] = f(a[i]);
}

// Binary ops and comparisons; the result type (T, or uint32_t for comparisons) comes from F.
template <class F, class T>
void binary_loop(const BoundInstr& in, int64_t n) {
  using R = decltype(F{}(T{}, T{}));
  auto* d = static_cast<R*>(in.dst);
  const auto* a = static_cast<const T*>(in.a);
  const auto* b = static_cast<const T*>(in.b);
  F f;
  for (int64_t i = 0; i < n; ++i) d[i] = f(a[i], b[i]);
}

template <DType To, DType From>
void convert_loop(const BoundInstr& in, int64_t n) {
  auto* d = static_cast<reg_t<To>*>(in.dst);
  const auto* a = static_cast<const reg_t<From>*>(in.a);
  for (int64_t i = 0; i < n; ++i) d[i] = convert_value<To, From>(a[i]);
}

// Every kind is 32 bits in a register, so copy, const and select move bits.
void copy_loop(const BoundInstr& in, int64_t n) {
  std::memmove(in.dst, in.a, static_cast<size_t>(n) * 4);
}

void const_loop(const BoundInstr& in, int64_t n) {
  auto* d = static_cast<uint32_t*>(in.dst);
  for (int64_t i = 0; i < n; ++i) d[i] = in.imm;
}

void select_loop(const BoundInstr& in, int64_t n) {
  auto* d = static_cast<uint32_t*>(in.dst);
  const auto* a = static_cast<const uint32_t*>(in.a);
  const auto* b = static_cast<const uint32_t*>(in.b);
  const auto* c = static_cast<const uint32_t*>(in.c);
  // Branch-free, so the compiler vectorises it (a ?: reading b or c only on one side does not).
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t take_b = 0u - static_cast<uint32_t>(a[i] != 0);
    d[i] = (b[i] & take_b) | (c[i] & ~take_b);
  }
}

template <class F>
InstrKernel float_only(DType k) {
  return k == DType::f32 ? &unary_loop<F, float> : nullptr;
}

// Unary op on f32, i32 and u32.
template <class F>
InstrKernel unary_numeric(DType k) {
  switch (k) {
    case DType::f32: return &unary_loop<F, float>;
    case DType::i32: return &unary_loop<F, int32_t>;
    case DType::u32: return &unary_loop<F, uint32_t>;
    case DType::boolean: return nullptr;
  }
  return nullptr;
}

// Binary op on f32, i32, u32, and (when `on_bool`) bool registers as 0/1 uint32.
template <class F, bool on_bool>
InstrKernel binary_for(DType k) {
  switch (k) {
    case DType::f32: return &binary_loop<F, float>;
    case DType::i32: return &binary_loop<F, int32_t>;
    case DType::u32: return &binary_loop<F, uint32_t>;
    case DType::boolean: return on_bool ? &binary_loop<F, uint32_t> : nullptr;
  }
  return nullptr;
}

// Bitwise op on i32, u32 and bool: the same bits either way.
template <class F>
InstrKernel bitwise(DType k) {
  return k == DType::f32 ? nullptr : &binary_loop<F, uint32_t>;
}

template <DType To>
InstrKernel convert_from(DType from) {
  switch (from) {
    case DType::f32: return &convert_loop<To, DType::f32>;
    case DType::i32: return &convert_loop<To, DType::i32>;
    case DType::u32: return &convert_loop<To, DType::u32>;
    case DType::boolean: return &convert_loop<To, DType::boolean>;
  }
  return nullptr;
}

InstrKernel convert_kernel(DType to, DType from) {
  switch (to) {
    case DType::f32: return convert_from<DType::f32>(from);
    case DType::i32: return convert_from<DType::i32>(from);
    case DType::u32: return convert_from<DType::u32>(from);
    case DType::boolean: return convert_from<DType::boolean>(from);
  }
  return nullptr;
}

}  // namespace

InstrKernel instr_kernel(ScalarOp op, DType kind, DType src) {
  if (!(op_info(op).kinds & kind_bit(kind))) return nullptr;
  // f32 ops with a vector kernel for this CPU's instruction set use it.
  if (kind == DType::f32 && op != ScalarOp::convert) {
    if (InstrKernel k = vecmath::f32_kernel(vecmath::active_isa(), op)) return k;
  }
  switch (op) {
    case ScalarOp::copy: return &copy_loop;
    case ScalarOp::const_: return &const_loop;
    case ScalarOp::convert: return convert_kernel(kind, src);
    case ScalarOp::neg: return unary_numeric<fn::neg>(kind);
    case ScalarOp::exp: return float_only<fn::exp>(kind);
    case ScalarOp::log: return float_only<fn::log>(kind);
    case ScalarOp::log1p: return float_only<fn::log1p>(kind);
    case ScalarOp::expm1: return float_only<fn::expm1>(kind);
    case ScalarOp::sin: return float_only<fn::sin>(kind);
    case ScalarOp::cos: return float_only<fn::cos>(kind);
    case ScalarOp::tanh: return float_only<fn::tanh>(kind);
    case ScalarOp::sqrt: return float_only<fn::sqrt>(kind);
    case ScalarOp::abs: return unary_numeric<fn::abs>(kind);
    case ScalarOp::sign: return unary_numeric<fn::sign>(kind);
    case ScalarOp::erf: return float_only<fn::erf>(kind);
    case ScalarOp::floor: return float_only<fn::floor>(kind);
    case ScalarOp::ceil: return float_only<fn::ceil>(kind);
    case ScalarOp::add: return binary_for<fn::add, false>(kind);
    case ScalarOp::sub: return binary_for<fn::sub, false>(kind);
    case ScalarOp::mul: return binary_for<fn::mul, false>(kind);
    case ScalarOp::div: return binary_for<fn::div, false>(kind);
    case ScalarOp::pow: return binary_for<fn::pow, false>(kind);
    case ScalarOp::max: return binary_for<fn::max, true>(kind);
    case ScalarOp::min: return binary_for<fn::min, true>(kind);
    case ScalarOp::lt: return binary_for<fn::lt, true>(kind);
    case ScalarOp::le: return binary_for<fn::le, true>(kind);
    case ScalarOp::gt: return binary_for<fn::gt, true>(kind);
    case ScalarOp::ge: return binary_for<fn::ge, true>(kind);
    case ScalarOp::eq: return binary_for<fn::eq, true>(kind);
    case ScalarOp::ne: return binary_for<fn::ne, true>(kind);
    case ScalarOp::and_: return bitwise<fn::and_>(kind);
    case ScalarOp::or_: return bitwise<fn::or_>(kind);
    case ScalarOp::not_:
      if (kind == DType::boolean) return &unary_loop<fn::not_bool, uint32_t>;
      return kind == DType::f32 ? nullptr : &unary_loop<fn::not_, uint32_t>;
    case ScalarOp::select: return &select_loop;
    // Bitwise ops and erf_inv (random number generation).
    case ScalarOp::erf_inv: return float_only<fn::erf_inv>(kind);
    case ScalarOp::xor_: return bitwise<fn::xor_>(kind);
    case ScalarOp::shift_left: return bitwise<fn::shift_left>(kind);
    case ScalarOp::shift_right_logical: return bitwise<fn::shift_right_logical>(kind);
    case ScalarOp::shift_right_arithmetic: return bitwise<fn::shift_right_arithmetic>(kind);
    case ScalarOp::bitcast_convert_type: return op_info(op).kinds & kind_bit(src) ? &copy_loop : nullptr;
  }
  return nullptr;
}

InstrKernel const_operand_kernel(ScalarOp op, DType kind, int operand) {
  if (kind != DType::f32 || !(op_info(op).kinds & kind_bit(kind))) return nullptr;
  return vecmath::f32_kernel_const_operand(vecmath::active_isa(), op, operand);
}

uint32_t const_bits(DType kind, double x) {
  switch (kind) {
    case DType::f32: {
      float f = const_value<DType::f32>(x);
      uint32_t out;
      std::memcpy(&out, &f, 4);
      return out;
    }
    case DType::i32: return static_cast<uint32_t>(const_value<DType::i32>(x));
    case DType::u32: return const_value<DType::u32>(x);
    case DType::boolean: return const_value<DType::boolean>(x);
  }
  return 0;
}

}  // namespace metalgrad::cpu
