// Stable sort of rows with their source positions; NaN sorts after every number (before, when
// descending), as numpy does.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "executors.h"
#include "threadpool.h"

namespace metalgrad::cpu {
namespace {

// The sort key of a value as an unsigned integer in the order the sort uses: floats by value with
// -0 equal to +0 and every NaN after +inf (so -0 and +0 keep their positions, like other ties),
// bool bytes as 0/1.
template <class T>
uint32_t sort_key(T x) {
  if constexpr (std::is_same_v<T, float>) {
    if (x != x) return 0xffffffffu;
    if (x == 0.0f) return 0x80000000u;
    uint32_t b;
    std::memcpy(&b, &x, 4);
    return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
  } else if constexpr (std::is_same_v<T, int32_t>) {
    return static_cast<uint32_t>(x) ^ 0x80000000u;
  } else if constexpr (std::is_same_v<T, uint8_t>) {
    return x != 0;
  } else {
    return x;
  }
}

template <class T>
void sort_typed(const SortStep& st, const BufferDesc* bufs) {
  const T* in = static_cast<const T*>(bufs[st.in.buf].data) + st.in.offset;
  T* out = static_cast<T*>(bufs[st.out.buf].data) + st.out.offset;
  int32_t* idx = static_cast<int32_t*>(bufs[st.idx.buf].data) + st.idx.offset;
  const int64_t n = st.n;
  // Each element as (key << 32 | position): distinct integers whose order is the stable order, so
  // a plain sort of them is a stable sort of the row. Descending flips the key, not the position.
  // Rows are independent, so threads take rows.
  const uint32_t flip = st.descending ? 0xffffffffu : 0u;
  parallel_for(st.rows, st.rows * n * 16, [&](int64_t r) {
    thread_local std::vector<uint64_t> entries;
    entries.resize(static_cast<size_t>(n));
    const T* row = in + r * n;
    for (int64_t j = 0; j < n; ++j) entries[j] = uint64_t{sort_key(row[j]) ^ flip} << 32 | static_cast<uint32_t>(j);
    std::sort(entries.begin(), entries.end());
    for (int64_t j = 0; j < n; ++j) {
      const auto pos = static_cast<int32_t>(entries[j] & 0xffffffffu);
      out[r * n + j] = row[pos];
      idx[r * n + j] = pos;
    }
  });
}

}  // namespace

void run_sort(const SortStep& st, const BufferDesc* bufs) {
  switch (st.dtype) {
    case DType::f32: return sort_typed<float>(st, bufs);
    case DType::i32: return sort_typed<int32_t>(st, bufs);
    case DType::u32: return sort_typed<uint32_t>(st, bufs);
    case DType::boolean: return sort_typed<uint8_t>(st, bufs);
  }
}

}  // namespace metalgrad::cpu
