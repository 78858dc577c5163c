// Elementwise programs with a fused reduction (step kind 5): the program runs once at every index of
// its shape, storing its element outputs, and one register is folded over the reduced axes, so the
// reduced operand never goes to memory.
//
// Two loop orders, chosen by the innermost dim:
// - rows: the innermost dim is reduced. Each output walks its reduced space in runs of up to kTile
//   elements along the innermost reduced dim, folding each tile into one accumulator.
// - columns: the innermost dim is kept. Outputs are taken kTile at a time along it; for every
//   reduced index a run of the block is computed and folded into a tile of accumulators, so loads
//   stay contiguous (e.g. a bias gradient, the sum over a batch axis).
// Float sums and products accumulate in double, so the result does not depend on the loop order.
#include <algorithm>
#include <array>
#include <limits>
#include <memory>
#include <new>
#include <vector>

#include "executors.h"
#include "kernels.h"
#include "scalar.h"
#include "tile_io.h"

namespace metalgrad::cpu {
namespace {

constexpr int64_t kTile = 512;

struct AlignedFree {
  void operator()(void* p) const { ::operator delete(p, std::align_val_t(64)); }
};

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

  static void store(char* out, int64_t i, A a) {
    if constexpr (K == DType::f32) reinterpret_cast<float*>(out)[i] = static_cast<float>(a);
    else if constexpr (K == DType::boolean) reinterpret_cast<uint8_t*>(out)[i] = a != 0;
    else reinterpret_cast<T*>(out)[i] = static_cast<T>(a);
  }
};

class Runner {
 public:
  Runner(const ElementwiseReduceStep& st, const double* consts, const BufferDesc* bufs) : st_(st), ew_(st.ew) {
    nin_ = static_cast<int>(ew_.inputs.size());
    nops_ = nin_ + static_cast<int>(ew_.outputs.size());
    std::vector<const int64_t*> strides;
    for (const auto& in : ew_.inputs) {
      strides.push_back(in.view.strides);
      bases_.push_back(base_of(in.view, in.dtype, bufs));
      dtypes_.push_back(in.dtype);
    }
    for (const auto& out : ew_.outputs) {
      strides.push_back(out.view.strides);
      bases_.push_back(base_of(out.view, out.dtype, bufs));
      dtypes_.push_back(out.dtype);
    }
    // Output strides of the reduction (contiguous over the kept dims) ride along as one more operand.
    int64_t out_strides[kMaxDims] = {};
    for (int d = ew_.shape.ndim - 1, s = 1; d >= 0; --d) {
      if (st.reduced[d]) continue;
      out_strides[d] = s;
      s *= static_cast<int>(ew_.shape.dims[d]);
    }
    strides.push_back(out_strides);
    int last_live = -1;
    for (int d = 0; d < ew_.shape.ndim; ++d) {
      if (ew_.shape.dims[d] == 1) continue;
      add_dim(st.reduced[d] ? red_ : kept_, ew_.shape.dims[d], strides, d);
      last_live = d;
    }
    columns_ = last_live >= 0 && !st.reduced[last_live];
    // A part with no live dims iterates once.
    for (Part* p : {&kept_, &red_}) {
      if (p->ndim > 0) continue;
      p->ndim = 1;
      p->dims[0] = 1;
      p->strides.assign(strides.size(), {});
    }
    out_ = static_cast<char*>(bufs[st.out_buf].data) + st.out_offset * static_cast<int64_t>(dtype_size(st.dtype));
    const int64_t ntiles = ew_.nregs + (columns_ ? 2 : 0);  // + a double accumulator tile
    regs_.reset(static_cast<char*>(::operator new(static_cast<size_t>(ntiles) * kTile * 4, std::align_val_t(64))));
    bind(consts);
  }

  void run() {
    switch (st_.op) {
      case ReduceOp::sum: return by_kind<ReduceOp::sum>();
      case ReduceOp::prod: return by_kind<ReduceOp::prod>();
      case ReduceOp::max: return by_kind<ReduceOp::max>();
      case ReduceOp::min: return by_kind<ReduceOp::min>();
    }
  }

 private:
  static char* base_of(const View& v, DType dtype, const BufferDesc* bufs) {
    return static_cast<char*>(bufs[v.buf].data) + v.offset * static_cast<int64_t>(dtype_size(dtype));
  }

  char* reg(int32_t r) const { return regs_.get() + static_cast<int64_t>(r) * kTile * 4; }

  void bind(const double* consts) {
    for (const Instr& in : ew_.instrs) {
      const OpForm form = op_info(in.op).form;
      BoundInstr b;
      b.fn = instr_kernel(in.op, in.kind, form == OpForm::convert ? static_cast<DType>(in.b) : in.kind);
      b.dst = reg(in.dst);
      if (form == OpForm::constant) b.imm = const_bits(in.kind, consts[in.a]);
      else b.a = reg(in.a);
      if (form == OpForm::binary || form == OpForm::compare || form == OpForm::select) b.b = reg(in.b);
      if (form == OpForm::select) b.c = reg(in.c);
      bound_.push_back(b);
    }
  }

  // Runs the program on n elements: operand op's elements start at off[op] with stride step[op].
  void compute(const int64_t* off, const int64_t* step, int64_t n) {
    for (int i = 0; i < nin_; ++i) {
      load_any(dtypes_[i], reg(i), bases_[i] + off[i] * static_cast<int64_t>(dtype_size(dtypes_[i])), step[i], n);
    }
    for (const BoundInstr& b : bound_) b.fn(b, n);
    for (int o = nin_; o < nops_; ++o) {
      const DType dt = dtypes_[o];
      store_any(dt, bases_[o] + off[o] * static_cast<int64_t>(dtype_size(dt)), reg(ew_.outputs[o - nin_].reg), step[o], n);
    }
  }

  template <ReduceOp Op>
  void by_kind() {
    switch (st_.dtype) {
      case DType::f32: return loop<Fold<Op, DType::f32>>();
      case DType::i32: return loop<Fold<Op, DType::i32>>();
      case DType::u32: return loop<Fold<Op, DType::u32>>();
      case DType::boolean:
        if constexpr (Op == ReduceOp::max || Op == ReduceOp::min) loop<Fold<Op, DType::boolean>>();
        return;
    }
  }

  template <class F>
  void loop() {
    const int nall = nops_ + 1;  // + the reduction output
    const int out_op = nops_;
    std::vector<int64_t> zero(nall, 0), step(nall), off(nall), at(nall), scratch1(nall), scratch2(nall);
    const int64_t total_red = [&] {
      int64_t t = 1;
      for (int d = 0; d < red_.ndim; ++d) t *= red_.dims[d];
      return t;
    }();
    const auto* vals = reinterpret_cast<const typename F::T*>(reg(st_.reg));
    if (!columns_) {
      // Rows: one accumulator per output, the reduced space walked along its innermost dim.
      const int rin = red_.ndim - 1;
      for (int op = 0; op < nall; ++op) step[op] = red_.strides[op][rin];
      const int kin = kept_.ndim - 1;
      for_each_row(kept_, nall, zero.data(), scratch1.data(), [&](const int64_t* row) {
        for (int64_t k = 0; k < kept_.dims[kin]; ++k) {
          for (int op = 0; op < nall; ++op) off[op] = row[op] + k * kept_.strides[op][kin];
          typename F::A acc = F::identity();
          if (total_red > 0) {
            for_each_row(red_, nall, off.data(), scratch2.data(), [&](const int64_t* start) {
              for (int64_t j = 0; j < red_.dims[rin]; j += kTile) {
                const int64_t n = std::min(kTile, red_.dims[rin] - j);
                for (int op = 0; op < nall; ++op) at[op] = start[op] + j * step[op];
                compute(at.data(), step.data(), n);
                for (int64_t i = 0; i < n; ++i) acc = F::combine(acc, vals[i]);
              }
            });
          }
          F::store(out_, off[out_op], acc);
        }
      });
      return;
    }
    // Columns: kTile outputs along the innermost kept dim share a tile of accumulators.
    const int kin = kept_.ndim - 1;
    for (int op = 0; op < nall; ++op) step[op] = kept_.strides[op][kin];
    auto* acc = reinterpret_cast<typename F::A*>(reg(ew_.nregs));
    // Every reduced index, the innermost reduced dim included, is one run of the block: walk the
    // reduced dims as the outer dims of a part whose last dim is a single step.
    Part all = red_;
    all.dims[all.ndim] = 1;
    for (int op = 0; op < nall; ++op) all.strides[op][all.ndim] = 0;
    ++all.ndim;
    for_each_row(kept_, nall, zero.data(), scratch1.data(), [&](const int64_t* row) {
      for (int64_t k = 0; k < kept_.dims[kin]; k += kTile) {
        const int64_t n = std::min(kTile, kept_.dims[kin] - k);
        std::fill(acc, acc + n, F::identity());
        for (int op = 0; op < nall; ++op) off[op] = row[op] + k * step[op];
        if (total_red > 0) {
          for_each_row(all, nall, off.data(), scratch2.data(), [&](const int64_t* at) {
            compute(at, step.data(), n);
            for (int64_t i = 0; i < n; ++i) acc[i] = F::combine(acc[i], vals[i]);
          });
        }
        for (int64_t i = 0; i < n; ++i) F::store(out_, off[out_op] + i, acc[i]);
      }
    });
  }

  const ElementwiseReduceStep& st_;
  const ElementwiseStep& ew_;
  int nin_ = 0, nops_ = 0;
  std::vector<char*> bases_;
  std::vector<DType> dtypes_;
  Part kept_, red_;
  bool columns_ = false;
  char* out_ = nullptr;
  std::unique_ptr<char, AlignedFree> regs_;
  std::vector<BoundInstr> bound_;
};

}  // namespace

void run_elementwise_reduce(const ElementwiseReduceStep& st, const double* consts, const BufferDesc* bufs) {
  int64_t out_count = 1;
  for (int d = 0; d < st.ew.shape.ndim; ++d) {
    if (!st.reduced[d]) out_count *= st.ew.shape.dims[d];
  }
  if (out_count == 0) return;
  Runner(st, consts, bufs).run();
}

}  // namespace metalgrad::cpu
