// Tile interpreter of fused elementwise steps: load register tiles, run each instruction as a loop
// over the tile, store the outputs.
#include <algorithm>
#include <cstdlib>
#include <array>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <vector>

#include "executors.h"
#include "jit.h"
#include "kernels.h"
#include "layout.h"
#include "threadpool.h"
#include "tile_io.h"
#include "tiles.h"

namespace metalgrad::cpu {
namespace {

// Inputs beyond this many are always copied into their tiles.
constexpr int kMaxInPlaceInputs = 16;
// Smallest share of a step one thread takes.
constexpr int64_t kMinChunk = 32 * kTile;

// The runs of one tile: run r covers tile slots [pos[r], pos[r] + len[r]) and starts at element
// off[r * nops + op] of operand op.
struct TileRuns {
  int n = 0;
  int nops = 0;
  int64_t* pos = nullptr;
  int64_t* len = nullptr;
  int64_t* off = nullptr;
};

// Per-thread scratch reused by every step: register tiles and tile runs grow to the largest step
// seen and are never cleared (every slot is written before it is read), so a small step allocates
// and zeroes nothing.
struct Scratch {
  std::unique_ptr<char, AlignedFree> regs;
  size_t regs_bytes = 0;
  std::vector<int64_t> runs;

  char* registers(size_t bytes) {
    if (bytes > regs_bytes) {
      regs.reset(static_cast<char*>(::operator new(bytes, std::align_val_t(64))));
      regs_bytes = bytes;
    }
    return regs.get();
  }
  // pos, len (max_runs each) and off (max_runs * nops).
  TileRuns tile_runs(int64_t max_runs, int nops) {
    const size_t need = static_cast<size_t>(max_runs) * (2 + static_cast<size_t>(nops));
    if (runs.size() < need) runs.resize(need);
    TileRuns t;
    t.nops = nops;
    t.pos = runs.data();
    t.len = t.pos + max_runs;
    t.off = t.len + max_runs;
    return t;
  }
};
thread_local Scratch scratch;

// Calls f(element offset, tile slot, length) for maximal groups of consecutive runs that continue
// each other in operand op's memory (e.g. a contiguous operand beside a broadcast one), so each
// group is one load or store.
template <class F>
void for_each_span(const TileRuns& runs, int op, int64_t stride, F f) {
  for (int r = 0; r < runs.n;) {
    const int64_t off = runs.off[r * runs.nops + op];
    int64_t len = runs.len[r];
    int next = r + 1;
    while (stride != 0 && next < runs.n && runs.off[next * runs.nops + op] == off + len * stride) {
      len += runs.len[next++];
    }
    f(off, runs.pos[r], len);
    r = next;
  }
}

template <class T, class R>
void load_tile(R* reg, const T* base, int op, int64_t stride, const TileRuns& runs) {
  for_each_span(runs, op, stride, [&](int64_t off, int64_t pos, int64_t len) {
    if constexpr (std::is_same_v<T, uint8_t>) load_bool_run(reg + pos, base + off, stride, len);
    else load_run(reg + pos, base + off, stride, len);
  });
}

template <class T, class R>
void store_tile(T* base, int op, int64_t stride, const R* reg, const TileRuns& runs) {
  for_each_span(runs, op, stride, [&](int64_t off, int64_t pos, int64_t len) {
    if constexpr (std::is_same_v<T, uint8_t>) store_bool_run(base + off, reg + pos, stride, len);
    else store_run(base + off, reg + pos, stride, len);
  });
}

void load(DType dtype, char* reg, const char* base, int op, int64_t stride, const TileRuns& runs) {
  switch (dtype) {
    case DType::f32:
      return load_tile(reinterpret_cast<float*>(reg), reinterpret_cast<const float*>(base), op, stride, runs);
    case DType::i32:
      return load_tile(reinterpret_cast<int32_t*>(reg), reinterpret_cast<const int32_t*>(base), op, stride, runs);
    case DType::u32:
      return load_tile(reinterpret_cast<uint32_t*>(reg), reinterpret_cast<const uint32_t*>(base), op, stride, runs);
    case DType::boolean:
      return load_tile(reinterpret_cast<uint32_t*>(reg), reinterpret_cast<const uint8_t*>(base), op, stride, runs);
  }
}

void store(DType dtype, char* base, int op, int64_t stride, const char* reg, const TileRuns& runs) {
  switch (dtype) {
    case DType::f32:
      return store_tile(reinterpret_cast<float*>(base), op, stride, reinterpret_cast<const float*>(reg), runs);
    case DType::i32:
      return store_tile(reinterpret_cast<int32_t*>(base), op, stride, reinterpret_cast<const int32_t*>(reg), runs);
    case DType::u32:
      return store_tile(reinterpret_cast<uint32_t*>(base), op, stride, reinterpret_cast<const uint32_t*>(reg), runs);
    case DType::boolean:
      return store_tile(reinterpret_cast<uint8_t*>(base), op, stride, reinterpret_cast<const uint32_t*>(reg), runs);
  }
}

// Pointer to element `offset` of view `v`'s buffer, as bytes.
char* view_base(const View& v, DType dtype, const BufferDesc* bufs) {
  return static_cast<char*>(bufs[v.buf].data) + v.offset * static_cast<int64_t>(dtype_size(dtype));
}

// What every chunk of one step shares.
struct StepContext {
  const ElementwiseStep& step;
  const double* consts;
  const CollapsedLayout& layout;
  const std::vector<char*>& bases;
  // Outputs stored with non-temporal stores (bit o: output o).
  uint64_t streamed;
};

// An output at least this large is written with non-temporal stores: it cannot stay in cache for
// its consumer anyway, and ordinary stores would first read every line from memory (half again as much
// traffic for a read-one-write-one chain).
constexpr int64_t kStreamBytes = int64_t{16} << 20;
// In-place inputs are prefetched this many tiles ahead.
constexpr int64_t kPrefetchTiles = 8;

// Shortest innermost run worth a JIT call when a step has several dims (the tile interpreter
// batches short runs into one tile; the JIT takes one call per run).
constexpr int64_t kJitMinRun = 64;

// The step's JIT kernel for this layout (compiled on first use), or nullptr where the interpreter
// runs it: the JIT is off, an operand is strided along the innermost dim, or the step has something
// the JIT does not compile. (Runs of one element read every operand as contiguous.)
std::shared_ptr<const JitKernel> jit_kernel(const StepContext& ctx) {
  const ElementwiseStep& step = ctx.step;
  const CollapsedLayout& layout = ctx.layout;
  const int nin = static_cast<int>(step.inputs.size());
  const int nops = nin + static_cast<int>(step.outputs.size());
  const int inner = layout.ndim - 1;
  if (!jit_enabled() || nops > kJitMaxOperands || (layout.ndim > 1 && layout.dims[inner] < kJitMinRun)) return nullptr;
  uint64_t signature = 0;
  for (int op = 0; op < nops && layout.dims[inner] > 1; ++op) {
    const int64_t stride = layout.stride(op, inner);
    if (stride == 0) signature |= uint64_t{1} << op;
    else if (stride != 1) return nullptr;
  }
  // Non-temporal stores need 64-byte alignment: one run per range, and ranges start at whole tiles.
  for (size_t o = 0; o < step.outputs.size() && layout.ndim == 1; ++o) {
    if ((ctx.streamed >> o & 1) && reinterpret_cast<uintptr_t>(ctx.bases[nin + o]) % 64 == 0) signature |= uint64_t{1} << (32 + o);
  }
  return jit_kernel_for(step, ctx.consts, signature);
}

// Runs [start, end) with the JIT kernel, run by run; returns where it stopped: `end`, or the start of
// a run whose outputs overlap an input (other than exactly, element for element) or each other,
// which the interpreter then takes (it stages such tiles through registers).
int64_t run_jit_range(const StepContext& ctx, const JitKernel& kernel, int64_t start, int64_t end) {
  const ElementwiseStep& step = ctx.step;
  const int nin = static_cast<int>(step.inputs.size());
  const int nops = nin + static_cast<int>(step.outputs.size());
  const uint64_t broadcast = kernel.signature() & 0xffffffffu;
  std::array<char*, kJitMaxOperands> ptrs{};
  std::array<int64_t, kJitMaxOperands> size{};  // bytes per element: 4, or 1 for bools
  for (int op = 0; op < nops; ++op) {
    size[op] = static_cast<int64_t>(dtype_size(op < nin ? step.inputs[op].dtype : step.outputs[op - nin].dtype));
  }
  RowWalker walker(ctx.layout, start);
  while (start < end) {
    const int64_t len = std::min(walker.inner_remaining(), end - start);
    for (int op = 0; op < nops; ++op) ptrs[op] = ctx.bases[op] + walker.offset(op) * size[op];
    auto span_end = [&](int op) { return ptrs[op] + ((broadcast >> op & 1) ? 1 : len) * size[op]; };
    for (int o = nin; o < nops; ++o) {
      for (int op = 0; op < nops; ++op) {
        if (op == o || (op < nin && ptrs[op] == ptrs[o] && size[op] == size[o] && !(broadcast >> op & 1))) continue;
        if (ptrs[op] < span_end(o) && ptrs[o] < span_end(op)) return start;
      }
    }
    kernel.run(ptrs.data(), len);
    walker.advance(len);
    start += len;
  }
  return start;
}

// Runs elements [start, end) of a step: with its JIT kernel where it has one, else with its own
// register tiles and walker.
void run_range(const StepContext& ctx, int64_t start, int64_t end) {
  if (std::shared_ptr<const JitKernel> k = jit_kernel(ctx)) {
    start = run_jit_range(ctx, *k, start, end);
    if (k->signature() >> 32 != 0) stream_fence();
    if (start >= end) return;
  }
  const ElementwiseStep& step = ctx.step;
  const CollapsedLayout& layout = ctx.layout;
  const std::vector<char*>& bases = ctx.bases;
  const int nin = static_cast<int>(step.inputs.size());
  const int nops = nin + static_cast<int>(step.outputs.size());
  const int inner = layout.ndim - 1;

  char* regs = scratch.registers(static_cast<size_t>(std::max<int32_t>(step.nregs, 1)) * kTile * 4);
  auto reg = [&](int32_t r) { return regs + static_cast<int64_t>(r) * kTile * 4; };
  thread_local std::vector<BoundInstr> bound;
  const std::vector<ProtoInstr>& protos = step_protos(step, ctx.consts);
  bind_protos(protos, regs, bound);
  // Operands of instructions that read an input register: when a tile of that input is one
  // contiguous run of 4-byte elements, the instructions read it in place instead of from a copy.
  struct InputUse {
    const void** slot;
    int32_t input;
  };
  thread_local std::vector<InputUse> input_uses;
  input_uses.clear();
  std::array<bool, kMaxInPlaceInputs> in_place{};
  for (int i = 0; i < nin && i < kMaxInPlaceInputs; ++i) {
    in_place[i] = step.inputs[i].dtype != DType::boolean && layout.stride(i, inner) == 1;
  }
  // A broadcast scalar input (every stride 0) that no instruction overwrites fills its tile once
  // per range rather than once per tile.
  thread_local std::vector<char> fill_once;
  fill_once.assign(static_cast<size_t>(nin), 0);
  for (int i = 0; i < nin; ++i) {
    bool scalar = true;
    for (int d = 0; d < layout.ndim; ++d) scalar &= layout.stride(i, d) == 0;
    for (const ProtoInstr& p : protos) scalar &= p.dst != i;
    fill_once[i] = scalar;
  }
  bool filled = false;
  // An input stored as an output straight from its register must be in that register.
  for (const ElementwiseOutput& out : step.outputs) {
    if (out.reg < nin && out.reg < kMaxInPlaceInputs) in_place[out.reg] = false;
  }
  for (size_t k = 0; k < protos.size(); ++k) {
    const ProtoInstr& p = protos[k];
    for (auto [r, slot] : {std::pair{p.a, &bound[k].a}, {p.b, &bound[k].b}, {p.c, &bound[k].c}}) {
      if (r >= 0 && r < nin && r < kMaxInPlaceInputs && in_place[r]) input_uses.push_back({slot, r});
    }
  }
  // Outputs written in place: the last instruction writing the register of a 4-byte output with
  // unit inner stride (that no other output stores) writes straight to memory when the tile is one
  // contiguous run, and later reads of the register read that memory, unless it overlaps an input
  // read in place or another output. Streamed outputs are copied from their tiles instead.
  struct OutputInPlace {
    int32_t output, reg;
    size_t writer;
    char* mem;
  };
  thread_local std::vector<OutputInPlace> direct_outputs;
  thread_local std::vector<std::pair<const void**, size_t>> output_reads;  // slot, index in direct_outputs
  direct_outputs.clear();
  output_reads.clear();
  for (size_t o = 0; o < step.outputs.size(); ++o) {
    const ElementwiseOutput& out = step.outputs[o];
    const int op = nin + static_cast<int>(o);
    if (out.dtype == DType::boolean || layout.stride(op, inner) != 1 || out.reg < nin || (ctx.streamed >> o & 1)) continue;
    bool shared = false;
    for (const ElementwiseOutput& other : step.outputs) shared |= &other != &out && other.reg == out.reg;
    size_t w = protos.size();
    while (w > 0 && protos[w - 1].dst != out.reg) --w;
    if (shared || w == 0) continue;
    direct_outputs.push_back({static_cast<int32_t>(o), out.reg, w - 1, nullptr});
  }
  for (size_t d = 0; d < direct_outputs.size(); ++d) {
    for (size_t k = direct_outputs[d].writer + 1; k < protos.size(); ++k) {
      const ProtoInstr& p = protos[k];
      for (auto [r, slot] : {std::pair{p.a, &bound[k].a}, {p.b, &bound[k].b}, {p.c, &bound[k].c}}) {
        if (r == direct_outputs[d].reg) output_reads.push_back({slot, d});
      }
    }
  }

  // A tile is up to kTile consecutive elements, made of runs along the innermost dim.
  TileRuns runs = scratch.tile_runs(std::min(kTile, end - start) + 1, nops);
  std::array<const char*, kMaxInPlaceInputs> direct{};
  RowWalker walker(layout, start);
  int64_t remaining = end - start;
  while (remaining > 0) {
    int64_t count = 0;
    runs.n = 0;
    while (count < kTile && remaining > 0) {
      const int64_t len = std::min({kTile - count, walker.inner_remaining(), remaining});
      runs.pos[runs.n] = count;
      runs.len[runs.n] = len;
      for (int op = 0; op < nops; ++op) runs.off[runs.n * nops + op] = walker.offset(op);
      walker.advance(len);
      count += len;
      remaining -= len;
      ++runs.n;
    }
    for (int i = 0; i < nin; ++i) {
      if (fill_once[i]) {
        if (!filled) load_any(step.inputs[i].dtype, reg(i), bases[i] + runs.off[i] * static_cast<int64_t>(dtype_size(step.inputs[i].dtype)), 0, kTile);
        continue;
      }
      if (i < kMaxInPlaceInputs && in_place[i]) {
        direct[i] = runs.n == 1 ? bases[i] + runs.off[i] * 4 : nullptr;
        if (direct[i] != nullptr) {
          // Reading the input is the step's one trip to memory: ask for later tiles early.
          // (Prefetches never fault, even past the end of the buffer.)
          for (int64_t b = 0; b < count * 4; b += 64) __builtin_prefetch(direct[i] + kPrefetchTiles * kTile * 4 + b);
          continue;
        }
      }
      load(step.inputs[i].dtype, reg(i), bases[i], i, layout.stride(i, inner), runs);
    }
    filled = true;
    for (const InputUse& u : input_uses) *u.slot = direct[u.input] != nullptr ? direct[u.input] : reg(u.input);
    // A direct output must not touch memory that an input read in place or any other output
    // touches in this tile (a single run, so each operand's span is one strided range).
    auto span = [&](int op, DType dt) {
      const int64_t stride = layout.stride(op, inner), size = static_cast<int64_t>(dtype_size(dt));
      const char* first = bases[op] + runs.off[op] * size;
      const char* last = first + (count - 1) * stride * size;
      return std::pair{std::min(first, last), std::max(first, last) + size};
    };
    auto overlaps = [](std::pair<const char*, const char*> x, std::pair<const char*, const char*> y) {
      return x.first < y.second && y.first < x.second;
    };
    for (OutputInPlace& d : direct_outputs) {
      const int op = nin + d.output;
      d.mem = nullptr;
      bound[d.writer].dst = reg(d.reg);
      if (runs.n != 1) continue;
      const auto mine = span(op, DType::f32);
      bool clear = true;
      for (int i = 0; clear && i < nin && i < kMaxInPlaceInputs; ++i) {
        if (in_place[i] && direct[i] != nullptr) clear = !overlaps(mine, span(i, step.inputs[i].dtype));
      }
      for (size_t o = 0; clear && o < step.outputs.size(); ++o) {
        if (static_cast<int32_t>(o) != d.output) clear = !overlaps(mine, span(nin + static_cast<int>(o), step.outputs[o].dtype));
      }
      if (clear) {
        d.mem = bases[op] + runs.off[op] * 4;
        bound[d.writer].dst = d.mem;
      }
    }
    for (const auto& [slot, d] : output_reads) *slot = direct_outputs[d].mem != nullptr ? direct_outputs[d].mem : reg(direct_outputs[d].reg);
    for (const BoundInstr& b : bound) b.fn(b, count);
    size_t next_direct = 0;
    for (size_t o = 0; o < step.outputs.size(); ++o) {
      const bool written = next_direct < direct_outputs.size() && direct_outputs[next_direct].output == static_cast<int32_t>(o);
      if (written && direct_outputs[next_direct++].mem != nullptr) continue;
      const ElementwiseOutput& out = step.outputs[o];
      const int op = nin + static_cast<int>(o);
      if ((ctx.streamed >> o & 1) && runs.n == 1) stream_run(bases[op] + runs.off[op] * 4, reg(out.reg), count);
      else store(out.dtype, bases[op], op, layout.stride(op, inner), reg(out.reg), runs);
    }
  }
  if (ctx.streamed != 0) stream_fence();
}

}  // namespace

namespace {

std::vector<ProtoInstr> plan_protos(const ElementwiseStep& step, const double* consts, int32_t also_read) {
  const size_t n = step.instrs.size();
  std::vector<ProtoInstr> protos(n);
  std::vector<int> writer(static_cast<size_t>(step.nregs), -1);  // last instruction to write each register
  std::vector<char> needed(n, 0);
  auto use = [&](int32_t r) {
    if (writer[r] >= 0) needed[writer[r]] = 1;
    return r;
  };
  auto const_writer = [&](int32_t r) {
    const int w = writer[r];
    return w >= 0 && step.instrs[w].op == ScalarOp::const_ ? w : -1;
  };
  for (size_t i = 0; i < n; ++i) {
    const Instr& in = step.instrs[i];
    const OpForm form = op_info(in.op).form;
    ProtoInstr& p = protos[i];
    p.fn = instr_kernel(in.op, in.kind, form == OpForm::convert ? static_cast<DType>(in.b) : in.kind);
    p.dst = in.dst;
    if (form == OpForm::constant) {
      p.imm = const_bits(in.kind, consts[in.a]);
    } else if (form == OpForm::binary || form == OpForm::compare) {
      const int ca = const_writer(in.a), cb = const_writer(in.b);
      InstrKernel k = nullptr;
      if (cb >= 0 && (k = const_operand_kernel(in.op, in.kind, 1)) != nullptr) {
        p.fn = k;
        p.a = use(in.a);
        p.imm = protos[cb].imm;
      } else if (ca >= 0 && (k = const_operand_kernel(in.op, in.kind, 0)) != nullptr) {
        p.fn = k;
        p.b = use(in.b);
        p.imm = protos[ca].imm;
      } else {
        p.a = use(in.a);
        p.b = use(in.b);
      }
    } else {
      p.a = use(in.a);
      if (form == OpForm::select) {
        p.b = use(in.b);
        p.c = use(in.c);
      }
    }
    writer[in.dst] = static_cast<int>(i);
  }
  for (const ElementwiseOutput& out : step.outputs) use(out.reg);
  if (also_read >= 0) use(also_read);
  std::vector<ProtoInstr> kept;
  kept.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (step.instrs[i].op != ScalarOp::const_ || needed[i]) kept.push_back(protos[i]);
  }
  return kept;
}

}  // namespace

const std::vector<ProtoInstr>& step_protos(const ElementwiseStep& step, const double* consts, int32_t also_read) {
  std::shared_ptr<const std::vector<ProtoInstr>> protos = std::atomic_load(&step.protos);
  if (!protos) {
    // Two threads may both plan a step on its first run: the first to publish wins and the other's
    // (equal) plan is dropped, so the step's plan is set once and lives as long as the step.
    auto planned = std::make_shared<const std::vector<ProtoInstr>>(plan_protos(step, consts, also_read));
    std::shared_ptr<const std::vector<ProtoInstr>> expected;
    protos = std::atomic_compare_exchange_strong(&step.protos, &expected, planned) ? planned : expected;
  }
  return *protos;
}

namespace {

// The strides and base pointers of a step's operands (inputs, then outputs), appended.
void operand_views(const ElementwiseStep& step, const BufferDesc* bufs, std::vector<const int64_t*>& strides,
                   std::vector<char*>& bases) {
  for (const auto& in : step.inputs) {
    strides.push_back(in.view.strides);
    bases.push_back(view_base(in.view, in.dtype, bufs));
  }
  for (const auto& out : step.outputs) {
    strides.push_back(out.view.strides);
    bases.push_back(view_base(out.view, out.dtype, bufs));
  }
}

}  // namespace

ElementwiseRanges::ElementwiseRanges(const ElementwiseStep& step, const double* consts, const BufferDesc* bufs)
    : step_(step), consts_(consts) {
  std::vector<const int64_t*> strides;
  operand_views(step, bufs, strides, bases_);
  layout_ = collapse(step.shape, strides);
}

void ElementwiseRanges::run(int64_t start, int64_t end) const {
  if (start >= end || step_.outputs.empty()) return;
  // Epilogue ranges are blocks of a result still in cache: plain stores.
  run_range(StepContext{step_, consts_, layout_, bases_, 0}, start, end);
}

namespace {

// Runs every element of ctx.layout: whole tiles per chunk, a few chunks per thread so the pool can
// balance them. Elements are independent, so the chunking never changes a result.
void run_layout(const StepContext& ctx) {
  const CollapsedLayout& layout = ctx.layout;
  int64_t numel = 1;
  for (int d = 0; d < layout.ndim; ++d) numel *= layout.dims[d];
  const int64_t per_thread = (numel + 4 * num_threads() - 1) / (4 * num_threads());
  const int64_t chunk = std::max(kMinChunk, (per_thread + kTile - 1) / kTile * kTile);
  const int64_t cost = numel * static_cast<int64_t>(ctx.bases.size() + ctx.step.instrs.size());
  parallel_for((numel + chunk - 1) / chunk, cost, [&](int64_t t) {
    run_range(ctx, t * chunk, std::min(numel, (t + 1) * chunk));
  });
}

// Blocks a transposing step is walked in: kBlockRows rows of kBlockCols elements. A run of a
// transposed operand touches kBlockCols lines, each then used for the block's rows while it is in
// L1; with power-of-two strides those lines share one L1 set, so no more than its 8 ways
// (2048 x 2048 transposed copy, 1 thread: 26.7 ms in rows, 15.3 in 32 x 32 blocks, 10.1 in 128 x 8).
constexpr int64_t kBlockRows = 128;
constexpr int64_t kBlockCols = 8;

// A step with an operand that jumps a cache line or more per element along the innermost dim (a
// transpose) walks its two innermost dims in blocks instead of row by row: the whole blocks as a
// layout with those dims split and reordered (rows of blocks, blocks, rows within a block, elements
// within a row), then the right and bottom strips left over as they are. Returns false (nothing
// run) when row order is as good.
bool run_blocked(const ElementwiseStep& step, const double* consts, const CollapsedLayout& layout,
                 const std::vector<char*>& bases) {
  const int n = layout.ndim, nops = static_cast<int>(bases.size());
  if (n < 2 || n + 2 > kMaxDims) return false;
  const int64_t rows = layout.dims[n - 2], cols = layout.dims[n - 1];
  bool strided = false;
  for (int op = 0; op < nops; ++op) strided |= std::abs(layout.stride(op, n - 1)) >= 16;
  if (!strided || rows < kBlockRows || cols < kBlockCols) return false;
  auto size_of = [&](int op) {
    const int nin = static_cast<int>(step.inputs.size());
    return static_cast<int64_t>(dtype_size(op < nin ? step.inputs[op].dtype : step.outputs[op - nin].dtype));
  };
  const int64_t whole_rows = rows / kBlockRows * kBlockRows, whole_cols = cols / kBlockCols * kBlockCols;
  CollapsedLayout blocks = layout;
  blocks.ndim = n + 2;
  const int64_t dims[4] = {whole_rows / kBlockRows, whole_cols / kBlockCols, kBlockRows, kBlockCols};
  for (int d = 0; d < 4; ++d) blocks.dims[n - 2 + d] = dims[d];
  for (int op = 0; op < nops; ++op) {
    const int64_t sr = layout.stride(op, n - 2), sc = layout.stride(op, n - 1);
    const int64_t st[4] = {sr * kBlockRows, sc * kBlockCols, sr, sc};
    for (int d = 0; d < 4; ++d) blocks.strides[op * kMaxDims + n - 2 + d] = st[d];
  }
  run_layout(StepContext{step, consts, blocks, bases, 0});
  // The strips: [whole_rows, cols - whole_cols] at column whole_cols, then [rows - whole_rows, cols].
  auto strip = [&](int64_t r0, int64_t c0, int64_t nr, int64_t nc) {
    if (nr == 0 || nc == 0) return;
    CollapsedLayout part = layout;
    part.dims[n - 2] = nr;
    part.dims[n - 1] = nc;
    std::vector<char*> moved(bases);
    for (int op = 0; op < nops; ++op) moved[op] += (r0 * layout.stride(op, n - 2) + c0 * layout.stride(op, n - 1)) * size_of(op);
    run_layout(StepContext{step, consts, part, moved, 0});
  };
  strip(0, whole_cols, whole_rows, cols - whole_cols);
  strip(whole_rows, 0, rows - whole_rows, cols);
  return true;
}

}  // namespace

void run_elementwise(const ElementwiseStep& step, const double* consts, const BufferDesc* bufs) {
  if (step.shape.numel == 0 || step.outputs.empty()) return;
  const int nin = static_cast<int>(step.inputs.size());

  // Reused per thread: a small step should not allocate.
  thread_local std::vector<const int64_t*> strides;
  thread_local std::vector<char*> bases;
  strides.clear();
  bases.clear();
  operand_views(step, bufs, strides, bases);
  const CollapsedLayout layout = collapse(step.shape, strides);
  uint64_t streamed = 0;
  for (size_t o = 0; o < step.outputs.size() && o < 64; ++o) {
    const ElementwiseOutput& out = step.outputs[o];
    const int op = nin + static_cast<int>(o);
    if (step.shape.numel * 4 >= kStreamBytes && out.dtype != DType::boolean && layout.stride(op, layout.ndim - 1) == 1) streamed |= uint64_t{1} << o;
  }
  if (!run_blocked(step, consts, layout, bases)) run_layout(StepContext{step, consts, layout, bases, streamed});
}

}  // namespace metalgrad::cpu
