// Reductions (sum, prod, max, min) over any set of axes of a strided view; float sums are pairwise.
// Threads split the outputs, or the segments of each reduction when there are few outputs.
#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "executors.h"
#include "scalar.h"
#include "threadpool.h"

namespace metalgrad::cpu {
namespace {

// Elements gathered and combined at a time; also the leaf size of the pairwise float sum.
constexpr int64_t kChunk = 256;
constexpr int kLanes = 8;
// Outputs stored before the epilogue runs on them (they are still in L1).
constexpr int64_t kEpilogueBlock = 512;

// The reduced part of the input: a row-major index space over `dims` with element `strides`.
template <class T>
struct ReducedSpace {
  int ndim = 0;
  int64_t dims[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};

  // Pointer to elements [start, start + n) of the space starting at `base`; copies them into
  // `tmp` unless they are already contiguous.
  const T* gather(const T* base, int64_t start, int64_t n, T* tmp) const {
    if (ndim == 1 && strides[0] == 1) return base + start;
    int64_t idx[kMaxDims];
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      idx[d] = start % dims[d];
      start /= dims[d];
      off += idx[d] * strides[d];
    }
    const int last = ndim - 1;
    for (int64_t i = 0; i < n;) {
      int64_t len = std::min(n - i, dims[last] - idx[last]);
      for (int64_t j = 0; j < len; ++j) tmp[i + j] = base[off + j * strides[last]];
      i += len;
      off += len * strides[last];
      idx[last] += len;
      for (int d = last; d > 0 && idx[d] == dims[d]; --d) {
        off += strides[d - 1] - dims[d] * strides[d];
        idx[d] = 0;
        ++idx[d - 1];
      }
    }
    return tmp;
  }
};

// Accumulator type and combining rule of each op; bool values are bytes read as 0/1.
template <class T> using acc_t = std::conditional_t<std::is_same_v<T, uint8_t>, uint32_t, T>;

template <class T> acc_t<T> as_acc(T x) {
  if constexpr (std::is_same_v<T, uint8_t>) return x != 0;
  else return x;
}

template <ReduceOp Op, class A>
A identity() {
  if constexpr (Op == ReduceOp::sum) return A(0);
  else if constexpr (Op == ReduceOp::prod) return A(1);
  else if constexpr (std::is_same_v<A, float>) {
    return Op == ReduceOp::max ? -std::numeric_limits<float>::infinity()
                               : std::numeric_limits<float>::infinity();
  } else if constexpr (Op == ReduceOp::max) {
    return std::numeric_limits<A>::min();  // 0 = false for bool
  } else {
    return std::numeric_limits<A>::max();  // nonzero = true for bool
  }
}

template <ReduceOp Op, class A>
A combine(A a, A b) {
  if constexpr (Op == ReduceOp::sum) return fn::add{}(a, b);
  else if constexpr (Op == ReduceOp::prod) return fn::mul{}(a, b);
  else if constexpr (Op == ReduceOp::max) return fn::max{}(a, b);
  else return fn::min{}(a, b);
}

// Float max and min of n values in kLanes lanes, then the lanes pairwise: the same result as
// combine_block's, written without the NaN tests in the loop so it vectorises. A NaN is noted on
// the side, and the first one is the result.
template <ReduceOp Op>
float extreme_block(const float* x, int64_t n) {
  float lanes[kLanes], odd[kLanes] = {};
  for (float& l : lanes) l = identity<Op, float>();
  int64_t i = 0;
#if defined(__SSE2__)
  // The loop below with SSE2 (baseline on x86-64), which compilers do not vectorise by themselves.
  static_assert(kLanes == 8);
  __m128 lo = _mm_loadu_ps(lanes), hi = _mm_loadu_ps(lanes + 4), odd_lo = _mm_setzero_ps(), odd_hi = odd_lo;
  const __m128 zero = _mm_setzero_ps();
  for (; i + kLanes <= n; i += kLanes) {
    const __m128 a = _mm_loadu_ps(x + i), b = _mm_loadu_ps(x + i + 4);
    const __m128 ta = Op == ReduceOp::max ? _mm_cmpge_ps(a, lo) : _mm_cmple_ps(a, lo);
    const __m128 tb = Op == ReduceOp::max ? _mm_cmpge_ps(b, hi) : _mm_cmple_ps(b, hi);
    lo = _mm_or_ps(_mm_and_ps(ta, a), _mm_andnot_ps(ta, lo));
    hi = _mm_or_ps(_mm_and_ps(tb, b), _mm_andnot_ps(tb, hi));
    odd_lo = _mm_add_ps(odd_lo, _mm_mul_ps(a, zero));
    odd_hi = _mm_add_ps(odd_hi, _mm_mul_ps(b, zero));
  }
  _mm_storeu_ps(lanes, lo);
  _mm_storeu_ps(lanes + 4, hi);
  _mm_storeu_ps(odd, odd_lo);
  _mm_storeu_ps(odd + 4, odd_hi);
#endif
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) {
      const float v = x[i + j];
      // Ties take the later value, as combine's `a > b ? a : b` does.
      if constexpr (Op == ReduceOp::max) lanes[j] = v >= lanes[j] ? v : lanes[j];
      else lanes[j] = v <= lanes[j] ? v : lanes[j];
      odd[j] += v * 0.0f;  // NaN once a NaN or an infinity went by
    }
  }
  float any = 0.0f;
  for (int j = 0; j < kLanes; ++j) any += odd[j];
  if (any != any) {
    for (int64_t k = 0; k < n; ++k) if (x[k] != x[k]) return x[k];
  }
  for (int j = 0; i < n; ++i, ++j) lanes[j] = combine<Op, float>(lanes[j], x[i]);
  for (int w = kLanes / 2; w > 0; w /= 2) {
    for (int j = 0; j < w; ++j) lanes[j] = combine<Op, float>(lanes[j], lanes[j + w]);
  }
  return lanes[0];
}

// Combines n values in kLanes independent lanes (vectorisable), then the lanes pairwise.
template <ReduceOp Op, class T>
acc_t<T> combine_block(const T* x, int64_t n) {
  if constexpr (std::is_same_v<T, float> && (Op == ReduceOp::max || Op == ReduceOp::min)) return extreme_block<Op>(x, n);
  using A = acc_t<T>;
  A lanes[kLanes];
  for (A& l : lanes) l = identity<Op, A>();
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int j = 0; j < kLanes; ++j) lanes[j] = combine<Op, A>(lanes[j], as_acc(x[i + j]));
  }
  for (int j = 0; i < n; ++i, ++j) lanes[j] = combine<Op, A>(lanes[j], as_acc(x[i]));
  for (int w = kLanes / 2; w > 0; w /= 2) {
    for (int j = 0; j < w; ++j) lanes[j] = combine<Op, A>(lanes[j], lanes[j + w]);
  }
  return lanes[0];
}

// Pairwise float sum: error grows with log(n) rather than n.
float pairwise_sum(const ReducedSpace<float>& space, const float* base, int64_t start, int64_t n,
                   float* tmp) {
  if (n <= kChunk) return combine_block<ReduceOp::sum>(space.gather(base, start, n, tmp), n);
  int64_t half = (n / 2 + kChunk - 1) / kChunk * kChunk;
  return pairwise_sum(space, base, start, half, tmp) +
         pairwise_sum(space, base, start + half, n - half, tmp);
}

// Float sums are pairwise; every other op folds blocks of kChunk in order.
template <ReduceOp Op, class T>
constexpr bool kPairwise = Op == ReduceOp::sum && std::is_same_v<T, float>;

// Reduces elements [start, start + n) of the space.
template <ReduceOp Op, class T>
acc_t<T> reduce_range(const ReducedSpace<T>& space, const T* base, int64_t start, int64_t n, T* tmp) {
  if constexpr (kPairwise<Op, T>) {
    return pairwise_sum(space, base, start, n, tmp);
  } else {
    acc_t<T> acc = identity<Op, acc_t<T>>();
    for (int64_t s = start; s < start + n; s += kChunk) {
      const int64_t len = std::min(kChunk, start + n - s);
      acc = combine<Op, acc_t<T>>(acc, combine_block<Op>(space.gather(base, s, len, tmp), len));
    }
    return acc;
  }
}

// A long reduction is cut into segments of at most kSegment elements that threads reduce on their
// own: the top levels of the pairwise tree for float sums, consecutive blocks otherwise. The cut
// depends only on the length, so results do not depend on the thread count.
constexpr int64_t kSegment = int64_t(1) << 16;  // a multiple of kChunk

struct Segment {
  int64_t start, n;
};

void split_pairwise(int64_t start, int64_t n, std::vector<Segment>& out) {
  if (n <= kSegment) return out.push_back({start, n});
  const int64_t half = (n / 2 + kChunk - 1) / kChunk * kChunk;  // as in pairwise_sum
  split_pairwise(start, half, out);
  split_pairwise(start + half, n - half, out);
}

// Adds the segment sums of split_pairwise(start, n) in the same tree, consuming them in order.
float combine_pairwise(int64_t n, const float*& sums) {
  if (n <= kSegment) return *sums++;
  const int64_t half = (n / 2 + kChunk - 1) / kChunk * kChunk;
  const float left = combine_pairwise(half, sums);
  return left + combine_pairwise(n - half, sums);
}

template <ReduceOp Op, class T>
acc_t<T> reduce_one(const ReducedSpace<T>& space, const T* base, int64_t total, T* tmp,
                    bool parallel) {
  using A = acc_t<T>;
  if (total <= kSegment) return reduce_range<Op>(space, base, 0, total, tmp);
  std::vector<Segment> segs;
  if constexpr (kPairwise<Op, T>) {
    split_pairwise(0, total, segs);
  } else {
    for (int64_t s = 0; s < total; s += kSegment) segs.push_back({s, std::min(kSegment, total - s)});
  }
  std::vector<A> vals(segs.size());
  auto run = [&](int64_t t) {
    std::vector<T> own(parallel ? kChunk : 0);
    vals[t] = reduce_range<Op>(space, base, segs[t].start, segs[t].n, parallel ? own.data() : tmp);
  };
  const int64_t nsegs = static_cast<int64_t>(segs.size());
  if (parallel) parallel_for(nsegs, total, run);
  else for (int64_t t = 0; t < nsegs; ++t) run(t);
  if constexpr (kPairwise<Op, T>) {
    const float* sums = vals.data();
    return combine_pairwise(total, sums);
  } else {
    A acc = identity<Op, A>();
    for (const A& v : vals) acc = combine<Op, A>(acc, v);
    return acc;
  }
}

template <class T>
void store_acc(T* out, acc_t<T> acc) {
  if constexpr (std::is_same_v<T, uint8_t>) *out = acc != 0;
  else *out = acc;
}

// Runs `epi` (when given) on each block of outputs as soon as the block is stored.
template <ReduceOp Op, class T>
void reduce_typed(const ReduceStep& st, const BufferDesc* bufs, const ElementwiseRanges* epi) {
  const Shape& s = st.shape;
  // Kept dims iterate the output; reduced dims (size-1 ones dropped, contiguous runs merged) form
  // the space each output element reduces.
  int nkept = 0;
  int64_t kept_dims[kMaxDims], kept_strides[kMaxDims];
  ReducedSpace<T> space;
  int64_t total = 1, out_count = 1;
  for (int d = 0; d < s.ndim; ++d) {
    const int64_t size = s.dims[d], stride = st.in.strides[d];
    if (!st.reduced[d]) {
      kept_dims[nkept] = size;
      kept_strides[nkept++] = stride;
      out_count *= size;
      continue;
    }
    total *= size;
    if (size == 1) continue;
    if (space.ndim > 0 && space.strides[space.ndim - 1] == stride * size) {
      space.dims[space.ndim - 1] *= size;
      space.strides[space.ndim - 1] = stride;
    } else {
      space.dims[space.ndim] = size;
      space.strides[space.ndim++] = stride;
    }
  }
  if (space.ndim == 0) {
    space.ndim = 1;
    space.dims[0] = 1;
  }
  if (out_count == 0) return;

  T* out = static_cast<T*>(bufs[st.out_buf].data) + st.out_offset;
  if (total == 0) {
    // Empty reduction: the input may be an empty buffer, so it is not addressed at all.
    T id;
    if constexpr (std::is_same_v<T, uint8_t>) id = identity<Op, acc_t<T>>() != 0;
    else id = identity<Op, acc_t<T>>();
    std::fill(out, out + out_count, id);
    if (epi) epi->run(0, out_count);
    return;
  }
  const T* in = static_cast<const T*>(bufs[st.in.buf].data) + st.in.offset;
  // Input offset of output element o, with its index over the kept dims in idx.
  auto seek = [&](int64_t o, int64_t* idx) {
    int64_t off = 0;
    for (int d = nkept - 1; d >= 0; --d) {
      idx[d] = o % kept_dims[d];
      o /= kept_dims[d];
      off += idx[d] * kept_strides[d];
    }
    return off;
  };
  const int threads = num_threads();
  if (out_count < threads && total > kSegment) {
    // Few long reductions: threads share each one's segments.
    std::vector<T> tmp(kChunk);
    int64_t idx[kMaxDims];
    for (int64_t o = 0; o < out_count; ++o) {
      store_acc(out + o, reduce_one<Op>(space, in + seek(o, idx), total, tmp.data(), true));
    }
    if (epi) epi->run(0, out_count);
    return;
  }
  // Threads take contiguous ranges of outputs.
  const int64_t per_task = std::max<int64_t>(1, (out_count + 4 * threads - 1) / (4 * threads));
  parallel_for((out_count + per_task - 1) / per_task, out_count * total, [&](int64_t t) {
    const int64_t o0 = t * per_task, o1 = std::min(out_count, o0 + per_task);
    std::vector<T> tmp(kChunk);
    int64_t idx[kMaxDims];
    int64_t off = seek(o0, idx);
    int64_t finished = o0;  // outputs before this one have had the epilogue
    for (int64_t o = o0; o < o1; ++o) {
      store_acc(out + o, reduce_one<Op>(space, in + off, total, tmp.data(), false));
      for (int d = nkept - 1; d >= 0; --d) {
        off += kept_strides[d];
        if (++idx[d] < kept_dims[d]) break;
        off -= kept_strides[d] * kept_dims[d];
        idx[d] = 0;
      }
      if (epi && (o + 1 - finished == kEpilogueBlock || o + 1 == o1)) {
        epi->run(finished, o + 1);
        finished = o + 1;
      }
    }
  });
}

template <ReduceOp Op>
void reduce_op(const ReduceStep& st, const BufferDesc* bufs, const ElementwiseRanges* epi) {
  switch (st.dtype) {
    case DType::f32: return reduce_typed<Op, float>(st, bufs, epi);
    case DType::i32: return reduce_typed<Op, int32_t>(st, bufs, epi);
    case DType::u32: return reduce_typed<Op, uint32_t>(st, bufs, epi);
    case DType::boolean:
      if constexpr (Op == ReduceOp::max || Op == ReduceOp::min) reduce_typed<Op, uint8_t>(st, bufs, epi);
      return;
  }
}

}  // namespace

void run_reduce(const ReduceStep& st, const double* consts, const BufferDesc* bufs) {
  if (st.columns) return run_elementwise_reduce(*st.columns, consts, bufs);
  std::optional<ElementwiseRanges> epi;
  if (st.epilogue) epi.emplace(*st.epilogue, consts, bufs);
  const ElementwiseRanges* e = epi ? &*epi : nullptr;
  switch (st.op) {
    case ReduceOp::sum: return reduce_op<ReduceOp::sum>(st, bufs, e);
    case ReduceOp::prod: return reduce_op<ReduceOp::prod>(st, bufs, e);
    case ReduceOp::max: return reduce_op<ReduceOp::max>(st, bufs, e);
    case ReduceOp::min: return reduce_op<ReduceOp::min>(st, bufs, e);
  }
}

}  // namespace metalgrad::cpu
