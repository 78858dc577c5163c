// Decoder and validator of step programs: checks every field of every step before anything runs.
#include "program.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

#include "program_reader.h"

namespace metalgrad::cpu {
namespace {

using namespace decode;

void set_shape_dims(StepReader& r, Shape& s, int ndim, const int64_t* dims) {
  s.ndim = ndim;
  s.numel = 1;
  for (int d = 0; d < ndim; ++d) {
    if (dims[d] < 0) r.fail(cat("shape[", d, "] is ", dims[d], " (must be >= 0)"));
    s.dims[d] = dims[d];
    s.numel = mul_or_fail(r, s.numel, dims[d], "element count");
  }
}

Shape read_shape(StepReader& r) {
  int32_t ndim = r.next("ndim");
  if (ndim < 0 || ndim > kMaxDims) r.fail(cat("ndim is ", ndim, " (must be in [0, 16])"));
  int64_t dims[kMaxDims];
  for (int d = 0; d < ndim; ++d) dims[d] = r.next("shape");
  Shape s;
  set_shape_dims(r, s, ndim, dims);
  return s;
}

View read_view(StepReader& r, int ndim) {
  View v;
  v.buf = r.next("buf");
  v.offset = r.next("offset");
  for (int d = 0; d < ndim; ++d) v.strides[d] = r.next("stride");
  return v;
}


// Lowest and highest element a non-empty view touches.
std::pair<int64_t, int64_t> view_extent(StepReader& r, const Shape& s, const View& v) {
  int64_t lo = v.offset, hi = v.offset;
  for (int d = 0; d < s.ndim; ++d) {
    int64_t span = mul_or_fail(r, v.strides[d], s.dims[d] - 1, "view extent");
    if (span > 0) hi = add_or_fail(r, hi, span, "view extent");
    else lo = add_or_fail(r, lo, span, "view extent");
  }
  return {lo, hi};
}

// Checks that a view starts inside its buffer and records the buffer use (index, dtype, extent).
void check_view(StepReader& r, const char* what, const Shape& s, const View& v, DType dtype) {
  if (s.numel == 0) return use_buffer(r, what, v.buf, dtype, -1);
  auto [lo, hi] = view_extent(r, s, v);
  if (lo < 0) r.fail(cat(what, " reaches element ", lo, ", before the start of buffer ", v.buf));
  use_buffer(r, what, v.buf, dtype, hi);
}

// Registers' kinds as the instructions define them; -1 = not defined yet.
class RegisterKinds {
 public:
  RegisterKinds(StepReader& r, int32_t nregs) : r_(r), kinds_(nregs, -1) {}

  void check_index(int32_t reg, const char* operand) const {
    if (reg < 0 || reg >= static_cast<int32_t>(kinds_.size())) {
      r_.fail(cat(operand, " is register ", reg, " but nregs is ", kinds_.size()));
    }
  }

  void define(int32_t reg, DType kind) { kinds_[reg] = static_cast<int8_t>(kind); }

  DType read(int32_t reg, const char* operand) const {
    check_index(reg, operand);
    if (kinds_[reg] < 0) {
      r_.fail(cat(operand, " reads register ", reg, ", which is not defined yet"));
    }
    return static_cast<DType>(kinds_[reg]);
  }

  void expect(int32_t reg, const char* operand, DType kind) const {
    DType have = read(reg, operand);
    if (have != kind) {
      r_.fail(cat(operand, " reads register ", reg, " of kind ", dtype_name(have), " but needs ",
                  dtype_name(kind)));
    }
  }

 private:
  StepReader& r_;
  std::vector<int8_t> kinds_;
};

void expect_unused(StepReader& r, int32_t operand, const char* name) {
  if (operand != -1) r.fail(cat("operand ", name, " is ", operand, " but this op does not use it (must be -1)"));
}

Instr read_instr(StepReader& r, RegisterKinds& regs, int32_t nin, int32_t nregs) {
  int32_t op = r.next("op");
  if (op < 0 || op >= kNumScalarOps) r.fail(cat("op ", op, " is not a scalar opcode"));
  Instr in;
  in.op = static_cast<ScalarOp>(op);
  const OpInfo& info = op_info(in.op);
  in.kind = read_dtype(r, "kind");
  in.dst = r.next("dst");
  in.a = r.next("a");
  in.b = r.next("b");
  in.c = r.next("c");
  if (!(info.kinds & kind_bit(in.kind))) {
    r.fail(cat("op ", info.name, " is not defined on kind ", dtype_name(in.kind)));
  }
  if (in.dst < nin || in.dst >= nregs) {
    r.fail(cat("dst is register ", in.dst, " (must be in [nin=", nin, ", nregs=", nregs, "))"));
  }
  switch (info.form) {
    case OpForm::copy:
    case OpForm::unary:
      regs.expect(in.a, "operand a", in.kind);
      expect_unused(r, in.b, "b");
      expect_unused(r, in.c, "c");
      break;
    case OpForm::constant:
      if (in.a < 0 || static_cast<size_t>(in.a) >= r.nconsts_) {
        r.fail(cat("const index ", in.a, " is out of range (", r.nconsts_, " consts)"));
      }
      expect_unused(r, in.b, "b");
      expect_unused(r, in.c, "c");
      break;
    case OpForm::convert:
      if (!is_dtype_code(in.b) || !(info.kinds & kind_bit(static_cast<DType>(in.b)))) {
        r.fail(cat(info.name, " source dtype b=", in.b, " is not a dtype code the op is defined on"));
      }
      regs.expect(in.a, "operand a", static_cast<DType>(in.b));
      expect_unused(r, in.c, "c");
      break;
    case OpForm::binary:
    case OpForm::compare:
      regs.expect(in.a, "operand a", in.kind);
      regs.expect(in.b, "operand b", in.kind);
      expect_unused(r, in.c, "c");
      break;
    case OpForm::select:
      regs.expect(in.a, "operand a", DType::boolean);
      regs.expect(in.b, "operand b", in.kind);
      regs.expect(in.c, "operand c", in.kind);
      break;
  }
  regs.define(in.dst, result_kind(in));
  return in;
}

// Reads an ELEMENTWISE payload; `tail(regs)` then reads what follows it (kind 5's reduction) while
// the register kinds are known.
template <class Tail>
ElementwiseStep read_elementwise(StepReader& r, Tail tail) {
  ElementwiseStep st;
  st.shape = read_shape(r);
  int32_t nin = r.next("nin");
  int32_t nout = r.next("nout");
  st.nregs = r.next("nregs");
  int32_t ninstr = r.next("ninstr");
  if (nin < 0) r.fail(cat("nin is ", nin));
  if (nout < 0) r.fail(cat("nout is ", nout));
  if (ninstr < 0) r.fail(cat("ninstr is ", ninstr));
  if (st.nregs < 0 || st.nregs > kMaxRegs) r.fail(cat("nregs is ", st.nregs, " (must be in [0, 4096])"));
  if (nin > st.nregs) r.fail(cat("nin is ", nin, " but nregs is only ", st.nregs));
  RegisterKinds regs(r, st.nregs);
  for (int32_t i = 0; i < nin; ++i) {
    r.item("input", i);
    ElementwiseInput in;
    in.dtype = read_dtype(r, "dtype");
    in.view = read_view(r, st.shape.ndim);
    check_view(r, "view", st.shape, in.view, in.dtype);
    regs.define(i, in.dtype);
    st.inputs.push_back(in);
  }
  for (int32_t i = 0; i < nout; ++i) {
    r.item("output", i);
    ElementwiseOutput out;
    out.dtype = read_dtype(r, "dtype");
    out.view = read_view(r, st.shape.ndim);
    out.reg = r.next("reg");
    check_view(r, "view", st.shape, out.view, out.dtype);
    st.outputs.push_back(out);
  }
  for (int32_t j = 0; j < ninstr; ++j) {
    r.item("instr", j);
    st.instrs.push_back(read_instr(r, regs, nin, st.nregs));
  }
  for (int32_t i = 0; i < nout; ++i) {
    r.item("output", i);
    const ElementwiseOutput& out = st.outputs[i];
    DType kind = regs.read(out.reg, "reg");
    if (kind != out.dtype) {
      r.fail(cat("dtype ", dtype_name(out.dtype), " differs from the kind ", dtype_name(kind),
                 " of register ", out.reg));
    }
  }
  tail(regs);
  return st;
}

ElementwiseStep read_elementwise(StepReader& r) {
  return read_elementwise(r, [](const RegisterKinds&) {});
}

// Elements [lo, hi] of a buffer that a step reads or writes (hi < lo: none), for overlap checks.
struct Extent {
  int32_t buf;
  int64_t lo, hi;
  int size;  // bytes per element
  const char* what;
};

Extent view_range(StepReader& r, const Shape& s, const View& v, DType dtype, const char* what) {
  if (s.numel == 0) return {v.buf, 0, -1, 4, what};
  auto [lo, hi] = view_extent(r, s, v);
  return {v.buf, lo, hi, static_cast<int>(dtype_size(dtype)), what};
}

// Whether `v` walks `s` row-major without gaps (strides of size-1 dims do not matter).
bool is_contiguous(const Shape& s, const View& v) {
  int64_t expected = 1;
  for (int d = s.ndim - 1; d >= 0; --d) {
    if (s.dims[d] != 1 && v.strides[d] != expected) return false;
    expected *= s.dims[d];
  }
  return true;
}

// Records that `a` and `b` must not share memory (checked on every run: two buffer indices may
// name the same storage).
void require_disjoint(StepReader& r, const Extent& a, const Extent& b) {
  if (a.hi < a.lo || b.hi < b.lo) return;
  r.prog_.disjoint.push_back(DisjointRanges{a.buf, a.lo, a.hi, b.buf, b.lo, b.hi,
                                            r.context() + a.what + " overlaps the step's " + b.what + " in memory",
                                            a.size, b.size});
}

// The contiguous result of a reduction: `count` elements of `dtype` from `offset`.
Extent output_range(int32_t buf, int64_t offset, int64_t count, DType dtype) {
  return {buf, count == 0 ? 0 : offset, count == 0 ? -1 : offset + count - 1, static_cast<int>(dtype_size(dtype)), "result"};
}

// Reads the optional epilogue that may follow a reduction's or matmul's fields: `src, <ELEMENTWISE
// payload>` over the result (`result`: `count` contiguous elements of `dtype`), whose input `src`
// reads the result in place. The executor runs it on blocks while other blocks are still being
// computed, so its outputs must not touch what the step reads or writes (except an output laid
// out exactly as `src`, overwritten in place), and its other inputs nothing the step writes.
Epilogue read_epilogue(StepReader& r, const Extent& result, int64_t count, DType dtype,
                       const std::vector<Extent>& reads, const std::vector<Extent>& writes) {
  if (r.at_end()) return std::nullopt;
  r.part("epilogue");
  r.item();
  const int32_t src = r.next("src");
  ElementwiseStep ew = read_elementwise(r);
  r.item();
  const int32_t nin = static_cast<int32_t>(ew.inputs.size());
  if (src < 0 || src >= nin) r.fail(cat("src is input ", src, " but the epilogue has ", nin, " inputs"));
  if (ew.shape.numel != count) {
    r.fail(cat("has ", ew.shape.numel, " elements but the step's result has ", count));
  }
  const ElementwiseInput& in = ew.inputs[src];
  if (in.dtype != dtype) r.fail(cat("src input has dtype ", dtype_name(in.dtype), " but the result is ", dtype_name(dtype)));
  const int64_t result_offset = result.hi < result.lo ? in.view.offset : result.lo;
  if (in.view.buf != result.buf || in.view.offset != result_offset || !is_contiguous(ew.shape, in.view)) {
    r.fail("src input must read the step's result contiguously (its buffer and offset, row-major)");
  }
  for (int32_t i = 0; i < nin; ++i) {
    if (i == src) continue;
    r.item("input", i);
    const Extent e = view_range(r, ew.shape, ew.inputs[i].view, ew.inputs[i].dtype, "view");
    for (const Extent& w : writes) require_disjoint(r, e, w);
  }
  for (size_t o = 0; o < ew.outputs.size(); ++o) {
    r.item("output", static_cast<int64_t>(o));
    const ElementwiseOutput& out = ew.outputs[o];
    const bool in_place = out.view.buf == in.view.buf && out.view.offset == in.view.offset &&
                          out.dtype == dtype && is_contiguous(ew.shape, out.view);
    const Extent e = view_range(r, ew.shape, out.view, out.dtype, "view");
    for (const Extent& x : reads) require_disjoint(r, e, x);
    for (const Extent& x : writes) {
      if (!(in_place && &x == &writes.front())) require_disjoint(r, e, x);
    }
  }
  r.part(nullptr);
  return ew;
}

// Reads `nred` axes of a rank-`ndim` shape into `reduced`.
void read_reduced_axes(StepReader& r, int ndim, bool* reduced) {
  int32_t nred = r.next("nred");
  if (nred < 0 || nred > ndim) r.fail(cat("nred is ", nred, " but ndim is ", ndim));
  for (int32_t i = 0; i < nred; ++i) {
    int32_t axis = r.next("axis");
    if (axis < 0 || axis >= ndim) r.fail(cat("axis ", axis, " is out of range for ndim ", ndim));
    if (reduced[axis]) r.fail(cat("axis ", axis, " appears twice"));
    reduced[axis] = true;
  }
}

// Elements of the contiguous output of a reduction over `reduced` axes of `s`.
int64_t kept_count(StepReader& r, const Shape& s, const bool* reduced) {
  int64_t count = 1;
  for (int d = 0; d < s.ndim; ++d) {
    if (!reduced[d]) count = mul_or_fail(r, count, s.dims[d], "output element count");
  }
  return count;
}

void check_contiguous_output(StepReader& r, int32_t buf, int64_t offset, int64_t count, DType dtype);

ElementwiseReduceStep read_elementwise_reduce(StepReader& r) {
  ElementwiseReduceStep st;
  st.ew = read_elementwise(r, [&](const RegisterKinds& regs) {
    r.item("reduce");
    const int32_t op_field = r.next("op");
    st.reg = r.next("reg");
    st.dtype = regs.read(st.reg, "reg");
    st.op = check_reduce_op(r, op_field, st.dtype);
  });
  read_reduced_axes(r, st.ew.shape.ndim, st.reduced);
  r.item("reduce output");
  st.out_buf = r.next("out_buf");
  st.out_offset = r.next("out_offset");
  const int64_t count = kept_count(r, st.ew.shape, st.reduced);
  check_contiguous_output(r, st.out_buf, st.out_offset, count, st.dtype);
  const Extent result = output_range(st.out_buf, st.out_offset, count, st.dtype);
  std::vector<Extent> reads, writes{result};
  for (const ElementwiseInput& in : st.ew.inputs) reads.push_back(view_range(r, st.ew.shape, in.view, in.dtype, "input"));
  for (const ElementwiseOutput& out : st.ew.outputs) writes.push_back(view_range(r, st.ew.shape, out.view, out.dtype, "output"));
  st.epilogue = read_epilogue(r, result, count, st.dtype, reads, writes);
  if (st.dtype == DType::f32 && st.ew.outputs.empty() && !st.ew.instrs.empty()) {
    auto program = std::make_shared<ElementwiseStep>(st.ew);
    program->outputs.push_back({DType::f32, View{}, st.reg});
    st.jit_program = std::move(program);
  }
  return st;
}

// Checks that `count` contiguous elements from `offset` fit in buffer `buf` of `dtype`.
void check_contiguous_output(StepReader& r, int32_t buf, int64_t offset, int64_t count, DType dtype) {
  if (count == 0) return use_buffer(r, "view", buf, dtype, -1);
  if (offset < 0) r.fail(cat("out_offset is ", offset));
  use_buffer(r, "view", buf, dtype, add_or_fail(r, offset, count - 1, "output extent"));
}

// A reduction whose innermost live dim is kept (a sum over the rows of a matrix, a bias gradient)
// would walk memory column by column; it runs as a fused reduction of the identity program instead,
// which folds whole rows into a block of accumulators (elementwise_reduce.cc's columns order).
void as_columns(ReduceStep& st) {
  int last_live = -1;
  for (int d = 0; d < st.shape.ndim; ++d) {
    if (st.shape.dims[d] > 1) last_live = d;
  }
  if (last_live < 0 || st.reduced[last_live]) return;
  auto cols = std::make_shared<ElementwiseReduceStep>();
  cols->ew.shape = st.shape;
  cols->ew.nregs = 1;
  cols->ew.inputs.push_back({st.dtype, st.in});
  cols->op = st.op;
  cols->dtype = st.dtype;
  cols->reg = 0;
  std::copy(st.reduced, st.reduced + kMaxDims, cols->reduced);
  cols->out_buf = st.out_buf;
  cols->out_offset = st.out_offset;
  cols->epilogue = std::move(st.epilogue);
  st.epilogue.reset();
  st.columns = std::move(cols);
}

ReduceStep read_reduce(StepReader& r) {
  ReduceStep st;
  const int32_t op = r.next("op");
  st.dtype = read_dtype(r, "dtype");
  st.op = check_reduce_op(r, op, st.dtype);
  st.shape = read_shape(r);
  r.item("input");
  st.in = read_view(r, st.shape.ndim);
  check_view(r, "view", st.shape, st.in, st.dtype);
  r.item("reduced");
  read_reduced_axes(r, st.shape.ndim, st.reduced);
  r.item("output");
  st.out_buf = r.next("out_buf");
  st.out_offset = r.next("out_offset");
  const int64_t count = kept_count(r, st.shape, st.reduced);
  check_contiguous_output(r, st.out_buf, st.out_offset, count, st.dtype);
  const Extent result = output_range(st.out_buf, st.out_offset, count, st.dtype);
  st.epilogue = read_epilogue(r, result, count, st.dtype, {view_range(r, st.shape, st.in, st.dtype, "input")}, {result});
  as_columns(st);
  return st;
}

ArgReduceStep read_argreduce(StepReader& r) {
  ArgReduceStep st;
  int32_t op = r.next("op");
  if (op < 0 || op > 1) r.fail(cat("op ", op, " is not an argreduce op (0 argmax, 1 argmin)"));
  st.op = static_cast<ArgReduceOp>(op);
  st.dtype = read_dtype(r, "dtype");
  st.shape = read_shape(r);
  r.item("input");
  st.in = read_view(r, st.shape.ndim);
  check_view(r, "view", st.shape, st.in, st.dtype);
  r.item();
  st.axis = r.next("axis");
  if (st.axis < 0 || st.axis >= st.shape.ndim) {
    r.fail(cat("axis ", st.axis, " is out of range for ndim ", st.shape.ndim));
  }
  if (st.shape.dims[st.axis] == 0) r.fail(cat("axis ", st.axis, " is empty"));
  r.item("output");
  st.out_buf = r.next("out_buf");
  st.out_offset = r.next("out_offset");
  check_contiguous_output(r, st.out_buf, st.out_offset, st.shape.numel / st.shape.dims[st.axis],
                          DType::i32);
  return st;
}

MatrixView read_matrix(StepReader& r) {
  MatrixView v;
  v.buf = r.next("buf");
  v.offset = r.next("offset");
  v.sb = r.next("stride_batch");
  v.sr = r.next("stride_row");
  v.sc = r.next("stride_col");
  return v;
}

// Checks a matmul operand of logical shape [batch, rows, cols]; returns its element range, or
// {0, -1} when it is empty.
std::pair<int64_t, int64_t> check_matrix(StepReader& r, const char* what, const MatrixView& m,
                                         int64_t batch, int64_t rows, int64_t cols, DType dtype) {
  r.item(what);
  Shape s;
  int64_t dims[3] = {batch, rows, cols};
  set_shape_dims(r, s, 3, dims);
  View v;
  v.buf = m.buf;
  v.offset = m.offset;
  v.strides[0] = m.sb;
  v.strides[1] = m.sr;
  v.strides[2] = m.sc;
  check_view(r, "view", s, v, dtype);
  if (s.numel == 0) return {0, -1};
  return view_extent(r, s, v);
}

MatmulStep read_matmul(StepReader& r) {
  MatmulStep st;
  st.dtype = read_dtype(r, "dtype");
  if (st.dtype != DType::f32 && st.dtype != DType::i32) {
    r.fail(cat("dtype ", dtype_name(st.dtype), " is not supported (float32 or int32)"));
  }
  st.batch = r.next("batch");
  st.m = r.next("m");
  st.n = r.next("n");
  st.k = r.next("k");
  if (st.batch < 0 || st.m < 0 || st.n < 0 || st.k < 0) {
    r.fail(cat("sizes batch=", st.batch, " m=", st.m, " n=", st.n, " k=", st.k, " must be >= 0"));
  }
  r.item("a");
  st.a = read_matrix(r);
  r.item("b");
  st.b = read_matrix(r);
  r.item("c");
  st.c = read_matrix(r);
  auto ra = check_matrix(r, "a", st.a, st.batch, st.m, st.k, st.dtype);
  auto rb = check_matrix(r, "b", st.b, st.batch, st.k, st.n, st.dtype);
  auto rc = check_matrix(r, "c", st.c, st.batch, st.m, st.n, st.dtype);
  r.item("c");
  auto disjoint = [&](int32_t buf, std::pair<int64_t, int64_t> range, const char* name) {
    if (rc.first > rc.second || range.first > range.second) return;
    r.prog_.disjoint.push_back(DisjointRanges{st.c.buf, rc.first, rc.second, buf, range.first, range.second,
                                              r.context() + "overlaps operand " + name + " in memory", 4, 4});
  };
  disjoint(st.a.buf, ra, "a");
  disjoint(st.b.buf, rb, "b");
  if (r.at_end()) return st;
  const int64_t count = st.batch * st.m * st.n;  // fits: check_matrix computed it
  if (!((st.c.sc == 1 || st.n <= 1) && (st.c.sr == st.n || st.m <= 1) && (st.c.sb == st.m * st.n || st.batch <= 1))) {
    r.fail("must be contiguous ([m * n, n, 1]) when the step has an epilogue");
  }
  const int size = static_cast<int>(dtype_size(st.dtype));
  const Extent result{st.c.buf, count == 0 ? 0 : st.c.offset, count == 0 ? -1 : st.c.offset + count - 1, size, "result"};
  st.epilogue = read_epilogue(r, result, count, st.dtype,
                              {{st.a.buf, ra.first, ra.second, size, "operand a"}, {st.b.buf, rb.first, rb.second, size, "operand b"}},
                              {result});
  return st;
}


void check_buffer_table(const BufferDesc* bufs, size_t nbufs) {
  if (nbufs > 0 && bufs == nullptr) fail_run("buffer table is null");
  for (size_t i = 0; i < nbufs; ++i) {
    if (!is_dtype_code(bufs[i].dtype)) fail_run(cat("buffer ", i, " has unknown dtype code ", bufs[i].dtype));
    if (bufs[i].length > 0 && bufs[i].data == nullptr) fail_run(cat("buffer ", i, " has no storage"));
  }
}

// The message of the first use in program order that the buffer table does not satisfy.
[[noreturn]] void fail_first_bad_use(const Program& prog, const BufferDesc* bufs, size_t nbufs) {
  for (const BufferUse& u : prog.uses) {
    if (static_cast<size_t>(u.buf) >= nbufs) {
      fail_run(cat(u.context, " uses buffer ", u.buf, " but there are ", nbufs, " buffers"));
    }
    const BufferDesc& b = bufs[u.buf];
    if (b.dtype != static_cast<int>(u.dtype)) {
      fail_run(cat(u.context, " has dtype ", dtype_name(u.dtype), " but buffer ", u.buf, " holds ",
                   dtype_name(static_cast<DType>(b.dtype))));
    }
    if (u.hi >= 0 && static_cast<uint64_t>(u.hi) >= b.length) {
      fail_run(cat(u.context, " reaches element ", u.hi, " but buffer ", u.buf, " has ", b.length,
                   " elements"));
    }
  }
  fail_run("the buffer table does not match the program");  // unreachable if needs match uses
}

}  // namespace

void check_buffers(const Program& prog, const BufferDesc* bufs, size_t nbufs) {
  check_buffer_table(bufs, nbufs);
  if (prog.needs.size() > nbufs) fail_first_bad_use(prog, bufs, nbufs);
  for (size_t i = 0; i < prog.needs.size(); ++i) {
    const BufferNeed& need = prog.needs[i];
    if (need.dtype == -1) continue;
    if (need.dtype != bufs[i].dtype || need.length > bufs[i].length) fail_first_bad_use(prog, bufs, nbufs);
  }
  // Byte address of element `i` of buffer `buf`, whose elements are `size` bytes.
  auto addr = [&](int32_t buf, int64_t i, int size) {
    return reinterpret_cast<uintptr_t>(bufs[buf].data) + static_cast<uintptr_t>(i) * static_cast<uintptr_t>(size);
  };
  for (const DisjointRanges& d : prog.disjoint) {
    if (addr(d.buf_a, d.lo_a, d.size_a) < addr(d.buf_b, d.hi_b + 1, d.size_b) &&
        addr(d.buf_b, d.lo_b, d.size_b) < addr(d.buf_a, d.hi_a + 1, d.size_a)) {
      fail_run(d.message);
    }
  }
}

Program decode_program(const int32_t* code, size_t code_len, const double* consts, size_t nconsts) {
  if (nconsts > 0 && consts == nullptr) fail_run("consts is null");
  if (code_len < 3 || code == nullptr) {
    fail_run(cat("code has ", code_len, " ints but the header needs 3 (magic, version, nsteps)"));
  }
  if (code[0] != kProgramMagic) fail_run(cat("bad magic ", code[0], " (expected ", kProgramMagic, ")"));
  if (code[1] != kAbiVersion) fail_run(cat("ABI version ", code[1], " is not supported (expected 1)"));
  int32_t nsteps = code[2];
  if (nsteps < 0) fail_run(cat("nsteps is ", nsteps));
  Program prog;
  prog.consts.assign(consts, consts + nconsts);
  size_t pos = 3;
  for (int32_t i = 0; i < nsteps; ++i) {
    if (code_len - pos < 2) fail_run(cat("step ", i, ": code ends before the step header (kind, len)"));
    int32_t kind = code[pos];
    int32_t len = code[pos + 1];
    pos += 2;
    if (kind < 1 || kind > 9) fail_run(cat("step ", i, ": unknown step kind ", kind));
    if (len < 0 || static_cast<size_t>(len) > code_len - pos) {
      fail_run(cat("step ", i, " (", step_kind_name(kind), "): len ", len, " does not fit the ",
                   code_len - pos, " ints left in code"));
    }
    StepReader r(code + pos, static_cast<size_t>(len), static_cast<size_t>(i), kind, prog);
    switch (static_cast<StepKind>(kind)) {
      case StepKind::elementwise: prog.steps.emplace_back(read_elementwise(r)); break;
      case StepKind::reduce: prog.steps.emplace_back(read_reduce(r)); break;
      case StepKind::argreduce: prog.steps.emplace_back(read_argreduce(r)); break;
      case StepKind::matmul: prog.steps.emplace_back(read_matmul(r)); break;
      case StepKind::gather: prog.steps.emplace_back(read_gather(r)); break;
      case StepKind::scatter: prog.steps.emplace_back(read_scatter(r)); break;
      case StepKind::sort: prog.steps.emplace_back(read_sort(r)); break;
      case StepKind::scan: prog.steps.emplace_back(read_scan(r)); break;
      case StepKind::elementwise_reduce: prog.steps.emplace_back(read_elementwise_reduce(r)); break;
    }
    r.finish();
    pos += static_cast<size_t>(len);
  }
  if (pos != code_len) {
    fail_run(cat("code has ", code_len - pos, " ints after the last of its ", nsteps, " steps"));
  }
  return prog;
}

}  // namespace metalgrad::cpu
