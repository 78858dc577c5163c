// Dimension collapsing and the row-major walker shared by the executors.
#include "layout.h"

namespace metalgrad::cpu {

CollapsedLayout collapse(const Shape& shape, const std::vector<const int64_t*>& strides) {
  const int nops = static_cast<int>(strides.size());
  CollapsedLayout out;
  out.strides.assign(static_cast<size_t>(nops) * kMaxDims, 0);
  for (int d = 0; d < shape.ndim; ++d) {
    int64_t size = shape.dims[d];
    if (size == 1) continue;
    bool merge = out.ndim > 0;
    for (int op = 0; op < nops && merge; ++op) {
      merge = out.stride(op, out.ndim - 1) == strides[op][d] * size;
    }
    if (merge) {
      out.dims[out.ndim - 1] *= size;
      for (int op = 0; op < nops; ++op) out.strides[op * kMaxDims + out.ndim - 1] = strides[op][d];
    } else {
      out.dims[out.ndim] = size;
      for (int op = 0; op < nops; ++op) out.strides[op * kMaxDims + out.ndim] = strides[op][d];
      ++out.ndim;
    }
  }
  if (out.ndim == 0) {
    out.ndim = 1;
    out.dims[0] = 1;
  }
  return out;
}

RowWalker::RowWalker(const CollapsedLayout& layout, int64_t start)
    : layout_(layout), nops_(static_cast<int>(layout.strides.size() / kMaxDims)), row_(nops_, 0) {
  const int last = layout_.ndim - 1;
  inner_ = start % layout_.dims[last];
  start /= layout_.dims[last];
  for (int d = last - 1; d >= 0; --d) {
    idx_[d] = start % layout_.dims[d];
    start /= layout_.dims[d];
    for (int op = 0; op < nops_; ++op) row_[op] += idx_[d] * layout_.stride(op, d);
  }
}

void RowWalker::advance(int64_t n) {
  const int last = layout_.ndim - 1;
  inner_ += n;
  if (inner_ < layout_.dims[last]) return;
  inner_ = 0;
  // Odometer over the outer dims; wrapping past the outermost leaves the walker at the start.
  for (int d = last - 1; d >= 0; --d) {
    for (int op = 0; op < nops_; ++op) row_[op] += layout_.stride(op, d);
    if (++idx_[d] < layout_.dims[d]) return;
    for (int op = 0; op < nops_; ++op) row_[op] -= layout_.stride(op, d) * layout_.dims[d];
    idx_[d] = 0;
  }
}

}  // namespace metalgrad::cpu
