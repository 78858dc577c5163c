// Elementwise programs with a fused reduction (step kind 9): the program runs once at every index of
// its shape, storing its element outputs, and one register is folded over the reduced axes, so the
// reduced operand never goes to memory.
//
// Two loop orders, chosen by the innermost dim:
// - rows: the innermost dim is reduced. Each output walks its reduced space in segments of
//   kSegment elements, each in runs of up to kTile along the innermost reduced dim; a run is folded
//   in eight independent lanes, and segments merge in order (threads share the segments when there
//   are fewer outputs than threads).
// - columns: the innermost dim is kept. Outputs are taken kTile at a time along it; for every
//   reduced index a run of the block is computed and folded into a tile of accumulators, so loads
//   stay contiguous (e.g. a bias gradient, the sum over a batch axis).
// Float sums and products accumulate in double. Threads split the outputs (or blocks of them); each
// output is folded by one task in a fixed order, so results do not depend on the thread count.
#include <algorithm>
#include <array>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <vector>

#include "executors.h"
#include "jit.h"
#include "kernels.h"
#include "scalar.h"
#include "threadpool.h"
#include "tile_io.h"
#include "tiles.h"

namespace metalgrad::cpu {
namespace {

// Live (size > 1) dims split into kept and reduced, merged where every operand is contiguous
// across neighbours of the same part. strides[op][d] are element strides.
struct Part {
  int ndim = 0;
  int64_t dims[kMaxDims] = {};
  std::vector<std::array<int64_t, kMaxDims>> strides;  // per operand
};

void add_dim(Part& p, int64_t size, const std::vector<const int64_t*>& op_strides, int d) {
  const size_t nops = op_strides.size();
  if (p.strides.empty()) p.strides.resize(nops);
  if (p.ndim > 0) {
    bool merge = true;
    for (size_t op = 0; op < nops; ++op) {
      merge = merge && p.strides[op][p.ndim - 1] == op_strides[op][d] * size;
    }
    if (merge) {
      p.dims[p.ndim - 1] *= size;
      for (size_t op = 0; op < nops; ++op) p.strides[op][p.ndim - 1] = op_strides[op][d];
      return;
    }
  }
  p.dims[p.ndim] = size;
  for (size_t op = 0; op < nops; ++op) p.strides[op][p.ndim] = op_strides[op][d];
  ++p.ndim;
}

// Odometer over the outer dims [0, ndim - 1) of a Part (the last dim is walked in runs); calls
// f(off) with each operand's element offset of the row start. `off` (nops entries) is scratch.
template <class F>
void for_each_row(const Part& p, int nops, const int64_t* base, int64_t* off, F f) {
  std::copy(base, base + nops, off);
  int64_t idx[kMaxDims] = {};
  const int outer = p.ndim - 1;
  for (;;) {
    f(static_cast<const int64_t*>(off));
    int d = outer - 1;
    for (; d >= 0; --d) {
      for (int op = 0; op < nops; ++op) off[op] += p.strides[op][d];
      if (++idx[d] < p.dims[d]) break;
      for (int op = 0; op < nops; ++op) off[op] -= p.strides[op][d] * p.dims[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

// Folding values of register kind K with op Op; A is the accumulator type.
template <ReduceOp Op, DType K>
struct Fold {
  using T = reg_t<K>;
  static constexpr bool kWide = K == DType::f32 && (Op == ReduceOp::sum || Op == ReduceOp::prod);
  using A = std::conditional_t<kWide, double, std::conditional_t<K == DType::f32, float, uint32_t>>;

  static A identity() {
    if constexpr (Op == ReduceOp::sum) return A(0);
    else if constexpr (Op == ReduceOp::prod) return A(1);
    else if constexpr (K == DType::f32) {
      return Op == ReduceOp::max ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
    } else if constexpr (K == DType::i32) {
      return static_cast<uint32_t>(Op == ReduceOp::max ? std::numeric_limits<int32_t>::min() : std::numeric_limits<int32_t>::max());
    } else if constexpr (K == DType::u32) {
      return Op == ReduceOp::max ? 0u : std::numeric_limits<uint32_t>::max();
    } else {
      return Op == ReduceOp::max ? 0u : 1u;  // bool: any / all
    }
  }

  static A combine(A a, T x) {
    if constexpr (kWide) {
      return Op == ReduceOp::sum ? a + static_cast<double>(x) : a * static_cast<double>(x);
    } else if constexpr (Op == ReduceOp::sum) {
      return fn::add{}(a, static_cast<A>(x));
    } else if constexpr (Op == ReduceOp::prod) {
      return fn::mul{}(a, static_cast<A>(x));
    } else if constexpr (K == DType::i32) {
      // Signed comparison on the bits held in the accumulator.
      const int32_t v = Op == ReduceOp::max ? std::max(static_cast<int32_t>(a), x) : std::min(static_cast<int32_t>(a), x);
      return static_cast<uint32_t>(v);
    } else if constexpr (Op == ReduceOp::max) {
      return fn::max{}(a, static_cast<A>(x));
    } else {
      return fn::min{}(a, static_cast<A>(x));
    }
  }

  // Combines two partial results (of consecutive parts of the reduced space, a first).
  static A merge(A a, A b) {
    if constexpr (kWide) return Op == ReduceOp::sum ? a + b : a * b;
    else if constexpr (K == DType::f32) return combine(a, b);
    else return combine(a, static_cast<T>(b));
  }

  // Folds n values into `acc` in kLanes independent lanes, so the loop vectorises and the adds do
  // not wait on each other, then the lanes pairwise.
  static A combine_run(A acc, const T* x, int64_t n) {
    constexpr int kLanes = 8;
    A lanes[kLanes];
    for (A& l : lanes) l = identity();
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
      for (int j = 0; j < kLanes; ++j) lanes[j] = combine(lanes[j], x[i + j]);
    }
    for (int j = 0; i < n; ++i, ++j) lanes[j] = combine(lanes[j], x[i]);
    for (int w = kLanes / 2; w > 0; w /= 2) {
      for (int j = 0; j < w; ++j) lanes[j] = merge(lanes[j], lanes[j + w]);
    }
    return merge(acc, lanes[0]);
  }

  static void store(char* out, int64_t i, A a) {
    if constexpr (K == DType::f32) reinterpret_cast<float*>(out)[i] = static_cast<float>(a);
    else if constexpr (K == DType::boolean) reinterpret_cast<uint8_t*>(out)[i] = a != 0;
    else reinterpret_cast<T*>(out)[i] = static_cast<T>(a);
  }
};

// What every task of one step shares: operands, the kept/reduced split, and the output.
class Layout {
 public:
  Layout(const ElementwiseReduceStep& st, const BufferDesc* bufs, const ElementwiseRanges* epi)
      : st(st), ew(st.ew), epi(epi) {
    nin = static_cast<int>(ew.inputs.size());
    nops = nin + static_cast<int>(ew.outputs.size());
    std::vector<const int64_t*> strides;
    for (const auto& in : ew.inputs) {
      strides.push_back(in.view.strides);
      bases.push_back(base_of(in.view, in.dtype, bufs));
      dtypes.push_back(in.dtype);
    }
    for (const auto& out : ew.outputs) {
      strides.push_back(out.view.strides);
      bases.push_back(base_of(out.view, out.dtype, bufs));
      dtypes.push_back(out.dtype);
    }
    // Output strides of the reduction (contiguous over the kept dims) ride along as one more operand.
    int64_t out_strides[kMaxDims] = {};
    for (int d = ew.shape.ndim - 1, s = 1; d >= 0; --d) {
      if (st.reduced[d]) continue;
      out_strides[d] = s;
      s *= static_cast<int>(ew.shape.dims[d]);
    }
    strides.push_back(out_strides);
    int last_live = -1;
    for (int d = 0; d < ew.shape.ndim; ++d) {
      if (ew.shape.dims[d] == 1) continue;
      add_dim(st.reduced[d] ? red : kept, ew.shape.dims[d], strides, d);
      last_live = d;
    }
    columns = last_live >= 0 && !st.reduced[last_live];
    // A part with no live dims iterates once.
    for (Part* p : {&kept, &red}) {
      if (p->ndim > 0) continue;
      p->ndim = 1;
      p->dims[0] = 1;
      p->strides.assign(strides.size(), {});
    }
    out = static_cast<char*>(bufs[st.out_buf].data) + st.out_offset * static_cast<int64_t>(dtype_size(st.dtype));
    total_red = 1;
    for (int d = 0; d < red.ndim; ++d) total_red *= red.dims[d];
  }

  static char* base_of(const View& v, DType dtype, const BufferDesc* bufs) {
    return static_cast<char*>(bufs[v.buf].data) + v.offset * static_cast<int64_t>(dtype_size(dtype));
  }

  const ElementwiseReduceStep& st;
  const ElementwiseStep& ew;
  const ElementwiseRanges* epi;  // the step's epilogue, run on each finished block of outputs
  int nin = 0, nops = 0;
  std::vector<char*> bases;
  std::vector<DType> dtypes;
  Part kept, red;
  bool columns = false;
  char* out = nullptr;
  int64_t total_red = 1;
};

// Reduced elements one task folds at a time when an output's reduced space is long; each segment's
// result is merged in order, so the cut depends only on the shape, never on the thread count.
constexpr int64_t kSegment = int64_t{1} << 16;

// One task's register tiles and bound instructions; runs a range of outputs (rows order) or of
// (kept row, block) pairs (columns order).
template <class F>
class Worker {
 public:
  Worker(const Layout& l, const double* consts)
      : l_(l), consts_(consts), nall_(l.nops + 1), step_(nall_), off_(nall_), at_(nall_), scratch_(nall_) {
    const int64_t ntiles = l.ew.nregs + 2;  // + a tile of double accumulators (columns order)
    regs_.reset(static_cast<char*>(::operator new(static_cast<size_t>(ntiles) * kTile * 4, std::align_val_t(64))));
    bind_protos(step_protos(l.ew, consts, l.st.reg), regs_.get(), bound_);
  }

  // Outputs [o0, o1) in rows order: each folds its reduced space segment by segment.
  void rows(int64_t o0, int64_t o1) {
    int64_t finished = o0;  // outputs before this one have had the epilogue
    for (int64_t o = o0; o < o1; ++o) {
      typename F::A acc = F::identity();
      for (int64_t f = 0; f < l_.total_red; f += kSegment) acc = F::merge(acc, fold(o, f, std::min(l_.total_red, f + kSegment)));
      F::store(l_.out, output_offset(o), acc);
      if (l_.epi && (o + 1 - finished == kTile || o + 1 == o1)) {
        l_.epi->run(finished, o + 1);
        finished = o + 1;
      }
    }
  }

  // Output o's fold of reduced elements [f0, f1) (row-major over the reduced dims), in runs of at
  // most kTile along the innermost reduced dim.
  typename F::A fold(int64_t o, int64_t f0, int64_t f1) {
    const Part& red = l_.red;
    const int rin = red.ndim - 1;
    const int64_t len = red.dims[rin];
    const auto* vals = reinterpret_cast<const typename F::T*>(reg(l_.st.reg));
    prepare_rows();
    kept_offsets(o, l_.kept.ndim);
    typename F::A acc = F::identity();
    for (int64_t f = f0; f < f1;) {
      int64_t row = f / len;
      const int64_t j = f % len, n = std::min({kTile, len - j, f1 - f});
      for (int op = 0; op < nall_; ++op) at_[op] = off_[op] + j * step_[op];
      for (int d = rin - 1; d >= 0; --d) {
        const int64_t i = row % red.dims[d];
        row /= red.dims[d];
        for (int op = 0; op < nall_; ++op) at_[op] += i * red.strides[op][d];
      }
      compute(at_.data(), n);
      acc = F::combine_run(acc, vals, n);
      f += n;
    }
    return acc;
  }

  // Rows order: every run steps along the innermost reduced dim (set once per worker).
  void prepare_rows() {
    if (rows_ready_) return;
    const int rin = l_.red.ndim - 1;
    for (int op = 0; op < nall_; ++op) step_[op] = l_.red.strides[op][rin];
    choose_jit();
    rows_ready_ = true;
  }

  // Where output o goes in the reduction's output.
  int64_t output_offset(int64_t o) {
    kept_offsets(o, l_.kept.ndim);
    return off_[l_.nops];
  }

  // Blocks [b0, b1) in columns order: block b is `width` (<= kTile) outputs of kept row b / nblocks
  // along the innermost kept dim, folded with every reduced index as one run.
  void columns(int64_t b0, int64_t b1, int64_t nblocks, int64_t width, const Part& all_red) {
    const Part& kept = l_.kept;
    const int kin = kept.ndim - 1;
    for (int op = 0; op < nall_; ++op) step_[op] = kept.strides[op][kin];
    choose_jit();
    const auto* vals = reinterpret_cast<const typename F::T*>(reg(l_.st.reg));
    auto* acc = reinterpret_cast<typename F::A*>(reg(l_.ew.nregs));
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t row = b / nblocks, k = (b % nblocks) * width;
      const int64_t n = std::min(width, kept.dims[kin] - k);
      kept_offsets(row, kin);
      for (int op = 0; op < nall_; ++op) off_[op] += k * step_[op];
      std::fill(acc, acc + n, F::identity());
      if (l_.total_red > 0) {
        for_each_row(all_red, nall_, off_.data(), scratch_.data(), [&](const int64_t* at) {
          compute(at, n);
          for (int64_t i = 0; i < n; ++i) acc[i] = F::combine(acc[i], vals[i]);
        });
      }
      for (int64_t i = 0; i < n; ++i) F::store(l_.out, off_[l_.nops] + i, acc[i]);
      if (l_.epi) l_.epi->run(off_[l_.nops], off_[l_.nops] + n);
    }
  }

 private:
  char* reg(int32_t r) const { return regs_.get() + static_cast<int64_t>(r) * kTile * 4; }

  // off_ = every operand's offset of flat index `flat` over the first `ndim` kept dims.
  void kept_offsets(int64_t flat, int ndim) {
    std::fill(off_.begin(), off_.end(), 0);
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t i = flat % l_.kept.dims[d];
      flat /= l_.kept.dims[d];
      for (int op = 0; op < nall_; ++op) off_[op] += i * l_.kept.strides[op][d];
    }
  }

  // The JIT kernel for runs with the current strides (step_), when every input is contiguous or
  // one value along them; it writes the reduced register's run to its tile.
  void choose_jit() {
    jit_.reset();
    const ElementwiseStep* program = l_.st.jit_program.get();
    if (program == nullptr || !jit_enabled() || l_.nin + 1 > kJitMaxOperands) return;
    uint64_t signature = 0;
    for (int i = 0; i < l_.nin; ++i) {
      if (step_[i] == 0) signature |= uint64_t{1} << i;
      else if (step_[i] != 1) return;
    }
    jit_ = jit_kernel_for(*program, consts_, signature);
  }

  // Runs the program on n elements: operand op's elements start at off[op] with stride step_[op].
  void compute(const int64_t* off, int64_t n) {
    if (jit_) {
      std::array<char*, kJitMaxOperands> ptrs{};
      for (int i = 0; i < l_.nin; ++i) ptrs[i] = l_.bases[i] + off[i] * static_cast<int64_t>(dtype_size(l_.dtypes[i]));
      ptrs[l_.nin] = reg(l_.st.reg);
      return jit_->run(ptrs.data(), n);
    }
    for (int i = 0; i < l_.nin; ++i) {
      const DType dt = l_.dtypes[i];
      load_any(dt, reg(i), l_.bases[i] + off[i] * static_cast<int64_t>(dtype_size(dt)), step_[i], n);
    }
    for (const BoundInstr& b : bound_) b.fn(b, n);
    for (int o = l_.nin; o < l_.nops; ++o) {
      const DType dt = l_.dtypes[o];
      store_any(dt, l_.bases[o] + off[o] * static_cast<int64_t>(dtype_size(dt)), reg(l_.ew.outputs[o - l_.nin].reg), step_[o], n);
    }
  }

  const Layout& l_;
  const double* consts_;
  std::shared_ptr<const JitKernel> jit_;
  bool rows_ready_ = false;
  int nall_;
  std::vector<int64_t> step_, off_, at_, scratch_;
  std::unique_ptr<char, AlignedFree> regs_;
  std::vector<BoundInstr> bound_;
};

// Splits the outputs among threads: each output is folded by one task, in a fixed order, so the
// result does not depend on the thread count.
template <class F>
void run_folded(const Layout& l, const double* consts) {
  const int64_t cost = l.ew.shape.numel * static_cast<int64_t>(l.nops + 1 + l.ew.instrs.size());
  const int64_t tasks_wanted = 4 * static_cast<int64_t>(num_threads());
  if (!l.columns) {
    int64_t outputs = 1;
    for (int d = 0; d < l.kept.ndim; ++d) outputs *= l.kept.dims[d];
    const int64_t segments = (l.total_red + kSegment - 1) / kSegment;
    if (outputs < num_threads() && segments > 1) {
      // Few long reductions: threads fold the segments, then each output merges its segments'
      // results in order (the same order rows() uses, so the thread count never shows).
      std::vector<typename F::A> partial(static_cast<size_t>(outputs * segments));
      parallel_for(outputs * segments, cost, [&](int64_t t) {
        const int64_t o = t / segments, f = t % segments * kSegment;
        partial[t] = Worker<F>(l, consts).fold(o, f, std::min(l.total_red, f + kSegment));
      });
      Worker<F> w(l, consts);
      for (int64_t o = 0; o < outputs; ++o) {
        typename F::A acc = F::identity();
        for (int64_t s = 0; s < segments; ++s) acc = F::merge(acc, partial[o * segments + s]);
        F::store(l.out, w.output_offset(o), acc);
      }
      if (l.epi) l.epi->run(0, outputs);
      return;
    }
    const int64_t per = std::max<int64_t>(1, (outputs + tasks_wanted - 1) / tasks_wanted);
    parallel_for((outputs + per - 1) / per, cost, [&](int64_t t) {
      Worker<F>(l, consts).rows(t * per, std::min(outputs, (t + 1) * per));
    });
    return;
  }
  const int kin = l.kept.ndim - 1;
  int64_t rows = 1;
  for (int d = 0; d < kin; ++d) rows *= l.kept.dims[d];
  // Narrower blocks when whole tiles would leave threads idle (a bias gradient: [128, 512] summed
  // over rows is one tile); each output is still folded over every reduced index in order.
  int64_t width = kTile;
  while (width > 128 && rows * ((l.kept.dims[kin] + width - 1) / width) < tasks_wanted) width /= 2;
  const int64_t nblocks = (l.kept.dims[kin] + width - 1) / width;
  const int64_t blocks = rows * nblocks;
  // Every reduced index, the innermost reduced dim included, is one run of a block: walk the
  // reduced dims as the outer dims of a part whose last dim is a single step.
  Part all_red = l.red;
  all_red.dims[all_red.ndim] = 1;
  for (auto& s : all_red.strides) s[all_red.ndim] = 0;
  ++all_red.ndim;
  const int64_t per = std::max<int64_t>(1, (blocks + tasks_wanted - 1) / tasks_wanted);
  parallel_for((blocks + per - 1) / per, cost, [&](int64_t t) {
    Worker<F>(l, consts).columns(t * per, std::min(blocks, (t + 1) * per), nblocks, width, all_red);
  });
}

template <ReduceOp Op>
void run_op(const Layout& l, const double* consts) {
  switch (l.st.dtype) {
    case DType::f32: return run_folded<Fold<Op, DType::f32>>(l, consts);
    case DType::i32: return run_folded<Fold<Op, DType::i32>>(l, consts);
    case DType::u32: return run_folded<Fold<Op, DType::u32>>(l, consts);
    case DType::boolean:
      if constexpr (Op == ReduceOp::max || Op == ReduceOp::min) run_folded<Fold<Op, DType::boolean>>(l, consts);
      return;
  }
}

}  // namespace

void run_elementwise_reduce(const ElementwiseReduceStep& st, const double* consts, const BufferDesc* bufs) {
  int64_t out_count = 1;
  for (int d = 0; d < st.ew.shape.ndim; ++d) {
    if (!st.reduced[d]) out_count *= st.ew.shape.dims[d];
  }
  if (out_count == 0) return;
  std::optional<ElementwiseRanges> epi;
  if (st.epilogue) epi.emplace(*st.epilogue, consts, bufs);
  const Layout layout(st, bufs, epi ? &*epi : nullptr);
  switch (st.op) {
    case ReduceOp::sum: return run_op<ReduceOp::sum>(layout, consts);
    case ReduceOp::prod: return run_op<ReduceOp::prod>(layout, consts);
    case ReduceOp::max: return run_op<ReduceOp::max>(layout, consts);
    case ReduceOp::min: return run_op<ReduceOp::min>(layout, consts);
  }
}

}  // namespace metalgrad::cpu
