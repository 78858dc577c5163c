// Stable sort of rows with their source positions; NaN sorts after every number (before, when
// descending), as numpy does.
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "executors.h"
#include "threadpool.h"

namespace metalgrad::cpu {
namespace {

template <class T>
void sort_typed(const SortStep& st, const BufferDesc* bufs) {
  const T* in = static_cast<const T*>(bufs[st.in.buf].data) + st.in.offset;
  T* out = static_cast<T*>(bufs[st.out.buf].data) + st.out.offset;
  int32_t* idx = static_cast<int32_t*>(bufs[st.idx.buf].data) + st.idx.offset;
  const int64_t n = st.n;
  // Keys as a total order: bool bytes read as 0/1, NaN is the largest float.
  auto key_less = [](T a, T b) {
    if constexpr (std::is_same_v<T, float>) {
      if (b != b) return a == a;
      if (a != a) return false;
      return a < b;
    } else if constexpr (std::is_same_v<T, uint8_t>) {
      return (a != 0) < (b != 0);
    } else {
      return a < b;
    }
  };
  // (key, position) pairs sorted by key, then position: the stable order, without the indirect
  // reads of sorting positions alone. Rows are independent, so threads take rows.
  using Entry = std::pair<T, int32_t>;
  const bool descending = st.descending;
  auto before = [&](const Entry& a, const Entry& b) {
    if (descending ? key_less(b.first, a.first) : key_less(a.first, b.first)) return true;
    if (descending ? key_less(a.first, b.first) : key_less(b.first, a.first)) return false;
    return a.second < b.second;
  };
  const int64_t cost = st.rows * n * 16;
  parallel_for(st.rows, cost, [&](int64_t r) {
    thread_local std::vector<Entry> entries;
    entries.resize(static_cast<size_t>(n));
    const T* row = in + r * n;
    for (int64_t j = 0; j < n; ++j) entries[j] = {row[j], static_cast<int32_t>(j)};
    std::sort(entries.begin(), entries.end(), before);
    for (int64_t j = 0; j < n; ++j) {
      out[r * n + j] = entries[j].first;
      idx[r * n + j] = entries[j].second;
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
