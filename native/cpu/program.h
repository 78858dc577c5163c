// Decoded, validated form of a step program; executors read these instead of raw ints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "dtype.h"
#include "engine.h"
#include "ops.h"

namespace metalgrad::cpu {

constexpr int kMaxDims = 16;
constexpr int kMaxRegs = 4096;
constexpr int32_t kProgramMagic = 0x4D47;

enum class StepKind : int32_t { elementwise = 1, reduce = 2, argreduce = 3, matmul = 4, elementwise_reduce = 5 };

struct Shape {
  int ndim = 0;
  int64_t dims[kMaxDims] = {};
  int64_t numel = 1;
};

// A strided view; its rank is the rank of the shape it is read with.
struct View {
  int32_t buf = 0;
  int64_t offset = 0;
  int64_t strides[kMaxDims] = {};
};

struct Instr {
  ScalarOp op;
  DType kind;
  int32_t dst, a, b, c;
};

struct ElementwiseInput {
  DType dtype;
  View view;
};

struct ElementwiseOutput {
  DType dtype;
  View view;
  int32_t reg;
};

struct ElementwiseStep {
  Shape shape;
  int32_t nregs = 0;
  std::vector<ElementwiseInput> inputs;
  std::vector<ElementwiseOutput> outputs;
  std::vector<Instr> instrs;
};

enum class ReduceOp : int32_t { sum = 0, prod = 1, max = 2, min = 3 };

struct ReduceStep {
  ReduceOp op;
  DType dtype;
  Shape shape;
  View in;
  bool reduced[kMaxDims] = {};
  int32_t out_buf = 0;
  int64_t out_offset = 0;
};

enum class ArgReduceOp : int32_t { argmax = 0, argmin = 1 };

struct ArgReduceStep {
  ArgReduceOp op;
  DType dtype;
  Shape shape;
  View in;
  int axis = 0;
  int32_t out_buf = 0;
  int64_t out_offset = 0;
};

// Operand of a matmul: element (b, r, c) is at offset + b*sb + r*sr + c*sc.
struct MatrixView {
  int32_t buf = 0;
  int64_t offset = 0, sb = 0, sr = 0, sc = 0;
};

struct MatmulStep {
  DType dtype;
  int64_t batch = 0, m = 0, n = 0, k = 0;
  MatrixView a, b, c;  // a is [batch, m, k], b is [batch, k, n], c is [batch, m, n]
};

// An elementwise program whose register `reg` (of kind `dtype`) is also reduced over the `reduced`
// axes of its shape into a contiguous output.
struct ElementwiseReduceStep {
  ElementwiseStep ew;
  ReduceOp op;
  DType dtype;
  int32_t reg = 0;
  bool reduced[kMaxDims] = {};
  int32_t out_buf = 0;
  int64_t out_offset = 0;
};

using Step = std::variant<ElementwiseStep, ReduceStep, ArgReduceStep, MatmulStep, ElementwiseReduceStep>;

// One access of a step to a buffer, checked against the buffer table on every run: the buffer must
// exist, hold `dtype`, and have more than `hi` elements (hi < 0: the access touches nothing).
struct BufferUse {
  int32_t buf;
  DType dtype;
  int64_t hi;
  std::string context;  // "step 0 (elementwise): input 1 view", for error messages
};

// Element ranges [lo, hi] of two buffers that must not overlap in memory (checked on every run,
// since two buffer indices may name the same storage).
struct DisjointRanges {
  int32_t buf_a;
  int64_t lo_a, hi_a;
  int32_t buf_b;
  int64_t lo_b, hi_b;
  std::string message;
};

// What a program needs of buffer i, aggregated over its uses (the fast check of every run).
struct BufferNeed {
  int dtype = -1;  // -1: unused
  uint64_t length = 0;
};

struct Program {
  std::vector<Step> steps;
  std::vector<double> consts;
  std::vector<BufferUse> uses;
  std::vector<BufferNeed> needs;  // indexed by buffer
  std::vector<DisjointRanges> disjoint;
};

// Decodes and validates every step; the buffer table is checked separately on each run
// (check_buffers). Throws std::invalid_argument naming the step and field.
Program decode_program(const int32_t* code, size_t code_len, const double* consts, size_t nconsts);

// Checks a buffer table against everything `prog` touches; throws std::invalid_argument.
void check_buffers(const Program& prog, const BufferDesc* bufs, size_t nbufs);

// Register kind an instruction defines (comparisons define bool registers).
inline DType result_kind(const Instr& in) {
  return op_info(in.op).form == OpForm::compare ? DType::boolean : in.kind;
}

}  // namespace metalgrad::cpu
