// Decoded, validated form of a step program; executors read these instead of raw ints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
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

enum class StepKind : int32_t {
  elementwise = 1, reduce = 2, argreduce = 3, matmul = 4,
  gather = 5, scatter = 6, sort = 7, scan = 8, elementwise_reduce = 9,
};

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

struct ProtoInstr;
class JitKernel;

struct ElementwiseStep {
  Shape shape;
  int32_t nregs = 0;
  std::vector<ElementwiseInput> inputs;
  std::vector<ElementwiseOutput> outputs;
  std::vector<Instr> instrs;
  // The instructions with their kernels chosen (tiles.h), computed on first run and shared by every
  // later run and thread (read and written with std::atomic_load/atomic_store).
  mutable std::shared_ptr<const std::vector<ProtoInstr>> protos;
  // The step as machine code (jit.h) for the operand layout it last ran with, compiled on first run.
  mutable std::shared_ptr<const JitKernel> jit;
};

enum class ReduceOp : int32_t { sum = 0, prod = 1, max = 2, min = 3 };

// An epilogue: an elementwise program over a step's result (reductions, matmul) that the executor
// runs on each finished block of it (flat index ranges) while the block is in cache. One of its
// inputs reads the result contiguously, so element i depends on result element i only.
using Epilogue = std::optional<ElementwiseStep>;

struct ElementwiseReduceStep;

struct ReduceStep {
  ReduceOp op;
  DType dtype;
  Shape shape;
  View in;
  bool reduced[kMaxDims] = {};
  int32_t out_buf = 0;
  int64_t out_offset = 0;
  Epilogue epilogue;
  // Set when the innermost live dim is kept: the same reduction (and the epilogue, moved here) as a
  // fused reduction in columns order, which the executor runs instead.
  std::shared_ptr<const ElementwiseReduceStep> columns;
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
  Epilogue epilogue;   // C is contiguous when there is one
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
  Epilogue epilogue;
  // For the JIT (jit.h): `ew` with `reg` as its one output, which the executor points at the tile it
  // folds. Set for float32 reductions of programs with no element outputs.
  std::shared_ptr<const ElementwiseStep> jit_program;
};

// A contiguous block of a buffer: `offset` is where element 0 is.
struct Block {
  int32_t buf = 0;
  int64_t offset = 0;
};

// Gather and scatter see their operands as contiguous row-major blocks:
// x / out of a scatter [nb, np, n, nq], indices [nb, ns], gathered / updates [nb, np, ns, nq].
struct IndexDims {
  int64_t nb = 0, np = 0, n = 0, ns = 0, nq = 0;
};

// out[b, p, s, q] = x[b, p, clamp(idx[b, s], 0, n - 1), q].
struct GatherStep {
  DType dtype;
  IndexDims dims;
  Block x, idx, out;
};

enum class ScatterOp : int32_t { add = 0, set = 1, mul = 2, min = 3, max = 4 };
enum class ScatterMode : int32_t { clip = 0, drop = 1 };

// out[b, p, idx[b, s], q] op= upd[b, p, s, q], in order of s (so `set` keeps the last update).
struct ScatterStep {
  ScatterOp op;
  DType dtype;
  ScatterMode mode;
  IndexDims dims;
  Block upd, idx, out;
};

// Stable sort of each contiguous row of `n` elements, with the int32 source positions.
struct SortStep {
  DType dtype;
  bool descending = false;
  int64_t rows = 0, n = 0;
  Block in, out, idx;
};

// Inclusive scan along the middle axis of [outer, n, inner].
struct ScanStep {
  ReduceOp op;
  DType dtype;
  bool reverse = false;
  int64_t outer = 0, n = 0, inner = 0;
  Block in, out;
};

using Step = std::variant<ElementwiseStep, ReduceStep, ArgReduceStep, MatmulStep, GatherStep,
                          ScatterStep, SortStep, ScanStep, ElementwiseReduceStep>;

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
  int size_a, size_b;  // bytes per element
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
