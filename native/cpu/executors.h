// Executors of the step kinds; they trust a Program that decode_program validated.
#pragma once

#include <cstdint>
#include <vector>

#include "engine.h"
#include "layout.h"
#include "program.h"

namespace metalgrad::cpu {

void run_elementwise(const ElementwiseStep& step, const double* consts, const BufferDesc* bufs);
void run_reduce(const ReduceStep& step, const double* consts, const BufferDesc* bufs);
void run_argreduce(const ArgReduceStep& step, const BufferDesc* bufs);
void run_matmul(const MatmulStep& step, const double* consts, const BufferDesc* bufs);
void run_gather(const GatherStep& step, const BufferDesc* bufs);
void run_scatter(const ScatterStep& step, const BufferDesc* bufs);
void run_sort(const SortStep& step, const BufferDesc* bufs);
void run_scan(const ScanStep& step, const BufferDesc* bufs);
void run_elementwise_reduce(const ElementwiseReduceStep& step, const double* consts, const BufferDesc* bufs);

// Runs row-major element ranges of an elementwise step with the tile interpreter, on the calling
// thread (any thread, concurrently): how a reduction or matmul applies its epilogue to each
// finished block of its result. Construct once per execution of the step that owns it.
class ElementwiseRanges {
 public:
  ElementwiseRanges(const ElementwiseStep& step, const double* consts, const BufferDesc* bufs);
  void run(int64_t start, int64_t end) const;

 private:
  const ElementwiseStep& step_;
  const double* consts_;
  std::vector<char*> bases_;
  CollapsedLayout layout_;
};

}  // namespace metalgrad::cpu
