// Inclusive scans (cumulative sum, product, max, min) along the middle axis of [outer, n, inner],
// sequential in float32 (exactly the running result), forwards or in reverse.
#include <cstdint>

#include "executors.h"
#include "scalar.h"

namespace metalgrad::cpu {
namespace {

template <class T>
T step(ReduceOp op, T acc, T x) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    return op == ReduceOp::max ? ((acc != 0) || (x != 0)) : ((acc != 0) && (x != 0));
  } else {
    switch (op) {
      case ReduceOp::sum: return fn::add{}(acc, x);
      case ReduceOp::prod: return fn::mul{}(acc, x);
      case ReduceOp::max: return fn::max{}(acc, x);
      case ReduceOp::min: return fn::min{}(acc, x);
    }
    return x;
  }
}

template <class T>
void scan_typed(const ScanStep& st, const BufferDesc* bufs) {
  const T* in = static_cast<const T*>(bufs[st.in.buf].data) + st.in.offset;
  T* out = static_cast<T*>(bufs[st.out.buf].data) + st.out.offset;
  const int64_t n = st.n, inner = st.inner;
  if (n == 0 || inner == 0) return;
  for (int64_t o = 0; o < st.outer; ++o) {
    const int64_t base = o * n * inner;
    for (int64_t l = 0; l < n; ++l) {
      const int64_t j = st.reverse ? n - 1 - l : l;
      const int64_t prev = st.reverse ? j + 1 : j - 1;
      const T* x = in + base + j * inner;
      T* y = out + base + j * inner;
      if (l == 0) {
        for (int64_t i = 0; i < inner; ++i) y[i] = x[i];
      } else {
        const T* acc = out + base + prev * inner;
        for (int64_t i = 0; i < inner; ++i) y[i] = step(st.op, acc[i], x[i]);
      }
    }
  }
}

}  // namespace

void run_scan(const ScanStep& st, const BufferDesc* bufs) {
  switch (st.dtype) {
    case DType::f32: return scan_typed<float>(st, bufs);
    case DType::i32: return scan_typed<int32_t>(st, bufs);
    case DType::u32: return scan_typed<uint32_t>(st, bufs);
    case DType::boolean: return scan_typed<uint8_t>(st, bufs);
  }
}

}  // namespace metalgrad::cpu
