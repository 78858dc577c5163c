// argmax/argmin along one axis: first index wins ties, and the first NaN counts as the extreme.
// Threads share the outputs.
#include <algorithm>
#include <cstdint>

#include "executors.h"
#include "threadpool.h"

namespace metalgrad::cpu {
namespace {

template <class T>
bool is_nan(T x) {
  if constexpr (std::is_same_v<T, float>) return x != x;
  else return false;
}

template <bool Max, class T>
int32_t arg_along(const T* x, int64_t n, int64_t stride) {
  T best = x[0];
  if (is_nan(best)) return 0;
  int32_t best_i = 0;
  for (int64_t l = 1; l < n; ++l) {
    T v = x[l * stride];
    if (is_nan(v)) return static_cast<int32_t>(l);
    if (Max ? v > best : v < best) {
      best = v;
      best_i = static_cast<int32_t>(l);
    }
  }
  return best_i;
}

template <bool Max, class T>
void argreduce_typed(const ArgReduceStep& st, const BufferDesc* bufs) {
  const Shape& s = st.shape;
  int nother = 0;
  int64_t dims[kMaxDims], strides[kMaxDims];
  int64_t count = 1;
  for (int d = 0; d < s.ndim; ++d) {
    if (d == st.axis) continue;
    dims[nother] = s.dims[d];
    strides[nother++] = st.in.strides[d];
    count *= s.dims[d];
  }
  if (count == 0) return;
  const T* in = static_cast<const T*>(bufs[st.in.buf].data) + st.in.offset;
  int32_t* out = static_cast<int32_t*>(bufs[st.out_buf].data) + st.out_offset;
  const int64_t n = s.dims[st.axis], stride = st.in.strides[st.axis];
  // Threads take ranges of outputs; each output is one scan along the axis.
  const int64_t per = std::max<int64_t>(1, (count + 4 * num_threads() - 1) / (4 * num_threads()));
  parallel_for((count + per - 1) / per, count * n, [&](int64_t t) {
    const int64_t o0 = t * per, o1 = std::min(count, o0 + per);
    int64_t idx[kMaxDims] = {};
    int64_t off = 0;
    int64_t rest = o0;
    for (int d = nother - 1; d >= 0; --d) {
      idx[d] = rest % dims[d];
      rest /= dims[d];
      off += idx[d] * strides[d];
    }
    for (int64_t o = o0; o < o1; ++o) {
      out[o] = arg_along<Max>(in + off, n, stride);
      for (int d = nother - 1; d >= 0; --d) {
        off += strides[d];
        if (++idx[d] < dims[d]) break;
        off -= strides[d] * dims[d];
        idx[d] = 0;
      }
    }
  });
}

// Bool bytes compare as 0/1, so any nonzero byte is "true".
struct BoolByte {
  uint8_t v;
  bool operator<(BoolByte o) const { return (v != 0) < (o.v != 0); }
  bool operator>(BoolByte o) const { return (v != 0) > (o.v != 0); }
};

template <bool Max>
void argreduce_dtype(const ArgReduceStep& st, const BufferDesc* bufs) {
  switch (st.dtype) {
    case DType::f32: return argreduce_typed<Max, float>(st, bufs);
    case DType::i32: return argreduce_typed<Max, int32_t>(st, bufs);
    case DType::u32: return argreduce_typed<Max, uint32_t>(st, bufs);
    case DType::boolean: return argreduce_typed<Max, BoolByte>(st, bufs);
  }
}

}  // namespace

void run_argreduce(const ArgReduceStep& st, const BufferDesc* bufs) {
  if (st.op == ArgReduceOp::argmax) argreduce_dtype<true>(st, bufs);
  else argreduce_dtype<false>(st, bufs);
}

}  // namespace metalgrad::cpu
