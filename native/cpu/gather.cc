// Gather and scatter along one axis of contiguous blocks. Indices are data: gather clamps them,
// scatter clamps them or skips the update (mode drop), so no index reads or writes out of bounds.
// Gathers are shared among threads by leading blocks; scatters run in index order on one thread.
#include <cstdint>
#include <cstring>

#include "executors.h"
#include "scalar.h"
#include "threadpool.h"

namespace metalgrad::cpu {
namespace {

inline int64_t clamp_index(int32_t i, int64_t n) { return i < 0 ? 0 : (i >= n ? n - 1 : i); }

// Gathers ns rows of `row` bytes (kRow when nonzero: a constant the copies inline) from src.
template <size_t kRow>
void gather_rows(char* dst, const char* src, const int32_t* ix, int64_t ns, int64_t n, size_t row) {
  const size_t size = kRow != 0 ? kRow : row;
  for (int64_t s = 0; s < ns; ++s) std::memcpy(dst + s * size, src + clamp_index(ix[s], n) * static_cast<int64_t>(size), size);
}

// Copies elements of `size` bytes: gather moves bits, whatever the dtype. Threads take (b, p)
// blocks; gathering single elements (nq = 1, a gather along the last axis) copies them inline.
void gather_bytes(const GatherStep& st, const BufferDesc* bufs, size_t size) {
  const IndexDims& d = st.dims;
  const auto* x = static_cast<const char*>(bufs[st.x.buf].data) + st.x.offset * size;
  const auto* idx = static_cast<const int32_t*>(bufs[st.idx.buf].data) + st.idx.offset;
  auto* out = static_cast<char*>(bufs[st.out.buf].data) + st.out.offset * size;
  const size_t row = static_cast<size_t>(d.nq) * size;
  if (row == 0) return;
  const int64_t groups = d.nb * d.np;
  parallel_for(groups, groups * d.ns * (d.nq + 4), [&](int64_t g) {
    const char* src = x + g * d.n * static_cast<int64_t>(row);
    char* dst = out + g * d.ns * static_cast<int64_t>(row);
    const int32_t* ix = idx + g / d.np * d.ns;
    switch (row) {
      case 1: return gather_rows<1>(dst, src, ix, d.ns, d.n, row);
      case 4: return gather_rows<4>(dst, src, ix, d.ns, d.n, row);
      case 8: return gather_rows<8>(dst, src, ix, d.ns, d.n, row);
      default: return gather_rows<0>(dst, src, ix, d.ns, d.n, row);
    }
  });
}

template <class T>
T combine(ScatterOp op, T a, T b) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    // bool: set, min (and), max (or); add/mul are rejected by the validator.
    if (op == ScatterOp::min) return (a != 0) && (b != 0);
    if (op == ScatterOp::max) return (a != 0) || (b != 0);
    return b;
  } else {
    switch (op) {
      case ScatterOp::add: return fn::add{}(a, b);
      case ScatterOp::set: return b;
      case ScatterOp::mul: return fn::mul{}(a, b);
      case ScatterOp::min: return fn::min{}(a, b);
      case ScatterOp::max: return fn::max{}(a, b);
    }
    return b;
  }
}

template <class T>
void scatter_typed(const ScatterStep& st, const BufferDesc* bufs) {
  const IndexDims& d = st.dims;
  const T* upd = static_cast<const T*>(bufs[st.upd.buf].data) + st.upd.offset;
  const auto* idx = static_cast<const int32_t*>(bufs[st.idx.buf].data) + st.idx.offset;
  T* out = static_cast<T*>(bufs[st.out.buf].data) + st.out.offset;
  const bool drop = st.mode == ScatterMode::drop;
  for (int64_t b = 0; b < d.nb; ++b) {
    for (int64_t p = 0; p < d.np; ++p) {
      T* dst = out + (b * d.np + p) * d.n * d.nq;
      for (int64_t s = 0; s < d.ns; ++s, upd += d.nq) {
        const int32_t raw = idx[b * d.ns + s];
        if (drop && (raw < 0 || raw >= d.n)) continue;
        T* row = dst + clamp_index(raw, d.n) * d.nq;
        for (int64_t q = 0; q < d.nq; ++q) row[q] = combine(st.op, row[q], upd[q]);
      }
    }
  }
}

}  // namespace

void run_gather(const GatherStep& st, const BufferDesc* bufs) {
  gather_bytes(st, bufs, dtype_size(st.dtype));
}

void run_scatter(const ScatterStep& st, const BufferDesc* bufs) {
  switch (st.dtype) {
    case DType::f32: return scatter_typed<float>(st, bufs);
    case DType::i32: return scatter_typed<int32_t>(st, bufs);
    case DType::u32: return scatter_typed<uint32_t>(st, bufs);
    case DType::boolean: return scatter_typed<uint8_t>(st, bufs);
  }
}

}  // namespace metalgrad::cpu
