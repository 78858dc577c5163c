// Batched strided matmul: float32 goes to the packed GEMM (gemm.h); int32 uses a blocked i-k-j
// loop when rows of B and C are contiguous, a dot-product loop when A rows and B columns are, and a
// generic loop otherwise.
#include <algorithm>
#include <cstdint>
#include <optional>

#include "executors.h"
#include "gemm.h"
#include "scalar.h"

namespace metalgrad::cpu {
namespace {

// Block sizes: an kBlockK x kBlockN panel of B (128 KiB of floats) is reused by kBlockM rows.
constexpr int64_t kBlockM = 32;
constexpr int64_t kBlockK = 128;
constexpr int64_t kBlockN = 256;

// Integer products and sums wrap, so they are computed unsigned.
template <class T> using mac_t = std::make_unsigned_t<T>;

struct Strides {
  int64_t a_m, a_k, b_k, b_n, c_m, c_n;
};

// C[i, j] += A[i, l] * B[l, j] with contiguous rows of B and C: the j loop vectorises.
template <class T>
void matmul_ikj(const T* a, const T* b, T* c, int64_t m, int64_t n, int64_t k, const Strides& s) {
  using M = mac_t<T>;
  for (int64_t i = 0; i < m; ++i) std::fill(c + i * s.c_m, c + i * s.c_m + n, T(0));
  for (int64_t j0 = 0; j0 < n; j0 += kBlockN) {
    const int64_t nj = std::min(kBlockN, n - j0);
    for (int64_t l0 = 0; l0 < k; l0 += kBlockK) {
      const int64_t nl = std::min(kBlockK, k - l0);
      for (int64_t i0 = 0; i0 < m; i0 += kBlockM) {
        const int64_t ni = std::min(kBlockM, m - i0);
        for (int64_t i = i0; i < i0 + ni; ++i) {
          M* crow = reinterpret_cast<M*>(c + i * s.c_m + j0);
          for (int64_t l = l0; l < l0 + nl; ++l) {
            const M av = static_cast<M>(a[i * s.a_m + l * s.a_k]);
            const M* brow = reinterpret_cast<const M*>(b + l * s.b_k + j0);
            for (int64_t j = 0; j < nj; ++j) crow[j] += av * brow[j];
          }
        }
      }
    }
  }
}

// C[i, j] = dot(A row i, B column j) with both contiguous along k; lanes keep it vectorisable.
template <class T>
void matmul_dot(const T* a, const T* b, T* c, int64_t m, int64_t n, int64_t k, const Strides& s) {
  using M = mac_t<T>;
  constexpr int kLanes = 8;
  for (int64_t i = 0; i < m; ++i) {
    const M* arow = reinterpret_cast<const M*>(a + i * s.a_m);
    for (int64_t j = 0; j < n; ++j) {
      const M* bcol = reinterpret_cast<const M*>(b + j * s.b_n);
      M lanes[kLanes] = {};
      int64_t l = 0;
      for (; l + kLanes <= k; l += kLanes) {
        for (int q = 0; q < kLanes; ++q) lanes[q] += arow[l + q] * bcol[l + q];
      }
      M acc = 0;
      for (; l < k; ++l) acc += arow[l] * bcol[l];
      for (int q = 0; q < kLanes; ++q) acc += lanes[q];
      c[i * s.c_m + j * s.c_n] = static_cast<T>(acc);
    }
  }
}

template <class T>
void matmul_generic(const T* a, const T* b, T* c, int64_t m, int64_t n, int64_t k, const Strides& s) {
  using M = mac_t<T>;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      M acc = 0;
      for (int64_t l = 0; l < k; ++l) {
        acc += static_cast<M>(a[i * s.a_m + l * s.a_k]) * static_cast<M>(b[l * s.b_k + j * s.b_n]);
      }
      c[i * s.c_m + j * s.c_n] = static_cast<T>(acc);
    }
  }
}

template <class T>
void matmul_typed(const MatmulStep& st, const BufferDesc* bufs, const GemmBlockHook& hook) {
  const T* a = static_cast<const T*>(bufs[st.a.buf].data);
  const T* b = static_cast<const T*>(bufs[st.b.buf].data);
  T* c = static_cast<T*>(bufs[st.c.buf].data);
  const Strides s{st.a.sr, st.a.sc, st.b.sr, st.b.sc, st.c.sr, st.c.sc};
  for (int64_t p = 0; p < st.batch; ++p) {
    T* cp = c + st.c.offset + p * st.c.sb;
    if (st.k == 0) {
      // A and B are empty (perhaps empty buffers), so only C is addressed.
      for (int64_t i = 0; i < st.m; ++i)
        for (int64_t j = 0; j < st.n; ++j) cp[i * s.c_m + j * s.c_n] = T(0);
      if (hook) hook(p, 0, st.m, 0, st.n);
      continue;
    }
    const T* ap = a + st.a.offset + p * st.a.sb;
    const T* bp = b + st.b.offset + p * st.b.sb;
    if (s.c_n == 1 && s.b_n == 1) {
      matmul_ikj(ap, bp, cp, st.m, st.n, st.k, s);
    } else if (s.a_k == 1 && s.b_k == 1) {
      matmul_dot(ap, bp, cp, st.m, st.n, st.k, s);
    } else {
      matmul_generic(ap, bp, cp, st.m, st.n, st.k, s);
    }
    if (hook) hook(p, 0, st.m, 0, st.n);
  }
}

// The epilogue of a matmul as a hook on finished blocks of C (contiguous, so rows of a block are
// runs of the flat index space and whole-width blocks are one run).
GemmBlockHook epilogue_hook(const MatmulStep& st, const ElementwiseRanges& epi) {
  return [&st, &epi](int64_t p, int64_t i0, int64_t rows, int64_t j0, int64_t cols) {
    const int64_t base = p * st.m * st.n;
    if (j0 == 0 && cols == st.n) return epi.run(base + i0 * st.n, base + (i0 + rows) * st.n);
    for (int64_t i = i0; i < i0 + rows; ++i) epi.run(base + i * st.n + j0, base + i * st.n + j0 + cols);
  };
}

}  // namespace

void run_matmul(const MatmulStep& st, const double* consts, const BufferDesc* bufs) {
  if (st.batch == 0 || st.m == 0 || st.n == 0) return;
  std::optional<ElementwiseRanges> epi;
  GemmBlockHook hook;
  if (st.epilogue) hook = epilogue_hook(st, epi.emplace(*st.epilogue, consts, bufs));
  if (st.dtype != DType::f32) return matmul_typed<int32_t>(st, bufs, hook);
  const float* a = static_cast<const float*>(bufs[st.a.buf].data) + st.a.offset;
  const float* b = static_cast<const float*>(bufs[st.b.buf].data) + st.b.offset;
  float* c = static_cast<float*>(bufs[st.c.buf].data) + st.c.offset;
  sgemm(st.batch, st.m, st.n, st.k, {a, st.a.sb, st.a.sr, st.a.sc}, {b, st.b.sb, st.b.sr, st.b.sc},
        c, st.c.sb, st.c.sr, st.c.sc, hook);
}

}  // namespace metalgrad::cpu
