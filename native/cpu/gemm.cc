// Driver of the packed GEMM: splits C into tasks (batch elements, column blocks, and row blocks
// when threads would otherwise idle) for the thread pool. Each task walks k in kc-deep passes over
// packed B blocks (its own, or one B all threads packed together) and packs each mr-row A panel
// just before use; the packing reads any strides, so transposed operands cost nothing extra.
#include "gemm.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "gemm_kernels.h"
#include "threadpool.h"

namespace metalgrad::cpu {
namespace {

// Portable micro-kernel: plain loops over a 4 x 8 tile that the compiler keeps in vector registers
// (eight accumulators leave room for the operands even in the 16 registers of baseline x86-64).
constexpr int kMrScalar = 4;
constexpr int kNrScalar = 8;

void kernel_scalar(int64_t k, const float* pa, const float* pb, float* c, int64_t c_rs,
                   bool accumulate) {
  float acc[kMrScalar][kNrScalar] = {};
  for (int64_t l = 0; l < k; ++l) {
    for (int i = 0; i < kMrScalar; ++i) {
      const float a = pa[i];
      for (int j = 0; j < kNrScalar; ++j) acc[i][j] += a * pb[j];
    }
    pa += kMrScalar;
    pb += kNrScalar;
  }
  for (int i = 0; i < kMrScalar; ++i) {
    float* row = c + i * c_rs;
    for (int j = 0; j < kNrScalar; ++j) row[j] = accumulate ? row[j] + acc[i][j] : acc[i][j];
  }
}

constexpr int kMaxTile = 32 * 16;  // largest mr * nr of any micro-kernel
// Columns of B one task packs when threads pack B together (a multiple of every nr).
constexpr int64_t kPackColumns = 256;

MicroKernel kernel_of(GemmIsa isa) {
#if defined(__x86_64__)
  if (isa == GemmIsa::avx512) return avx512_micro_kernel();
  if (isa == GemmIsa::avx2) return avx2_micro_kernel();
#endif
  (void)isa;
  return {kernel_scalar, kMrScalar, kNrScalar, 256, 1024};
}

GemmIsa best_isa() {
  if (gemm_isa_supported(GemmIsa::avx512)) return GemmIsa::avx512;
  if (gemm_isa_supported(GemmIsa::avx2)) return GemmIsa::avx2;
  return GemmIsa::scalar;
}

GemmIsa isa_from_env() {
  const char* env = std::getenv("METALGRAD_ISA");
  if (env == nullptr || *env == '\0') return best_isa();
  // The names the vector math uses (vecmath.cc); generic and sse2 run the portable micro-kernel.
  const struct {
    const char* name;
    GemmIsa isa;
  } names[] = {{"generic", GemmIsa::scalar}, {"sse2", GemmIsa::scalar}, {"avx2", GemmIsa::avx2}, {"avx512", GemmIsa::avx512}};
  for (const auto& n : names) {
    if (std::strcmp(env, n.name) != 0) continue;
    if (!gemm_isa_supported(n.isa)) {
      throw std::invalid_argument(std::string("METALGRAD_ISA: this CPU does not support '") + env + "'");
    }
    return n.isa;
  }
  throw std::invalid_argument(std::string("METALGRAD_ISA must be generic, sse2, avx2 or avx512, received '") + env + "'");
}

// -1 until the first GEMM (or set_gemm_isa) decides.
std::atomic<int> g_isa{-1};

GemmIsa current_isa() {
  int isa = g_isa.load(std::memory_order_acquire);
  if (isa < 0) {
    isa = static_cast<int>(isa_from_env());
    g_isa.store(isa, std::memory_order_release);
  }
  return static_cast<GemmIsa>(isa);
}

struct AlignedFree {
  void operator()(float* p) const { ::operator delete(p, std::align_val_t(64)); }
};

// Per-thread packing buffers, grown as needed and reused across calls: slot 0 for a task's own
// panels, slot 1 for the B matrix a caller packs for all its threads.
float* scratch(int slot, size_t floats) {
  thread_local std::unique_ptr<float, AlignedFree> bufs[2];
  thread_local size_t sizes[2] = {0, 0};
  if (sizes[slot] < floats) {
    bufs[slot].reset(static_cast<float*>(::operator new(floats * sizeof(float), std::align_val_t(64))));
    sizes[slot] = floats;
  }
  return bufs[slot].get();
}

// Packs rows [0, h) x columns [0, kc) of A (at `a`, h <= mr) into one panel: for each l, the h
// rows of column l, zero-padded to mr.
void pack_a(const float* a, int64_t rs, int64_t cs, int h, int64_t kc, int mr, float* out) {
  if (cs == 1) {
    for (int i = 0; i < h; ++i) {
      const float* row = a + i * rs;
      for (int64_t l = 0; l < kc; ++l) out[l * mr + i] = row[l];
    }
  } else {
    for (int64_t l = 0; l < kc; ++l) {
      const float* col = a + l * cs;
      for (int i = 0; i < h; ++i) out[l * mr + i] = col[i * rs];
    }
  }
  if (h < mr) {
    for (int64_t l = 0; l < kc; ++l) std::fill(out + l * mr + h, out + l * mr + mr, 0.0f);
  }
}

// Packs `panels` full panels of NR columns from row-major rows (row stride rs): row by row, so
// each row of B is read once, sequentially (a panel-by-panel walk reads 64-128 bytes per row and
// strides over the whole matrix, which the prefetchers follow poorly); a fixed-size memcpy compiles
// to a few vector moves.
template <int NR>
void pack_full_panels(const float* src, int64_t rs, int64_t kc, int64_t panels, float* out) {
  for (int64_t l = 0; l < kc; ++l) {
    const float* row = src + l * rs;
    float* dst = out + l * NR;
    for (int64_t p = 0; p < panels; ++p) std::memcpy(dst + p * kc * NR, row + p * NR, NR * sizeof(float));
  }
}

// One panel of a B stored transposed (element (l, j) at src[j * cs + l]): w columns, each a
// contiguous run over l, interleaved into out[l * nr + j]. 4 x 4 blocks are transposed in SSE
// registers (baseline on x86-64) so both the reads and the writes stay contiguous.
void pack_transposed(const float* src, int64_t cs, int64_t kc, int w, int nr, float* out) {
  int j = 0;
#if defined(__x86_64__)
  for (; j + 4 <= w; j += 4) {
    const float* c0 = src + j * cs;
    int64_t l = 0;
    for (; l + 4 <= kc; l += 4) {
      __m128 r0 = _mm_loadu_ps(c0 + l), r1 = _mm_loadu_ps(c0 + cs + l);
      __m128 r2 = _mm_loadu_ps(c0 + 2 * cs + l), r3 = _mm_loadu_ps(c0 + 3 * cs + l);
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
      _mm_storeu_ps(out + l * nr + j, r0);
      _mm_storeu_ps(out + (l + 1) * nr + j, r1);
      _mm_storeu_ps(out + (l + 2) * nr + j, r2);
      _mm_storeu_ps(out + (l + 3) * nr + j, r3);
    }
    for (; l < kc; ++l)
      for (int t = 0; t < 4; ++t) out[l * nr + j + t] = c0[t * cs + l];
  }
#endif
  for (; j < w; ++j) {
    const float* col = src + j * cs;
    for (int64_t l = 0; l < kc; ++l) out[l * nr + j] = col[l];
  }
}

// Packs rows [0, kc) x columns [0, cols) of B into panels of nr columns: panel p holds, for each l,
// columns p*nr .. p*nr+nr-1 of row l, zero-padded past `cols`.
void pack_b(const float* b, int64_t rs, int64_t cs, int64_t kc, int64_t cols, int nr, float* out) {
  int64_t p0 = 0;
  if (cs == 1 && (nr == 8 || nr == 16 || nr == 32)) {
    const int64_t full = cols / nr;
    if (nr == 8) pack_full_panels<8>(b, rs, kc, full, out);
    else if (nr == 16) pack_full_panels<16>(b, rs, kc, full, out);
    else pack_full_panels<32>(b, rs, kc, full, out);
    p0 = full * nr;
    out += full * kc * nr;
  }
  for (; p0 < cols; p0 += nr, out += kc * nr) {
    const int w = static_cast<int>(std::min<int64_t>(nr, cols - p0));
    const float* src = b + p0 * cs;
    if (cs == 1) {
      for (int64_t l = 0; l < kc; ++l) {
        std::memcpy(out + l * nr, src + l * rs, static_cast<size_t>(w) * sizeof(float));
      }
    } else if (rs == 1) {
      pack_transposed(src, cs, kc, w, nr, out);
    } else {
      for (int j = 0; j < w; ++j) {
        const float* col = src + j * cs;
        for (int64_t l = 0; l < kc; ++l) out[l * nr + j] = col[l * rs];
      }
    }
    if (w < nr) {
      for (int64_t l = 0; l < kc; ++l) std::fill(out + l * nr + w, out + l * nr + nr, 0.0f);
    }
  }
}

struct Problem {
  int64_t m, n, k;
  GemmOperand a, b;
  float* c;
  int64_t c_bs, c_rs, c_cs;
};

// C block rows [i0, i0+rows) x columns [j0, j0+cols) of batch element p. Per kc-deep pass, the
// B block (kc x cols) is packed once (or taken from `packed_b`, all of B packed by pack_all_b) and
// each A panel (mr x kc) is packed right before it sweeps the B block, so it stays in L1.
void gemm_block(const MicroKernel& uk, const Problem& pr, int64_t p, int64_t i0, int64_t rows,
                int64_t j0, int64_t cols, const float* packed_b, const GemmBlockHook& hook) {
  const int mr = uk.mr, nr = uk.nr;
  const int64_t cols_pad = (cols + nr - 1) / nr * nr;
  const int64_t kc_max = std::min(uk.kc, pr.k);
  float* pa = scratch(0, static_cast<size_t>(kc_max * (mr + (packed_b ? 0 : cols_pad))));
  float* own_b = pa + kc_max * mr;
  alignas(64) float tile[kMaxTile];
  const float* a = pr.a.data + p * pr.a.bs + i0 * pr.a.rs;
  const float* b = pr.b.data + p * pr.b.bs + j0 * pr.b.cs;
  float* c = pr.c + p * pr.c_bs + i0 * pr.c_rs + j0 * pr.c_cs;
  for (int64_t l0 = 0; l0 < pr.k; l0 += uk.kc) {
    const int64_t kc = std::min(uk.kc, pr.k - l0);
    const bool accumulate = l0 > 0;
    const float* pb = own_b;
    if (packed_b) pb = packed_b + l0 * ((pr.n + nr - 1) / nr * nr) + j0 * kc;
    else pack_b(b + l0 * pr.b.rs, pr.b.rs, pr.b.cs, kc, cols, nr, own_b);
    for (int64_t ir = 0; ir < rows; ir += mr) {
      const int h = static_cast<int>(std::min<int64_t>(mr, rows - ir));
      pack_a(a + ir * pr.a.rs + l0 * pr.a.cs, pr.a.rs, pr.a.cs, h, kc, mr, pa);
      for (int64_t jr = 0; jr < cols; jr += nr) {
        const int w = static_cast<int>(std::min<int64_t>(nr, cols - jr));
        const float* pbj = pb + jr * kc;
        float* ct = c + ir * pr.c_rs + jr * pr.c_cs;
        if (h == mr && w == nr && pr.c_cs == 1) {
          uk.fn(kc, pa, pbj, ct, pr.c_rs, accumulate);
          continue;
        }
        // Edge or column-strided tile: compute into a local tile, then merge.
        uk.fn(kc, pa, pbj, tile, nr, false);
        for (int i = 0; i < h; ++i) {
          float* row = ct + i * pr.c_rs;
          for (int j = 0; j < w; ++j) {
            row[j * pr.c_cs] = accumulate ? row[j * pr.c_cs] + tile[i * nr + j] : tile[i * nr + j];
          }
        }
      }
      // After the last pass these rows of the block are final (and still in cache).
      if (hook && l0 + kc == pr.k) hook(p, i0 + ir, h, j0, cols);
    }
  }
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

bool gemm_isa_supported(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::scalar: return true;
#if defined(__x86_64__)
    case GemmIsa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case GemmIsa::avx512: return __builtin_cpu_supports("avx512f");
#else
    default: return false;
#endif
  }
  return false;
}

GemmIsa gemm_isa() { return current_isa(); }

const char* gemm_isa_name(GemmIsa isa) {
  switch (isa) {
    case GemmIsa::scalar: return "scalar";
    case GemmIsa::avx2: return "avx2";
    case GemmIsa::avx512: return "avx512";
  }
  return "?";
}

void set_gemm_isa(GemmIsa isa) {
  if (!gemm_isa_supported(isa)) {
    throw std::invalid_argument(std::string("set_gemm_isa: this CPU does not support ") +
                                gemm_isa_name(isa));
  }
  g_isa.store(static_cast<int>(isa), std::memory_order_release);
}

void sgemm(int64_t batch, int64_t m, int64_t n, int64_t k, GemmOperand a, GemmOperand b, float* c,
           int64_t c_bs, int64_t c_rs, int64_t c_cs, const GemmBlockHook& hook) {
  if (batch <= 0 || m <= 0 || n <= 0) return;
  if (k == 0) {
    // A and B may be empty buffers, so only C is addressed.
    for (int64_t p = 0; p < batch; ++p) {
      for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) c[p * c_bs + i * c_rs + j * c_cs] = 0.0f;
      if (hook) hook(p, 0, m, 0, n);
    }
    return;
  }
  MicroKernel uk = kernel_of(current_isa());
  // A narrow C (few columns, many rows) wastes most of each nr-wide tile; computing
  // C^T = B^T A^T instead pads far less (its columns become the micro-kernel's rows).
  const auto padded = [](int64_t rows, int64_t cols, const MicroKernel& k) {
    return ceil_div(rows, k.mr) * k.mr * ceil_div(cols, k.nr) * k.nr;
  };
  if (n < uk.nr && 5 * padded(n, m, uk) < 4 * padded(m, n, uk)) {
    // Blocks of C^T are blocks of C with rows and columns swapped.
    GemmBlockHook transposed;
    if (hook) transposed = [&hook](int64_t p, int64_t i0, int64_t rows, int64_t j0, int64_t cols) { hook(p, j0, cols, i0, rows); };
    return sgemm(batch, n, m, k, {b.data, b.bs, b.cs, b.rs}, {a.data, a.bs, a.cs, a.rs}, c, c_bs,
                 c_cs, c_rs, transposed);
  }
  // Equal passes over k (784 = 4 x 196, not 3 x 256 + 16): a shallow last pass would pay the C
  // tile's load and store for little work.
  uk.kc = ceil_div(k, ceil_div(k, uk.kc));
  const Problem pr{m, n, k, a, b, c, c_bs, c_rs, c_cs};
  const int threads = num_threads();
  // In the pool's cost units (one simple operation on one element): the micro-kernel does about
  // 16 flops in that time. Saturates instead of overflowing.
  const int64_t cost = static_cast<int64_t>(std::min(9e18, 2.0 * batch * m * n * k / 16));
  const int64_t nblocks = ceil_div(n, uk.nc);
  if (threads == 1 || cost < kMinParallelCost || batch * nblocks >= 2 * threads) {
    // Tasks of whole column blocks, each packing its own B block: B is packed once in all.
    parallel_for(batch * nblocks, cost, [&](int64_t t) {
      const int64_t j0 = t % nblocks * uk.nc;
      gemm_block(uk, pr, t / nblocks, 0, m, j0, std::min(uk.nc, n - j0), nullptr, hook);
    });
    return;
  }
  // Few batch elements for the threads: per element, the threads first pack all of B together,
  // then share its rows (and columns if rows are few). Blocks only choose who computes a tile,
  // never the order of its sums, so results do not depend on the thread count.
  // At least 4 tasks per thread, and a task count the threads share evenly: with 11 row panels
  // (m = 128) and 2 threads, 11 tasks leave one thread a whole task idle at the end; 22 do not.
  const int64_t target = 4 * threads;
  const int64_t panels = ceil_div(m, uk.mr);
  int64_t nsplit = nblocks;
  while (panels * nsplit < target && ceil_div(n, nsplit) > uk.nr) ++nsplit;
  const auto uneven = [&](int64_t tasks) { return tasks % threads != 0 && tasks < 16 * threads; };
  if (uneven(panels * nsplit) && ceil_div(n, nsplit + 1) >= uk.nr && !uneven(panels * (nsplit + 1))) ++nsplit;
  int64_t mc_panels = std::max<int64_t>(1, panels * nsplit / target);
  while (mc_panels > 1 && uneven(ceil_div(panels, mc_panels) * nsplit)) --mc_panels;
  // With many panels, one panel per task: B is packed already and each A panel is packed once per
  // pass whatever the task size, so small tasks cost nothing and let the threads finish together
  // (1024: 86 panels; ten 9-panel tasks left one thread 10% idle; 172 -> 182 GFLOP/s at 2 threads).
  if (panels * nsplit >= 16 * threads) mc_panels = 1;
  const int64_t mc = mc_panels * uk.mr;
  const int64_t nc = ceil_div(ceil_div(n, nsplit), uk.nr) * uk.nr;
  const int64_t mblocks = ceil_div(m, mc);
  nsplit = ceil_div(n, nc);
  const int64_t n_pad = ceil_div(n, uk.nr) * uk.nr;
  float* packed = scratch(1, static_cast<size_t>(k * n_pad));
  const int64_t passes = ceil_div(k, uk.kc);
  const int64_t groups = ceil_div(n_pad, kPackColumns);
  for (int64_t p = 0; p < batch; ++p) {
    parallel_for(passes * groups, std::min(cost, k * n), [&](int64_t t) {
      const int64_t l0 = t / groups * uk.kc, j0 = t % groups * kPackColumns;
      const int64_t kc = std::min(uk.kc, k - l0);
      pack_b(b.data + p * b.bs + l0 * b.rs + j0 * b.cs, b.rs, b.cs, kc,
             std::min(kPackColumns, n - j0), uk.nr, packed + l0 * n_pad + j0 * kc);
    });
    parallel_for(mblocks * nsplit, cost / batch, [&](int64_t t) {
      const int64_t i0 = t / nsplit * mc, j0 = t % nsplit * nc;
      gemm_block(uk, pr, p, i0, std::min(mc, m - i0), j0, std::min(nc, n - j0), packed, hook);
    });
  }
}

}  // namespace metalgrad::cpu
