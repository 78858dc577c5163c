// Reduce and argreduce steps: axes subsets, strided inputs, empty reductions, accuracy, NaN, ties.
#include <cmath>
#include <limits>

#include "builder.h"
#include "harness.h"
#include "threadpool.h"

using namespace testing;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<int32_t> reduce_payload(int32_t op, int32_t dtype, std::vector<int32_t> shape,
                                    int32_t buf, int32_t offset, std::vector<int32_t> strides,
                                    std::vector<int32_t> axes, int32_t out_buf, int32_t out_offset) {
  std::vector<int32_t> p{op, dtype, static_cast<int32_t>(shape.size())};
  p.insert(p.end(), shape.begin(), shape.end());
  append(p, {buf, offset});
  p.insert(p.end(), strides.begin(), strides.end());
  p.push_back(static_cast<int32_t>(axes.size()));
  p.insert(p.end(), axes.begin(), axes.end());
  append(p, {out_buf, out_offset});
  return p;
}

std::vector<int32_t> argreduce_payload(int32_t op, int32_t dtype, std::vector<int32_t> shape,
                                       int32_t buf, int32_t offset, std::vector<int32_t> strides,
                                       int32_t axis, int32_t out_buf, int32_t out_offset) {
  std::vector<int32_t> p{op, dtype, static_cast<int32_t>(shape.size())};
  p.insert(p.end(), shape.begin(), shape.end());
  append(p, {buf, offset});
  p.insert(p.end(), strides.begin(), strides.end());
  append(p, {axis, out_buf, out_offset});
  return p;
}

// x[i, j, k] = i * 100 + j * 10 + k over shape [2, 3, 4].
std::vector<float> iota3() {
  std::vector<float> x(24);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) x[i * 12 + j * 4 + k] = float(i * 100 + j * 10 + k);
  return x;
}

}  // namespace

TEST(sum_over_each_axis_subset) {
  std::vector<float> x = iota3();
  for (int mask = 0; mask < 8; ++mask) {
    std::vector<int32_t> axes;
    int64_t kept[3] = {2, 3, 4};
    for (int d = 0; d < 3; ++d)
      if (mask & (1 << d)) axes.push_back(d), kept[d] = 1;
    std::vector<float> out(kept[0] * kept[1] * kept[2]);
    run(Program().step(2, reduce_payload(0, 0, {2, 3, 4}, 0, 0, {12, 4, 1}, axes, 1, 0)),
        {desc(x), desc(out)});
    for (int i = 0; i < kept[0]; ++i)
      for (int j = 0; j < kept[1]; ++j)
        for (int k = 0; k < kept[2]; ++k) {
          float ref = 0;
          for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 3; ++b)
              for (int c = 0; c < 4; ++c) {
                bool in = (kept[0] == 1 || a == i) && (kept[1] == 1 || b == j) && (kept[2] == 1 || c == k);
                if (in) ref += x[a * 12 + b * 4 + c];
              }
          CHECK_EQ(out[(i * kept[1] + j) * kept[2] + k], ref);
        }
  }
}

TEST(reduce_strided_input_and_output_offset) {
  // Max over axis 0 of a transposed, reversed view: view[i, j] = x[(3 - j) * 2 + i]... of x[4, 2].
  std::vector<int32_t> x{5, -1, 7, 3, -2, 9, 0, 4};
  std::vector<int32_t> out{99, 99, 99, 99, 99};
  run(Program().step(2, reduce_payload(2, 1, {2, 4}, 0, 6, {1, -2}, {1}, 1, 3)), {desc(x), desc(out)});
  CHECK_EQ(out[2], 99);
  CHECK_EQ(out[3], 7);  // max of x[6], x[4], x[2], x[0]
  CHECK_EQ(out[4], 9);  // max of x[7], x[5], x[3], x[1]
}

TEST(reduce_ops_and_dtypes) {
  std::vector<int32_t> xi{3, -4, 5};
  std::vector<int32_t> oi(1);
  run(Program().step(2, reduce_payload(1, 1, {3}, 0, 0, {1}, {0}, 1, 0)), {desc(xi), desc(oi)});
  CHECK_EQ(oi[0], -60);
  std::vector<uint32_t> xu{4000000000u, 500000000u};
  std::vector<uint32_t> ou(1);
  run(Program().step(2, reduce_payload(0, 2, {2}, 0, 0, {1}, {0}, 1, 0)), {desc(xu), desc(ou)});
  CHECK_EQ(ou[0], 4500000000u - 4294967296u);  // wraps
  run(Program().step(2, reduce_payload(3, 2, {2}, 0, 0, {1}, {0}, 1, 0)), {desc(xu), desc(ou)});
  CHECK_EQ(ou[0], 500000000u);
  std::vector<uint8_t> xb{0, 3, 0}, ob(1);
  run(Program().step(2, reduce_payload(2, 3, {3}, 0, 0, {1}, {0}, 1, 0)), {desc(xb), desc(ob)});
  CHECK_EQ(ob[0], 1);
  run(Program().step(2, reduce_payload(3, 3, {3}, 0, 0, {1}, {0}, 1, 0)), {desc(xb), desc(ob)});
  CHECK_EQ(ob[0], 0);
  std::vector<float> xf{1.0f, kNaN, 3.0f}, of(1);
  run(Program().step(2, reduce_payload(2, 0, {3}, 0, 0, {1}, {0}, 1, 0)), {desc(xf), desc(of)});
  CHECK(std::isnan(of[0]));
  run(Program().step(2, reduce_payload(3, 0, {3}, 0, 0, {1}, {0}, 1, 0)), {desc(xf), desc(of)});
  CHECK(std::isnan(of[0]));
  std::vector<float> big(20, 1.5f);
  big[17] = kNaN;
  run(Program().step(2, reduce_payload(2, 0, {20}, 0, 0, {1}, {0}, 1, 0)), {desc(big), desc(of)});
  CHECK(std::isnan(of[0]));
}

TEST(empty_reductions_give_identities) {
  std::vector<float> none;
  std::vector<float> of(3);
  const float fexpect[4] = {0.0f, 1.0f, -kInf, kInf};
  for (int op = 0; op < 4; ++op) {
    run(Program().step(2, reduce_payload(op, 0, {3, 0}, 0, 0, {0, 1}, {1}, 1, 0)), {desc(none), desc(of)});
    for (int i = 0; i < 3; ++i) CHECK_EQ(of[i], fexpect[op]);
  }
  std::vector<int32_t> ni, oi(1);
  const int32_t iexpect[4] = {0, 1, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
  for (int op = 0; op < 4; ++op) {
    run(Program().step(2, reduce_payload(op, 1, {0}, 0, 0, {1}, {0}, 1, 0)), {desc(ni), desc(oi)});
    CHECK_EQ(oi[0], iexpect[op]);
  }
  std::vector<uint32_t> nu, ou(1);
  run(Program().step(2, reduce_payload(3, 2, {0}, 0, 0, {1}, {0}, 1, 0)), {desc(nu), desc(ou)});
  CHECK_EQ(ou[0], std::numeric_limits<uint32_t>::max());
  run(Program().step(2, reduce_payload(2, 2, {0}, 0, 0, {1}, {0}, 1, 0)), {desc(nu), desc(ou)});
  CHECK_EQ(ou[0], 0u);
  std::vector<uint8_t> nb, ob(1);
  run(Program().step(2, reduce_payload(2, 3, {0}, 0, 0, {1}, {0}, 1, 0)), {desc(nb), desc(ob)});
  CHECK_EQ(ob[0], 0);
  run(Program().step(2, reduce_payload(3, 3, {0}, 0, 0, {1}, {0}, 1, 0)), {desc(nb), desc(ob)});
  CHECK_EQ(ob[0], 1);
  // Zero kept elements write nothing; no axes reduced is a copy.
  std::vector<float> x{1, 2}, out(2);
  run(Program().step(2, reduce_payload(0, 0, {2}, 0, 0, {1}, {}, 1, 0)), {desc(x), desc(out)});
  CHECK_EQ(out[1], 2.0f);
}

TEST(large_float_sum_is_accurate) {
  const int32_t n = 1 << 24;
  std::vector<float> x(n);
  double ref = 0;
  for (int32_t i = 0; i < n; ++i) {
    x[i] = 0.1f + float(i % 1000) * 1e-4f;
    ref += x[i];
  }
  std::vector<float> out(1);
  run(Program().step(2, reduce_payload(0, 0, {n}, 0, 0, {1}, {0}, 1, 0)), {desc(x), desc(out)});
  CHECK(std::fabs(out[0] - ref) / ref < 1e-6);
  // The same data as [4096, 4096] reduced over both axes through a transposed view.
  run(Program().step(2, reduce_payload(0, 0, {4096, 4096}, 0, 0, {1, 4096}, {0, 1}, 1, 0)),
      {desc(x), desc(out)});
  CHECK(std::fabs(out[0] - ref) / ref < 1e-6);
}

TEST(argmax_argmin) {
  // x is [2, 4]; argmax over axis 1 with a tie, argmin over axis 0.
  std::vector<float> x{1, 5, 5, 2, 7, 0, 0, 9};
  std::vector<int32_t> out(4, -1);
  run(Program().step(3, argreduce_payload(0, 0, {2, 4}, 0, 0, {4, 1}, 1, 1, 0)), {desc(x), desc(out)});
  CHECK_EQ(out[0], 1);
  CHECK_EQ(out[1], 3);
  run(Program().step(3, argreduce_payload(1, 0, {2, 4}, 0, 0, {4, 1}, 0, 1, 0)), {desc(x), desc(out)});
  CHECK_EQ(out[0], 0);
  CHECK_EQ(out[1], 1);
  CHECK_EQ(out[2], 1);
  CHECK_EQ(out[3], 0);
}

TEST(argreduce_nan_and_dtypes) {
  std::vector<float> x{1, kNaN, 9, kNaN};
  std::vector<int32_t> out(1);
  run(Program().step(3, argreduce_payload(0, 0, {4}, 0, 0, {1}, 0, 1, 0)), {desc(x), desc(out)});
  CHECK_EQ(out[0], 1);
  run(Program().step(3, argreduce_payload(1, 0, {4}, 0, 0, {1}, 0, 1, 0)), {desc(x), desc(out)});
  CHECK_EQ(out[0], 1);
  std::vector<uint32_t> xu{3u, 4000000000u, 4000000000u};
  run(Program().step(3, argreduce_payload(0, 2, {3}, 0, 0, {1}, 0, 1, 0)), {desc(xu), desc(out)});
  CHECK_EQ(out[0], 1);
  std::vector<uint8_t> xb{0, 2, 1};
  run(Program().step(3, argreduce_payload(0, 3, {3}, 0, 0, {1}, 0, 1, 0)), {desc(xb), desc(out)});
  CHECK_EQ(out[0], 1);
  std::vector<int32_t> xi{4, -2, -2};
  run(Program().step(3, argreduce_payload(1, 1, {3}, 0, 2, {-1}, 0, 1, 0)), {desc(xi), desc(out)});
  CHECK_EQ(out[0], 0);  // reversed view: -2 at view index 0 comes first
}

TEST(empty_inputs_are_never_addressed) {
  // Empty reduction over an empty buffer with a nonzero offset: only the output is touched.
  std::vector<float> none, out(2, 9.0f);
  run(Program().step(2, reduce_payload(1, 0, {2, 0}, 0, 5, {0, 1}, {1}, 1, 0)), {desc(none), desc(out)});
  CHECK_EQ(out[0], 1.0f);
  CHECK_EQ(out[1], 1.0f);
}

namespace {

// Runs a reduction of x (viewed with `shape`/`strides`) at the given thread count.
template <class T>
std::vector<T> reduce_with_threads(int threads, int32_t op, std::vector<T>& x, std::vector<int32_t> shape,
                                   std::vector<int32_t> strides, std::vector<int32_t> axes, size_t nout) {
  const int before = metalgrad::cpu::num_threads();
  metalgrad::cpu::set_num_threads(threads);
  std::vector<T> out(nout);
  run(Program().step(2, reduce_payload(op, dtype_code<T>(), shape, 0, 0, strides, axes, 1, 0)),
      {desc(x), desc(out)});
  metalgrad::cpu::set_num_threads(before);
  return out;
}

}  // namespace

TEST(reduce_results_do_not_depend_on_thread_count) {
  std::vector<float> xf(600000);
  std::vector<int32_t> xi(xf.size());
  for (size_t i = 0; i < xf.size(); ++i) {
    xf[i] = float((i * 7919) % 1001) * 1e-3f - 0.4f;
    xi[i] = int32_t((i * 104729) % 2000003) - 1000000;
  }
  // One long reduction, few long ones (split into segments), and many short ones (split over outputs).
  struct Layout {
    std::vector<int32_t> shape, strides, axes;
    size_t nout;
  };
  const Layout layouts[] = {{{600000}, {1}, {0}, 1},
                            {{3, 200000}, {200000, 1}, {1}, 3},
                            {{200000, 3}, {3, 1}, {0}, 3},
                            {{15000, 40}, {40, 1}, {1}, 15000},
                            {{40, 15000}, {1, 40}, {0}, 15000}};
  for (const Layout& l : layouts) {
    for (int32_t op = 0; op < 4; ++op) {
      const auto f1 = reduce_with_threads(1, op, xf, l.shape, l.strides, l.axes, l.nout);
      const auto i1 = reduce_with_threads(1, op, xi, l.shape, l.strides, l.axes, l.nout);
      for (int threads : {2, 4}) {
        CHECK(reduce_with_threads(threads, op, xf, l.shape, l.strides, l.axes, l.nout) == f1);
        CHECK(reduce_with_threads(threads, op, xi, l.shape, l.strides, l.axes, l.nout) == i1);
      }
    }
  }
  // The segmented float sum still matches float64.
  double ref = 0;
  for (float v : xf) ref += v;
  const auto sum = reduce_with_threads(2, 0, xf, {600000}, {1}, {0}, 1);
  CHECK_NEAR(sum[0], ref, 1e-6 * std::fabs(ref) + 1e-3);
  int32_t wrapped = 0;
  for (int32_t v : xi) wrapped = int32_t(uint32_t(wrapped) + uint32_t(v));
  CHECK_EQ(reduce_with_threads(2, 0, xi, {600000}, {1}, {0}, 1)[0], wrapped);
}

TEST(column_reductions_match_row_reductions) {
  // Reducing axis 0 of [rows, cols] (the innermost axis kept: run in columns order) must agree with
  // reducing axis 1 of the same data viewed as [cols, rows] (the innermost axis reduced): exactly for
  // integers, max and min, and to float rounding for sums; every dtype and op reduce.cc supports.
  const int32_t rows = 37, cols = 300;
  const int32_t n = rows * cols;
  auto both = [&](int32_t op, int32_t dtype, auto& x, auto& by_cols, auto& by_rows) {
    run(Program().step(2, reduce_payload(op, dtype, {rows, cols}, 0, 0, {cols, 1}, {0}, 1, 0)), {desc(x), desc(by_cols)});
    run(Program().step(2, reduce_payload(op, dtype, {cols, rows}, 0, 0, {1, cols}, {1}, 1, 0)), {desc(x), desc(by_rows)});
  };
  std::vector<int32_t> xi(n);
  for (int32_t i = 0; i < n; ++i) xi[i] = (i * 7919) % 2001 - 1000;
  for (int32_t op : {0, 1, 2, 3}) {
    std::vector<int32_t> c(cols), r(cols);
    both(op, 1, xi, c, r);
    CHECK(c == r);
  }
  std::vector<uint32_t> xu(n);
  for (int32_t i = 0; i < n; ++i) xu[i] = 4000000000u - static_cast<uint32_t>(i) * 977u;
  for (int32_t op : {0, 2, 3}) {
    std::vector<uint32_t> c(cols), r(cols);
    both(op, 2, xu, c, r);
    CHECK(c == r);
  }
  std::vector<uint8_t> xb(n);
  for (int32_t i = 0; i < n; ++i) xb[i] = (i % 41 == 0) ? 5 : 0;
  for (int32_t op : {2, 3}) {
    std::vector<uint8_t> c(cols), r(cols);
    both(op, 3, xb, c, r);
    CHECK(c == r);
  }
  std::vector<float> xf(n);
  for (int32_t i = 0; i < n; ++i) xf[i] = std::sin(static_cast<float>(i)) * 100.0f;
  xf[5 * cols + 17] = kNaN;
  for (int32_t op : {0, 2, 3}) {
    std::vector<float> c(cols), r(cols);
    both(op, 0, xf, c, r);
    for (int32_t j = 0; j < cols; ++j) {
      if (op == 0 && j != 17) CHECK_NEAR(c[j], r[j], 1e-3);
      else CHECK_EQ(c[j], r[j]);
    }
    CHECK(std::isnan(c[17]));
  }
}

TEST(float_max_min_with_infinities_nans_and_signed_zeros) {
  // The vectorised max/min against a sequential fold: infinities (which only look like NaNs to the
  // loop's check), a NaN at various places, +0/-0 ties, and lengths with tails.
  for (int32_t n : {5, 8, 37, 256, 1000}) {
    for (int variant = 0; variant < 4; ++variant) {
      std::vector<float> x(n);
      for (int32_t i = 0; i < n; ++i) x[i] = std::sin(float(i)) * 10.0f;
      if (variant == 1) { x[n / 2] = kInf; x[n - 1] = -kInf; }
      if (variant == 2) x[(n * 2) / 3] = kNaN;
      if (variant == 3) for (int32_t i = 0; i < n; ++i) x[i] = i % 2 ? 0.0f : -0.0f;
      for (int32_t op : {2, 3}) {
        std::vector<float> out(1);
        run(Program().step(2, reduce_payload(op, 0, {n}, 0, 0, {1}, {0}, 1, 0)), {desc(x), desc(out)});
        float want = op == 2 ? -kInf : kInf;
        bool nan = false;
        for (float v : x) {
          nan |= std::isnan(v);
          if (op == 2 ? v > want : v < want) want = v;
        }
        if (nan) {
          CHECK(std::isnan(out[0]));
        } else {
          CHECK_EQ(out[0], want);
        }
        if (variant == 3) CHECK_EQ(out[0], 0.0f);
      }
    }
  }
}

TEST(argreductions_shared_among_threads) {
  // Many outputs along either axis, NaNs in a few rows, three threads: every output against a scan.
  const int before = metalgrad::cpu::num_threads();
  metalgrad::cpu::set_num_threads(3);
  const int32_t rows = 3000, cols = 50;
  std::vector<float> x(rows * cols);
  for (int32_t i = 0; i < rows * cols; ++i) x[i] = float((i * 7919) % 1009);
  x[17 * cols + 3] = kNaN;
  for (int32_t axis : {0, 1}) {
    const int32_t outs = axis == 1 ? rows : cols, n = axis == 1 ? cols : rows;
    for (int32_t op : {0, 1}) {
      std::vector<int32_t> out(outs, -1);
      run(Program().step(3, argreduce_payload(op, 0, {rows, cols}, 0, 0, {cols, 1}, axis, 1, 0)), {desc(x), desc(out)});
      for (int32_t o = 0; o < outs; ++o) {
        int32_t best = 0;
        for (int32_t l = 0; l < n; ++l) {
          const float v = x[axis == 1 ? o * cols + l : l * cols + o], b = x[axis == 1 ? o * cols + best : best * cols + o];
          if (std::isnan(b)) break;
          if (std::isnan(v) || (op == 0 ? v > b : v < b)) best = l;
        }
        CHECK_EQ(out[o], best);
      }
    }
  }
  metalgrad::cpu::set_num_threads(before);
}
