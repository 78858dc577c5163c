// Dtype codes of the native ABI and the C++ types that hold them in memory and in registers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace metalgrad::cpu {

// ABI dtype codes; a register's "kind" uses the same codes.
enum class DType : int32_t { f32 = 0, i32 = 1, u32 = 2, boolean = 3 };

constexpr int kNumDTypes = 4;

// Bit masks over kinds, used by the op table to say where an op is defined.
constexpr uint32_t kF = 1u << 0;
constexpr uint32_t kI = 1u << 1;
constexpr uint32_t kU = 1u << 2;
constexpr uint32_t kB = 1u << 3;
constexpr uint32_t kFIU = kF | kI | kU;
constexpr uint32_t kIUB = kI | kU | kB;
constexpr uint32_t kIU = kI | kU;
constexpr uint32_t kAll = kF | kI | kU | kB;

constexpr bool is_dtype_code(int32_t code) { return code >= 0 && code < kNumDTypes; }

constexpr uint32_t kind_bit(DType d) { return 1u << static_cast<int32_t>(d); }

constexpr const char* dtype_name(DType d) {
  switch (d) {
    case DType::f32: return "float32";
    case DType::i32: return "int32";
    case DType::u32: return "uint32";
    case DType::boolean: return "bool";
  }
  return "?";
}

// Bytes per element in a buffer (bool is one byte; in registers every kind is 32 bits).
constexpr size_t dtype_size(DType d) { return d == DType::boolean ? 1 : 4; }

// The C++ type a register of kind K holds: bool is a uint32_t that is 0 or 1.
template <DType K> struct RegType;
template <> struct RegType<DType::f32> { using type = float; };
template <> struct RegType<DType::i32> { using type = int32_t; };
template <> struct RegType<DType::u32> { using type = uint32_t; };
template <> struct RegType<DType::boolean> { using type = uint32_t; };
template <DType K> using reg_t = typename RegType<K>::type;

}  // namespace metalgrad::cpu
