// Moving runs of buffer elements into and out of 32-bit register tiles (bool bytes load as 0/1).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>

#include "dtype.h"

namespace metalgrad::cpu {

// Deleter of tile memory allocated with `::operator new(bytes, std::align_val_t(64))`.
struct AlignedFree {
  void operator()(void* p) const { ::operator delete(p, std::align_val_t(64)); }
};

template <class T>
void load_run(T* dst, const T* src, int64_t stride, int64_t n) {
  if (stride == 1) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(T));
  } else if (stride == 0) {
    std::fill(dst, dst + n, *src);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i * stride];
  }
}

// Any nonzero byte loads as 1.
inline void load_bool_run(uint32_t* dst, const uint8_t* src, int64_t stride, int64_t n) {
  if (stride == 1) {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i] != 0;
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i] = src[i * stride] != 0;
  }
}

template <class T>
void store_run(T* dst, const T* src, int64_t stride, int64_t n) {
  if (stride == 1) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(T));
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i * stride] = src[i];
  }
}

inline void store_bool_run(uint8_t* dst, const uint32_t* src, int64_t stride, int64_t n) {
  if (stride == 1) {
    for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(src[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) dst[i * stride] = static_cast<uint8_t>(src[i]);
  }
}

// Loads n elements of `dtype` starting at byte pointer `src` (element stride `stride`) into the
// 32-bit register tile `reg`.
inline void load_any(DType dtype, void* reg, const char* src, int64_t stride, int64_t n) {
  switch (dtype) {
    case DType::f32: return load_run(static_cast<float*>(reg), reinterpret_cast<const float*>(src), stride, n);
    case DType::i32: return load_run(static_cast<int32_t*>(reg), reinterpret_cast<const int32_t*>(src), stride, n);
    case DType::u32: return load_run(static_cast<uint32_t*>(reg), reinterpret_cast<const uint32_t*>(src), stride, n);
    case DType::boolean: return load_bool_run(static_cast<uint32_t*>(reg), reinterpret_cast<const uint8_t*>(src), stride, n);
  }
}

// Stores n register values to `dtype` elements at byte pointer `dst` (element stride `stride`).
inline void store_any(DType dtype, char* dst, const void* reg, int64_t stride, int64_t n) {
  switch (dtype) {
    case DType::f32: return store_run(reinterpret_cast<float*>(dst), static_cast<const float*>(reg), stride, n);
    case DType::i32: return store_run(reinterpret_cast<int32_t*>(dst), static_cast<const int32_t*>(reg), stride, n);
    case DType::u32: return store_run(reinterpret_cast<uint32_t*>(dst), static_cast<const uint32_t*>(reg), stride, n);
    case DType::boolean: return store_bool_run(reinterpret_cast<uint8_t*>(dst), static_cast<const uint32_t*>(reg), stride, n);
  }
}

}  // namespace metalgrad::cpu
