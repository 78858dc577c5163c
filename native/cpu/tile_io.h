// Moving runs of buffer elements into and out of 32-bit register tiles (bool bytes load as 0/1).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>

#include "dtype.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <emmintrin.h>
#define METALGRAD_STREAM_STORES 1
#endif

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

// Copies n contiguous 4-byte values to dst with non-temporal stores where the CPU has them (SSE2,
// baseline on x86-64): for outputs far larger than the caches, whose lines would otherwise be read
// from memory only to be overwritten. Other CPUs copy normally. Call stream_fence() before another
// thread may read dst.
inline void stream_run(void* dst, const void* src, int64_t n) {
#ifdef METALGRAD_STREAM_STORES
  auto* d = static_cast<char*>(dst);
  const auto* s = static_cast<const char*>(src);
  int64_t head = static_cast<int64_t>((16 - (reinterpret_cast<uintptr_t>(d) & 15)) & 15) / 4;
  head = std::min(head, n);
  std::memcpy(d, s, static_cast<size_t>(head) * 4);
  int64_t i = head;
  for (; i + 4 <= n; i += 4) {
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + i * 4), _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i * 4)));
  }
  std::memcpy(d + i * 4, s + i * 4, static_cast<size_t>(n - i) * 4);
#else
  std::memcpy(dst, src, static_cast<size_t>(n) * 4);
#endif
}

inline void stream_fence() {
#ifdef METALGRAD_STREAM_STORES
  _mm_sfence();
#endif
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
