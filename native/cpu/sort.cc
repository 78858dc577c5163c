// Stable sort of rows with their source positions; NaN sorts after every number (before, when
// descending), as numpy does.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "executors.h"

namespace metalgrad::cpu {
namespace {

template <class T>
void sort_typed(const SortStep& st, const BufferDesc* bufs) {
  const T* in = static_cast<const T*>(bufs[st.in.buf].data) + st.in.offset;
  T* out = static_cast<T*>(bufs[st.out.buf].data) + st.out.offset;
  int32_t* idx = static_cast<int32_t*>(bufs[st.idx.buf].data) + st.idx.offset;
  const int64_t n = st.n;
  std::vector<int32_t> perm(static_cast<size_t>(n));
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
  for (int64_t r = 0; r < st.rows; ++r) {
    const T* row = in + r * n;
    std::iota(perm.begin(), perm.end(), 0);
    if (st.descending) {
      std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) { return key_less(row[b], row[a]); });
    } else {
      std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) { return key_less(row[a], row[b]); });
    }
    for (int64_t j = 0; j < n; ++j) {
      out[r * n + j] = row[perm[j]];
      idx[r * n + j] = perm[j];
    }
  }
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
