// Packed GEMM against a float64 reference: edge sizes around every micro-kernel's tile, k across
// the kc blocking, transposed and offset operands, batches, every ISA this CPU has, and results
// that do not change with the thread count.
#include <cmath>
#include <cstdint>
#include <vector>

#include "gemm.h"
#include "harness.h"
#include "threadpool.h"

using namespace metalgrad::cpu;

namespace {

// Deterministic values in [-1, 1).
std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (float& x : v) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<float>(s >> 8) / float(1 << 23) - 1.0f;
  }
  return v;
}

// Restores the thread count and ISA a test changed.
struct Restore {
  int threads = num_threads();
  GemmIsa isa = gemm_isa();
  ~Restore() {
    set_num_threads(threads);
    set_gemm_isa(isa);
  }
};

struct Case {
  int64_t batch, m, n, k;
  bool a_t, b_t, c_t;  // column-major (transposed) storage
};

// Runs the case and checks each element against float64 within k * 2^-23 * sum |a||b| (the
// float32 accumulation bound with room to spare). Returns C (with its guard elements).
std::vector<float> check_case(const Case& cs) {
  const int64_t off = 3;  // every operand starts past a guard element
  const int64_t sa = cs.m * cs.k, sb = cs.k * cs.n, sc = cs.m * cs.n;
  std::vector<float> a = random_floats(off + cs.batch * sa, 1), b = random_floats(off + cs.batch * sb, 2);
  std::vector<float> c(off + cs.batch * sc + 1, 99.0f);
  const GemmOperand ga{a.data() + off, sa, cs.a_t ? 1 : cs.k, cs.a_t ? cs.m : 1};
  const GemmOperand gb{b.data() + off, sb, cs.b_t ? 1 : cs.n, cs.b_t ? cs.k : 1};
  const int64_t c_rs = cs.c_t ? 1 : cs.n, c_cs = cs.c_t ? cs.m : 1;
  sgemm(cs.batch, cs.m, cs.n, cs.k, ga, gb, c.data() + off, sc, c_rs, c_cs);
  for (int64_t p = 0; p < cs.batch; ++p)
    for (int64_t i = 0; i < cs.m; ++i)
      for (int64_t j = 0; j < cs.n; ++j) {
        double ref = 0, mag = 0;
        for (int64_t l = 0; l < cs.k; ++l) {
          const double x = ga.data[p * ga.bs + i * ga.rs + l * ga.cs];
          const double y = gb.data[p * gb.bs + l * gb.rs + j * gb.cs];
          ref += x * y;
          mag += std::fabs(x * y);
        }
        const double got = c[off + p * sc + i * c_rs + j * c_cs];
        if (!(std::fabs(got - ref) <= double(cs.k) * std::ldexp(mag, -23) + 1e-30)) {
          harness::fail(__FILE__, __LINE__,
                        harness::cat(gemm_isa_name(gemm_isa()), " threads=", num_threads(), " C[", p, ",", i,
                                     ",", j, "] = ", got, " expected ", ref, " (batch=", cs.batch, " m=", cs.m,
                                     " n=", cs.n, " k=", cs.k, " a_t=", cs.a_t, " b_t=", cs.b_t, " c_t=",
                                     cs.c_t, ")"));
        }
      }
  for (int64_t g = 0; g < off; ++g) CHECK_EQ(c[g], 99.0f);
  CHECK_EQ(c.back(), 99.0f);
  return c;
}

std::vector<GemmIsa> supported_isas() {
  std::vector<GemmIsa> out;
  for (GemmIsa isa : {GemmIsa::scalar, GemmIsa::avx2, GemmIsa::avx512})
    if (gemm_isa_supported(isa)) out.push_back(isa);
  return out;
}

}  // namespace

TEST(gemm_edge_sizes_every_isa) {
  Restore restore;
  // Sizes around the tiles (4x8, 6x16, 12x32); k in one or several passes (at most 256 deep).
  const int64_t sizes[][3] = {{1, 1, 1},   {7, 17, 5},   {12, 32, 3},  {15, 33, 17}, {13, 31, 256},
                              {29, 65, 257}, {6, 16, 600}, {1, 70, 40},  {70, 1, 40},  {45, 47, 513}};
  for (GemmIsa isa : supported_isas()) {
    set_gemm_isa(isa);
    set_num_threads(1);
    for (const auto& s : sizes) check_case({1, s[0], s[1], s[2], false, false, false});
  }
}

TEST(gemm_transposed_operands_and_batches) {
  Restore restore;
  for (GemmIsa isa : supported_isas()) {
    set_gemm_isa(isa);
    for (int layout = 0; layout < 8; ++layout) {
      check_case({3, 19, 37, 23, bool(layout & 1), bool(layout & 2), bool(layout & 4)});
      check_case({1, 33, 18, 270, bool(layout & 1), bool(layout & 2), bool(layout & 4)});
      // Narrow C, computed as C^T = B^T A^T.
      check_case({2, 100, 10, 30, bool(layout & 1), bool(layout & 2), bool(layout & 4)});
    }
  }
}

TEST(gemm_results_do_not_depend_on_thread_count) {
  Restore restore;
  // Big enough to be split into tasks (2*m*n*k/16 above the pool's threshold).
  const Case cases[] = {{1, 150, 140, 300, false, false, false},
                        {1, 97, 200, 64, true, false, false},
                        {1, 120, 75, 160, false, true, true},
                        {16, 40, 36, 64, false, false, false}};
  for (GemmIsa isa : supported_isas()) {
    set_gemm_isa(isa);
    for (const Case& cs : cases) {
      set_num_threads(1);
      const std::vector<float> one = check_case(cs);
      for (int threads : {2, 3}) {
        set_num_threads(threads);
        CHECK(check_case(cs) == one);
      }
    }
  }
}

TEST(gemm_k_zero_writes_zeros) {
  std::vector<float> c(2 * 3 * 4, 5.0f);
  sgemm(2, 3, 4, 0, {nullptr, 0, 0, 0}, {nullptr, 0, 0, 0}, c.data(), 12, 1, 3);
  for (float v : c) CHECK_EQ(v, 0.0f);
}

TEST(gemm_isa_hook_rejects_unsupported) {
  for (GemmIsa isa : {GemmIsa::avx2, GemmIsa::avx512}) {
    if (!gemm_isa_supported(isa)) CHECK_THROWS(set_gemm_isa(isa), "does not support");
  }
  CHECK(gemm_isa_supported(GemmIsa::scalar));
}
