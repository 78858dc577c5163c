// Shared iteration helpers: dimension collapsing and a row-major walker over strided operands.
#pragma once

#include <cstdint>
#include <vector>

#include "program.h"

namespace metalgrad::cpu {

// Several operands viewed over one shape, with size-1 dims dropped and dims merged where every
// operand is contiguous across them. Always has at least one dim.
struct CollapsedLayout {
  int ndim = 0;
  int64_t dims[kMaxDims] = {};
  std::vector<int64_t> strides;  // strides[op * kMaxDims + d]

  int64_t stride(int op, int d) const { return strides[op * kMaxDims + d]; }
};

// `strides[op]` points at kMaxDims strides of operand op over `shape`.
CollapsedLayout collapse(const Shape& shape, const std::vector<const int64_t*>& strides);

// Walks the index space of a CollapsedLayout in row-major order, in runs along the innermost dim.
// offset(op) is the element offset of the current position for operand op.
class RowWalker {
 public:
  // Starts at row-major element `start` of the index space.
  explicit RowWalker(const CollapsedLayout& layout, int64_t start = 0);

  int64_t inner_remaining() const { return layout_.dims[layout_.ndim - 1] - inner_; }
  int64_t offset(int op) const {
    return row_[op] + inner_ * layout_.stride(op, layout_.ndim - 1);
  }
  // Moves n elements forward within the current row (n <= inner_remaining()).
  void advance(int64_t n);

 private:
  const CollapsedLayout& layout_;
  int nops_;
  int64_t idx_[kMaxDims] = {};
  int64_t inner_ = 0;
  std::vector<int64_t> row_;
};

}  // namespace metalgrad::cpu
