// Gather, scatter, sort and scan steps (kinds 5-8): results, out-of-range indices at run time, and
// malformed programs rejected before anything runs.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "builder.h"
#include "harness.h"
#include "threadpool.h"

using namespace testing;

namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// gather: dtype, nb, np, n, ns, nq, x(buf, off), idx(buf, off), out(buf, off)
std::vector<int32_t> gather_payload(int32_t nb, int32_t np, int32_t n, int32_t ns, int32_t nq) {
  return {0, nb, np, n, ns, nq, 0, 0, 1, 0, 2, 0};
}

}  // namespace

TEST(gather_clamps_indices) {
  // x is [2 (p), 3 (n), 2 (q)]; idx picks rows -5, 2, 7, 0 (clamped to 0, 2, 2, 0).
  std::vector<float> x = {0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15};
  std::vector<int32_t> idx = {-5, 2, 7, 0};
  std::vector<float> out(16, -1);
  run(Program().step(5, gather_payload(1, 2, 3, 4, 2)), {desc(x), desc(idx), desc(out)});
  const std::vector<float> want = {0, 1, 4, 5, 4, 5, 0, 1, 10, 11, 14, 15, 14, 15, 10, 11};
  for (size_t i = 0; i < want.size(); ++i) CHECK_EQ(out[i], want[i]);
}

TEST(gather_batched_bool) {
  // Batch dims: x [2 (b), 3 (n)], idx [2 (b), 2 (s)].
  std::vector<uint8_t> x = {1, 0, 0, 0, 0, 1};
  std::vector<int32_t> idx = {0, 1, 2, 2};
  std::vector<uint8_t> out(4, 9);
  run(Program().step(5, {3, 2, 1, 3, 2, 1, 0, 0, 1, 0, 2, 0}), {desc(x), desc(idx), desc(out)});
  CHECK_EQ(out[0], 1); CHECK_EQ(out[1], 0); CHECK_EQ(out[2], 1); CHECK_EQ(out[3], 1);
}

TEST(scatter_ops_and_modes) {
  // out [4], updates [5] at indices with duplicates and out-of-range ones.
  std::vector<int32_t> idx = {1, 1, -1, 4, 3};
  std::vector<float> upd = {10, 20, 30, 40, 50};
  auto scatter = [&](int32_t op, int32_t mode) {
    std::vector<float> out = {1, 2, 3, 4};
    run(Program().step(6, {op, 0, mode, 1, 1, 4, 5, 1, 0, 0, 1, 0, 2, 0}), {desc(upd), desc(idx), desc(out)});
    return out;
  };
  auto add_drop = scatter(0, 1);
  CHECK_EQ(add_drop[0], 1.0f); CHECK_EQ(add_drop[1], 32.0f); CHECK_EQ(add_drop[2], 3.0f); CHECK_EQ(add_drop[3], 54.0f);
  auto add_clip = scatter(0, 0);
  CHECK_EQ(add_clip[0], 31.0f); CHECK_EQ(add_clip[3], 94.0f);
  auto set_drop = scatter(1, 1);
  CHECK_EQ(set_drop[1], 20.0f); CHECK_EQ(set_drop[3], 50.0f);  // the last update wins
  auto mul_drop = scatter(2, 1);
  CHECK_EQ(mul_drop[1], 400.0f);
  auto min_drop = scatter(3, 1);
  CHECK_EQ(min_drop[1], 2.0f); CHECK_EQ(min_drop[3], 4.0f);
  auto max_drop = scatter(4, 1);
  CHECK_EQ(max_drop[1], 20.0f); CHECK_EQ(max_drop[3], 50.0f);
}

TEST(sort_stable_nan_last) {
  std::vector<float> x = {3, kNaN, 1, 3, -0.0f, 1, 0, 0};
  std::vector<float> out(8);
  std::vector<int32_t> idx(8);
  run(Program().step(7, {0, 0, 2, 4, 0, 0, 1, 0, 2, 0}), {desc(x), desc(out), desc(idx)});
  // Row 0: 1, 3, 3 (ties in order), NaN. Row 1: -0, 0, 0 (equal, kept in order), then 1.
  CHECK_EQ(idx[0], 2); CHECK_EQ(idx[1], 0); CHECK_EQ(idx[2], 3); CHECK_EQ(idx[3], 1);
  CHECK(std::isnan(out[3]));
  CHECK_EQ(idx[4], 0); CHECK_EQ(idx[5], 2); CHECK_EQ(idx[6], 3); CHECK_EQ(idx[7], 1);
  run(Program().step(7, {0, 1, 2, 4, 0, 0, 1, 0, 2, 0}), {desc(x), desc(out), desc(idx)});
  CHECK_EQ(idx[0], 1); CHECK_EQ(idx[1], 0); CHECK_EQ(idx[2], 3); CHECK_EQ(idx[3], 2);
  CHECK_EQ(idx[4], 1); CHECK_EQ(idx[5], 0);
}

TEST(scan_forward_reverse) {
  // [outer 1, n 3, inner 2]
  std::vector<int32_t> x = {1, 2, 3, 4, 5, 6};
  std::vector<int32_t> out(6);
  run(Program().step(8, {0, 1, 0, 1, 3, 2, 0, 0, 1, 0}), {desc(x), desc(out)});
  CHECK_EQ(out[0], 1); CHECK_EQ(out[1], 2); CHECK_EQ(out[2], 4); CHECK_EQ(out[3], 6); CHECK_EQ(out[4], 9); CHECK_EQ(out[5], 12);
  run(Program().step(8, {3, 1, 1, 1, 3, 2, 0, 0, 1, 0}), {desc(x), desc(out)});
  CHECK_EQ(out[0], 1); CHECK_EQ(out[1], 2); CHECK_EQ(out[4], 5); CHECK_EQ(out[5], 6);
  run(Program().step(8, {0, 1, 0, 1, 3, 2, 0, 0, 0, 0}), {desc(x)});  // in place
  CHECK_EQ(x[5], 12);
}

TEST(indexing_malformed_programs) {
  std::vector<float> x(12), out(16);
  std::vector<int32_t> idx(4);
  auto gather = [&](std::vector<int32_t> p) { run(Program().step(5, p), {desc(x), desc(idx), desc(out)}); };
  CHECK_THROWS(gather({0, 1, 2, 3, 4, 3, 0, 0, 1, 0, 2, 0}), "step 0 (gather): x block reaches element 17 but buffer 0 has 12");
  CHECK_THROWS(gather({0, 1, 2, 3, 5, 2, 0, 0, 1, 0, 2, 0}), "idx block reaches element 4");
  CHECK_THROWS(gather({0, 1, 2, 3, 4, 2, 0, 0, 1, 0, 2, 1}), "out block reaches element 16");
  CHECK_THROWS(gather({1, 1, 2, 3, 4, 2, 0, 0, 1, 0, 2, 0}), "x block has dtype int32 but buffer 0 holds float32");
  CHECK_THROWS(gather({0, 1, 2, 3, 4, 2, 0, 0, 0, 0, 2, 0}), "idx block has dtype int32 but buffer 0 holds float32");
  CHECK_THROWS(gather({0, 1, 2, 0, 4, 2, 0, 0, 1, 0, 2, 0}), "n is 0 but the output is not empty");
  CHECK_THROWS(gather({0, 1, -2, 3, 4, 2, 0, 0, 1, 0, 2, 0}), "np is -2");
  CHECK_THROWS(gather({0, 1, 2, 3, 4, 2, 0, -1, 1, 0, 2, 0}), "x offset is -1");
  CHECK_THROWS(gather({0, 1, 2, 3, 4, 2, 2, 0, 1, 0, 2, 0}), "out uses buffer 2, which x reads");
  CHECK_THROWS(gather({0, 1, 2, 3, 4, 2, 0, 0, 1, 0, 2}), "ran out at 'offset'");
  CHECK_THROWS(gather({0, 65536, 65536, 65536, 65536, 65536, 0, 0, 1, 0, 2, 0}), "overflows int64");
  // The same storage passed as two buffers: rejected on every run, before anything is written.
  CHECK_THROWS(run(Program().step(5, {0, 1, 2, 3, 2, 2, 0, 0, 1, 0, 2, 0}), {desc(x), desc(idx), desc(x)}),
               "step 0 (gather): out overlaps x in memory");
  auto scatter = [&](std::vector<int32_t> p) { run(Program().step(6, p), {desc(x), desc(idx), desc(out)}); };
  CHECK_THROWS(scatter({5, 0, 1, 1, 1, 4, 4, 1, 0, 0, 1, 0, 2, 0}), "op 5 is not a scatter op");
  CHECK_THROWS(scatter({0, 0, 2, 1, 1, 4, 4, 1, 0, 0, 1, 0, 2, 0}), "mode 2 is not a scatter mode");
  CHECK_THROWS(scatter({0, 3, 1, 1, 1, 4, 4, 1, 0, 0, 1, 0, 2, 0}), "add/mul is not defined on bool");
  CHECK_THROWS(scatter({0, 0, 0, 1, 1, 0, 4, 1, 0, 0, 1, 0, 2, 0}), "n is 0 but there are updates");
  CHECK_THROWS(scatter({0, 0, 1, 1, 1, 17, 4, 1, 0, 0, 1, 0, 2, 0}), "out block reaches element 16");
  CHECK_THROWS(scatter({0, 0, 1, 1, 1, 4, 4, 1, 0, 0, 1, 0, 1, 0}), "out uses buffer 1, which idx reads");
  auto sort = [&](std::vector<int32_t> p) { run(Program().step(7, p), {desc(x), desc(idx), desc(out)}); };
  CHECK_THROWS(sort({0, 2, 1, 4, 0, 0, 2, 0, 1, 0}), "descending is 2");
  CHECK_THROWS(sort({0, 0, 2, 4, 0, 0, 2, 0, 1, 0}), "idx block reaches element 7");
  CHECK_THROWS(sort({0, 0, 1, 4, 0, 0, 0, 0, 1, 0}), "out uses buffer 0, which in reads");
  auto scan = [&](std::vector<int32_t> p) { run(Program().step(8, p), {desc(x), desc(idx), desc(out)}); };
  CHECK_THROWS(scan({4, 0, 0, 1, 3, 4, 0, 0, 2, 0}), "op 4 is not a scan op");
  CHECK_THROWS(scan({0, 0, 3, 1, 3, 4, 0, 0, 2, 0}), "reverse is 3");
  CHECK_THROWS(scan({0, 3, 0, 1, 3, 4, 1, 0, 1, 0}), "sum/prod is not defined on bool");
  CHECK_THROWS(scan({0, 0, 0, 1, 3, 3, 0, 0, 0, 1}), "shares a buffer with in at another offset");
  CHECK_THROWS(scan({0, 0, 0, 1, 3, 5, 0, 0, 2, 0}), "in block reaches element 14");
}

namespace {
uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
}  // namespace

TEST(scans_match_a_sequential_reference_at_any_thread_count) {
  // Row-wise scans (inner 1, a row count that is not a multiple of the four rows run side by side)
  // and column-wise ones, forwards and in reverse: every element is the running float32 result.
  const int before = metalgrad::cpu::num_threads();
  struct Case {
    int32_t outer, n, inner;
  };
  for (Case c : {Case{7, 300, 1}, Case{3, 50, 37}, Case{1, 1000, 200}}) {
    const int32_t total = c.outer * c.n * c.inner;
    std::vector<float> x(total);
    for (int32_t i = 0; i < total; ++i) x[i] = std::sin(float(i) * 0.37f) * 2.0f;
    for (int32_t op : {0, 1, 2, 3}) {
      for (int32_t reverse : {0, 1}) {
        std::vector<float> want(total);
        for (int32_t o = 0; o < c.outer; ++o) {
          for (int32_t i = 0; i < c.inner; ++i) {
            float acc = 0;
            for (int32_t l = 0; l < c.n; ++l) {
              const int32_t j = reverse ? c.n - 1 - l : l;
              const float v = x[(o * c.n + j) * c.inner + i];
              acc = l == 0 ? v : op == 0 ? acc + v : op == 1 ? acc * v : op == 2 ? std::max(acc, v) : std::min(acc, v);
              want[(o * c.n + j) * c.inner + i] = acc;
            }
          }
        }
        for (int threads : {1, 3}) {
          metalgrad::cpu::set_num_threads(threads);
          std::vector<float> out(total, -7.0f);
          run(Program().step(8, {op, 0, reverse, c.outer, c.n, c.inner, 0, 0, 1, 0}), {desc(x), desc(out)});
          CHECK(out == want);
        }
      }
    }
  }
  metalgrad::cpu::set_num_threads(before);
}

TEST(sorts_match_a_stable_reference_at_any_thread_count) {
  // Many ties, NaNs and signed zeros, ascending and descending, rows shared among threads.
  const int before = metalgrad::cpu::num_threads();
  const int32_t rows = 9, n = 500;
  std::vector<float> x(rows * n);
  for (int32_t i = 0; i < rows * n; ++i) x[i] = i % 37 == 0 ? kNaN : i % 11 == 0 ? -0.0f : float((i * 7919) % 23) - 11.0f;
  for (int32_t descending : {0, 1}) {
    std::vector<int32_t> want(rows * n);
    for (int32_t r = 0; r < rows; ++r) {
      std::vector<int32_t> perm(n);
      for (int32_t j = 0; j < n; ++j) perm[j] = j;
      auto less = [&](int32_t a, int32_t b) {
        const float va = x[r * n + a], vb = x[r * n + b];
        if (std::isnan(vb)) return !std::isnan(va);
        if (std::isnan(va)) return false;
        return va < vb;
      };
      if (descending) std::stable_sort(perm.begin(), perm.end(), [&](int32_t a, int32_t b) { return less(b, a); });
      else std::stable_sort(perm.begin(), perm.end(), less);
      std::copy(perm.begin(), perm.end(), want.begin() + r * n);
    }
    for (int threads : {1, 3}) {
      metalgrad::cpu::set_num_threads(threads);
      std::vector<float> out(rows * n);
      std::vector<int32_t> idx(rows * n, -1);
      run(Program().step(7, {0, descending, rows, n, 0, 0, 1, 0, 2, 0}), {desc(x), desc(out), desc(idx)});
      CHECK(idx == want);
      for (int32_t i = 0; i < rows * n; ++i) CHECK_EQ(bits_of(out[i]), bits_of(x[(i / n) * n + idx[i]]));
    }
  }
  metalgrad::cpu::set_num_threads(before);
}

TEST(gathers_share_blocks_among_threads) {
  // Rows of 1, 2 and 3 elements (the inline copies and the general one), out-of-range indices
  // clamped, large enough to be shared among 3 threads; against a direct loop.
  const int before = metalgrad::cpu::num_threads();
  metalgrad::cpu::set_num_threads(3);
  for (int32_t nq : {1, 2, 3}) {
    const int32_t nb = 2, np = 300, n = 50, ns = 70;
    std::vector<float> x(nb * np * n * nq);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
    std::vector<int32_t> idx(nb * ns);
    for (int32_t i = 0; i < nb * ns; ++i) idx[i] = (i * 37) % 60 - 5;
    std::vector<float> out(nb * np * ns * nq, -1.0f);
    run(Program().step(5, gather_payload(nb, np, n, ns, nq)), {desc(x), desc(idx), desc(out)});
    for (int32_t b = 0; b < nb; ++b)
      for (int32_t p = 0; p < np; ++p)
        for (int32_t s = 0; s < ns; ++s)
          for (int32_t q = 0; q < nq; ++q) {
            const int32_t i = std::min(std::max(idx[b * ns + s], 0), n - 1);
            CHECK_EQ(out[((b * np + p) * ns + s) * nq + q], x[((b * np + p) * n + i) * nq + q]);
          }
  }
  metalgrad::cpu::set_num_threads(before);
}
