// Executors of the four step kinds; they trust a Program that decode_program validated.
#pragma once

#include "engine.h"
#include "program.h"

namespace metalgrad::cpu {

void run_elementwise(const ElementwiseStep& step, const double* consts, const BufferDesc* bufs);
void run_reduce(const ReduceStep& step, const BufferDesc* bufs);
void run_argreduce(const ArgReduceStep& step, const BufferDesc* bufs);
void run_matmul(const MatmulStep& step, const BufferDesc* bufs);
void run_elementwise_reduce(const ElementwiseReduceStep& step, const double* consts, const BufferDesc* bufs);

}  // namespace metalgrad::cpu
