// Decoding of the indexing steps (kinds 5-8, native/ABI.md).
#include <climits>
#include <initializer_list>

#include "program_reader.h"

namespace metalgrad::cpu::decode {
namespace {

// ---- Indexing steps (kinds 5-8): operands are contiguous blocks; indices are data, so the
// executors clamp or skip them at run time.

Block read_block(StepReader& r, const char* what, int64_t count, DType dtype) {
  r.item(what);
  Block b;
  b.buf = r.next("buf");
  b.offset = r.next("offset");
  if (count == 0) {
    use_buffer(r, "block", b.buf, dtype, -1);
    return b;
  }
  if (b.offset < 0) r.fail(cat("offset is ", b.offset));
  use_buffer(r, "block", b.buf, dtype, add_or_fail(r, b.offset, count - 1, "block extent"));
  return b;
}

int64_t read_size(StepReader& r, const char* field) {
  int32_t v = r.next(field);
  if (v < 0) r.fail(cat(field, " is ", v, " (must be >= 0)"));
  return v;
}

int64_t product(StepReader& r, std::initializer_list<int64_t> xs) {
  int64_t n = 1;
  for (int64_t x : xs) n = mul_or_fail(r, n, x, "element count");
  return n;
}

IndexDims read_index_dims(StepReader& r) {
  IndexDims d;
  d.nb = read_size(r, "nb");
  d.np = read_size(r, "np");
  d.n = read_size(r, "n");
  d.ns = read_size(r, "ns");
  d.nq = read_size(r, "nq");
  return d;
}

// The written block must not share a buffer with what the step reads: the same buffer index is
// rejected here, and the same storage under two indices on every run.
void check_distinct(StepReader& r, const char* out_name, const Block& out, int64_t out_count, DType out_dtype,
                    const Block& a, int64_t a_count, DType a_dtype, const char* a_name) {
  r.item(out_name);
  if (out.buf == a.buf) r.fail(cat("uses buffer ", out.buf, ", which ", a_name, " reads"));
  if (out_count == 0 || a_count == 0) return;
  r.prog_.disjoint.push_back(DisjointRanges{out.buf, out.offset, out.offset + out_count - 1, a.buf, a.offset,
                                            a.offset + a_count - 1, r.context() + "overlaps " + a_name + " in memory",
                                            static_cast<int>(dtype_size(out_dtype)), static_cast<int>(dtype_size(a_dtype))});
}

}  // namespace

GatherStep read_gather(StepReader& r) {
  GatherStep st;
  st.dtype = read_dtype(r, "dtype");
  st.dims = read_index_dims(r);
  const IndexDims& d = st.dims;
  const int64_t nout = product(r, {d.nb, d.np, d.ns, d.nq});
  if (d.n == 0 && nout > 0) r.fail("n is 0 but the output is not empty (nothing to gather from)");
  const int64_t nx = product(r, {d.nb, d.np, d.n, d.nq}), nidx = product(r, {d.nb, d.ns});
  st.x = read_block(r, "x", nx, st.dtype);
  st.idx = read_block(r, "idx", nidx, DType::i32);
  st.out = read_block(r, "out", nout, st.dtype);
  check_distinct(r, "out", st.out, nout, st.dtype, st.x, nx, st.dtype, "x");
  check_distinct(r, "out", st.out, nout, st.dtype, st.idx, nidx, DType::i32, "idx");
  return st;
}

ScatterStep read_scatter(StepReader& r) {
  ScatterStep st;
  int32_t op = r.next("op");
  if (op < 0 || op > 4) r.fail(cat("op ", op, " is not a scatter op (0 add, 1 set, 2 mul, 3 min, 4 max)"));
  st.op = static_cast<ScatterOp>(op);
  st.dtype = read_dtype(r, "dtype");
  if (st.dtype == DType::boolean && (st.op == ScatterOp::add || st.op == ScatterOp::mul)) {
    r.fail("add/mul is not defined on bool");
  }
  int32_t mode = r.next("mode");
  if (mode < 0 || mode > 1) r.fail(cat("mode ", mode, " is not a scatter mode (0 clip, 1 drop)"));
  st.mode = static_cast<ScatterMode>(mode);
  st.dims = read_index_dims(r);
  const IndexDims& d = st.dims;
  const int64_t nupd = product(r, {d.nb, d.np, d.ns, d.nq});
  if (d.n == 0 && nupd > 0 && st.mode == ScatterMode::clip) {
    r.fail("n is 0 but there are updates (clip mode has no element to clamp to)");
  }
  const int64_t nidx = product(r, {d.nb, d.ns}), nout = product(r, {d.nb, d.np, d.n, d.nq});
  st.upd = read_block(r, "upd", nupd, st.dtype);
  st.idx = read_block(r, "idx", nidx, DType::i32);
  st.out = read_block(r, "out", nout, st.dtype);
  check_distinct(r, "out", st.out, nout, st.dtype, st.upd, nupd, st.dtype, "upd");
  check_distinct(r, "out", st.out, nout, st.dtype, st.idx, nidx, DType::i32, "idx");
  return st;
}

SortStep read_sort(StepReader& r) {
  SortStep st;
  st.dtype = read_dtype(r, "dtype");
  int32_t desc = r.next("descending");
  if (desc != 0 && desc != 1) r.fail(cat("descending is ", desc, " (must be 0 or 1)"));
  st.descending = desc == 1;
  st.rows = read_size(r, "rows");
  st.n = read_size(r, "n");
  if (st.n > INT32_MAX) r.fail("n does not fit int32 indices");
  const int64_t count = product(r, {st.rows, st.n});
  st.in = read_block(r, "in", count, st.dtype);
  st.out = read_block(r, "out", count, st.dtype);
  st.idx = read_block(r, "idx", count, DType::i32);
  check_distinct(r, "out", st.out, count, st.dtype, st.in, count, st.dtype, "in");
  check_distinct(r, "out", st.out, count, st.dtype, st.idx, count, DType::i32, "idx");
  check_distinct(r, "idx", st.idx, count, DType::i32, st.in, count, st.dtype, "in");
  return st;
}

ScanStep read_scan(StepReader& r) {
  ScanStep st;
  const int32_t op = r.next("op");
  st.dtype = read_dtype(r, "dtype");
  st.op = check_reduce_op(r, op, st.dtype, "scan");
  int32_t rev = r.next("reverse");
  if (rev != 0 && rev != 1) r.fail(cat("reverse is ", rev, " (must be 0 or 1)"));
  st.reverse = rev == 1;
  st.outer = read_size(r, "outer");
  st.n = read_size(r, "n");
  st.inner = read_size(r, "inner");
  const int64_t count = product(r, {st.outer, st.n, st.inner});
  st.in = read_block(r, "in", count, st.dtype);
  st.out = read_block(r, "out", count, st.dtype);
  r.item("out");
  if (st.out.buf == st.in.buf && st.out.offset != st.in.offset) {
    r.fail("shares a buffer with in at another offset (in place must be at the same offset)");
  }
  return st;
}

}  // namespace metalgrad::cpu::decode
