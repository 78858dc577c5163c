// Inclusive scans (cumulative sum, product, max, min) along the middle axis of [outer, n, inner],
// sequential in float32 (exactly the running result), forwards or in reverse. Threads split rows or
// column ranges; row-wise scans run four rows side by side.
#include <algorithm>
#include <cstdint>

#include "executors.h"
#include "scalar.h"
#include "threadpool.h"

namespace metalgrad::cpu {
namespace {

template <ReduceOp Op, class T>
T step(T acc, T x) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    return Op == ReduceOp::max ? ((acc != 0) || (x != 0)) : ((acc != 0) && (x != 0));
  } else if constexpr (Op == ReduceOp::sum) {
    return fn::add{}(acc, x);
  } else if constexpr (Op == ReduceOp::prod) {
    return fn::mul{}(acc, x);
  } else if constexpr (Op == ReduceOp::max) {
    return fn::max{}(acc, x);
  } else {
    return fn::min{}(acc, x);
  }
}

// Rows of a row-wise scan (inner = 1) run side by side, so the adds of one row do not wait on
// each other's latency.
constexpr int kGroup = 4;

// Scans rows [r0, r1) of a scan with inner = 1.
template <ReduceOp Op, class T>
void scan_rows(const ScanStep& st, const T* in, T* out, int64_t r0, int64_t r1) {
  const int64_t n = st.n, dir = st.reverse ? -1 : 1, first = st.reverse ? n - 1 : 0;
  int64_t r = r0;
  for (; r + kGroup <= r1; r += kGroup) {
    const T* x[kGroup];
    T* y[kGroup];
    T acc[kGroup];
    for (int k = 0; k < kGroup; ++k) {
      x[k] = in + (r + k) * n + first;
      y[k] = out + (r + k) * n + first;
      *y[k] = acc[k] = *x[k];
    }
    for (int64_t j = 1; j < n; ++j) {
#pragma GCC unroll 4
      for (int k = 0; k < kGroup; ++k) {
        x[k] += dir;
        y[k] += dir;
        *y[k] = acc[k] = step<Op>(acc[k], *x[k]);
      }
    }
  }
  for (; r < r1; ++r) {
    const T* x = in + r * n + first;
    T* y = out + r * n + first;
    T acc = *y = *x;
    for (int64_t j = 1; j < n; ++j) {
      x += dir;
      y += dir;
      *y = acc = step<Op>(acc, *x);
    }
  }
}

// Scans columns [i0, i1) of outer block o (inner > 1): row by row, each a vectorisable loop.
template <ReduceOp Op, class T>
void scan_columns(const ScanStep& st, const T* in, T* out, int64_t o, int64_t i0, int64_t i1) {
  const int64_t n = st.n, inner = st.inner;
  const int64_t base = o * n * inner;
  for (int64_t l = 0; l < n; ++l) {
    const int64_t j = st.reverse ? n - 1 - l : l;
    const T* x = in + base + j * inner;
    T* y = out + base + j * inner;
    if (l == 0) {
      for (int64_t i = i0; i < i1; ++i) y[i] = x[i];
    } else {
      const T* acc = out + base + (st.reverse ? j + 1 : j - 1) * inner;
      for (int64_t i = i0; i < i1; ++i) y[i] = step<Op>(acc[i], x[i]);
    }
  }
}

// Threads split the rows, or (outer block, column range) pieces; every element's running value is
// computed in the same order whatever the split, so the thread count never changes a result.
template <ReduceOp Op, class T>
void scan_typed(const ScanStep& st, const BufferDesc* bufs) {
  const T* in = static_cast<const T*>(bufs[st.in.buf].data) + st.in.offset;
  T* out = static_cast<T*>(bufs[st.out.buf].data) + st.out.offset;
  if (st.n == 0 || st.inner == 0 || st.outer == 0) return;
  const int64_t cost = st.outer * st.n * st.inner, tasks = 4 * num_threads();
  if (st.inner == 1) {
    const int64_t per = std::max<int64_t>(kGroup, (st.outer + tasks - 1) / tasks);
    parallel_for((st.outer + per - 1) / per, cost, [&](int64_t t) {
      scan_rows<Op>(st, in, out, t * per, std::min(st.outer, (t + 1) * per));
    });
    return;
  }
  // Column ranges of at least 64 (a few cache lines per row) when the outer blocks are too few.
  const int64_t ranges = std::max<int64_t>(1, std::min((tasks + st.outer - 1) / st.outer, st.inner / 64));
  const int64_t width = (st.inner + ranges - 1) / ranges;
  parallel_for(st.outer * ranges, cost, [&](int64_t t) {
    const int64_t o = t / ranges, i0 = t % ranges * width;
    scan_columns<Op>(st, in, out, o, i0, std::min(st.inner, i0 + width));
  });
}

template <class T>
void scan_op(const ScanStep& st, const BufferDesc* bufs) {
  switch (st.op) {
    case ReduceOp::sum: return scan_typed<ReduceOp::sum, T>(st, bufs);
    case ReduceOp::prod: return scan_typed<ReduceOp::prod, T>(st, bufs);
    case ReduceOp::max: return scan_typed<ReduceOp::max, T>(st, bufs);
    case ReduceOp::min: return scan_typed<ReduceOp::min, T>(st, bufs);
  }
}

}  // namespace

void run_scan(const ScanStep& st, const BufferDesc* bufs) {
  switch (st.dtype) {
    case DType::f32: return scan_op<float>(st, bufs);
    case DType::i32: return scan_op<int32_t>(st, bufs);
    case DType::u32: return scan_op<uint32_t>(st, bufs);
    case DType::boolean: return scan_op<uint8_t>(st, bufs);
  }
}

}  // namespace metalgrad::cpu
