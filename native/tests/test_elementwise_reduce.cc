// ELEMENTWISE_REDUCE steps (kind 9): a program whose register is reduced over some axes, in the row
// order (innermost axis reduced) and the column order (innermost axis kept), with element outputs,
// every kind, empty reductions, and validation.
#include <algorithm>
#include <cmath>
#include <limits>

#include "builder.h"
#include "harness.h"
#include "threadpool.h"

using namespace testing;

namespace {

// Payload of kind 9: the elementwise payload, then op, reg, nred, axes, out_buf, out_offset.
std::vector<int32_t> ew_reduce(const Elementwise& ew, int32_t op, int32_t reg, std::vector<int32_t> axes,
                               int32_t out_buf, int32_t out_offset = 0) {
  std::vector<int32_t> p = ew.payload();
  append(p, {op, reg, static_cast<int32_t>(axes.size())});
  p.insert(p.end(), axes.begin(), axes.end());
  append(p, {out_buf, out_offset});
  return p;
}

// x[i, j, k] = sin(i * 12 + j * 4 + k) over shape [2, 3, 4].
std::vector<float> wave(int n) {
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[i] = std::sin(static_cast<float>(i));
  return x;
}

// y = x * x over [2, 3, 4] (contiguous), reduced with `op` over `axes` into out; also stores y.
Elementwise square(std::vector<int32_t> shape) {
  const auto s = contiguous(shape);
  return Elementwise{shape, {{0, 0, 0, s}}, {{0, 1, 0, s, 1}}, 2, {{ScalarOp::mul, 0, 1, 0, 0}}};
}

// Reference: reduce x*x over `axes` of [2, 3, 4] with `f`, starting at `init`.
template <class F>
std::vector<double> reference(const std::vector<float>& x, const std::vector<int32_t>& axes, double init, F f) {
  const int dims[3] = {2, 3, 4};
  bool red[3] = {false, false, false};
  for (int a : axes) red[a] = true;
  int out_dims[3], n = 1;
  for (int d = 0; d < 3; ++d) n *= (out_dims[d] = red[d] ? 1 : dims[d]);
  std::vector<double> out(n, init);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) {
        const int o = ((red[0] ? 0 : i) * out_dims[1] + (red[1] ? 0 : j)) * out_dims[2] + (red[2] ? 0 : k);
        const float v = x[(i * 3 + j) * 4 + k];
        out[o] = f(out[o], static_cast<double>(v * v));
      }
  return out;
}

}  // namespace

TEST(elementwise_reduce_every_axis_set) {
  const std::vector<std::vector<int32_t>> axes_sets = {{}, {0}, {1}, {2}, {0, 1}, {1, 2}, {0, 2}, {0, 1, 2}};
  for (const auto& axes : axes_sets) {
    std::vector<float> x = wave(24), y(24), sum(24, -1.0f), mx(24, -1.0f);
    Program p;
    p.step(9, ew_reduce(square({2, 3, 4}), 0, 1, axes, 2));
    p.step(9, ew_reduce(square({2, 3, 4}), 2, 1, axes, 3));
    run(p, {desc(x), desc(y), desc(sum), desc(mx)});
    for (int i = 0; i < 24; ++i) CHECK_EQ(y[i], x[i] * x[i]);
    const auto want_sum = reference(x, axes, 0.0, [](double a, double v) { return a + v; });
    const auto want_max = reference(x, axes, -INFINITY, [](double a, double v) { return std::max(a, v); });
    for (size_t o = 0; o < want_sum.size(); ++o) {
      CHECK_NEAR(sum[o], want_sum[o], 1e-5);
      CHECK_EQ(mx[o], static_cast<float>(want_max[o]));
    }
    for (size_t o = want_sum.size(); o < 24; ++o) CHECK_EQ(sum[o], -1.0f);  // nothing past the output
  }
}

TEST(elementwise_reduce_strided_and_broadcast_inputs) {
  // out[j] = sum_i (a[j, i] + b[i]) with a read transposed ([3, 2] stored, viewed as [2, 3]).
  std::vector<float> a{1, 2, 3, 4, 5, 6}, b{10, 20}, out(3);
  Elementwise ew{{2, 3},
                 {{0, 0, 0, {1, 2}}, {0, 1, 0, {1, 0}}},
                 {},
                 3,
                 {{ScalarOp::add, 0, 2, 0, 1}}};
  run(Program().step(9, ew_reduce(ew, 0, 2, {0}, 2)), {desc(a), desc(b), desc(out)});
  // a viewed as [2, 3] with strides (1, 2): rows (1, 3, 5) and (2, 4, 6).
  CHECK_EQ(out[0], 1 + 10 + 2 + 20.0f);
  CHECK_EQ(out[1], 3 + 10 + 4 + 20.0f);
  CHECK_EQ(out[2], 5 + 10 + 6 + 20.0f);
}

TEST(elementwise_reduce_long_rows_and_columns) {
  // 3 x 5000: long rows (reduce axis 1) and long columns (reduce axis 0) cross tile boundaries.
  const int n = 5000;
  std::vector<float> x(3 * n);
  for (int i = 0; i < 3 * n; ++i) x[i] = static_cast<float>((i % 7) - 3) * 0.5f;
  std::vector<float> rows(3), cols(n);
  const auto s = contiguous({3, n});
  Elementwise ew{{3, n}, {{0, 0, 0, s}}, {}, 2, {{ScalarOp::abs, 0, 1, 0}}};
  run(Program().step(9, ew_reduce(ew, 0, 1, {1}, 1)).step(9, ew_reduce(ew, 3, 1, {0}, 2)),
      {desc(x), desc(rows), desc(cols)});
  for (int r = 0; r < 3; ++r) {
    double want = 0;
    for (int c = 0; c < n; ++c) want += std::fabs(x[r * n + c]);
    CHECK_NEAR(rows[r], want, 1e-3);
  }
  for (int c = 0; c < n; ++c) {
    const float want = std::min({std::fabs(x[c]), std::fabs(x[n + c]), std::fabs(x[2 * n + c])});
    CHECK_EQ(cols[c], want);
  }
}

TEST(elementwise_reduce_kinds) {
  // int32 sums wrap; bool max is "any"; uint32 min; float max propagates NaN.
  std::vector<int32_t> xi{2147483647, 1, -5, 7};
  std::vector<int32_t> si(1);
  Elementwise ei{{4}, {{1, 0, 0, {1}}}, {}, 2, {{ScalarOp::copy, 1, 1, 0}}};
  run(Program().step(9, ew_reduce(ei, 0, 1, {0}, 1)), {desc(xi), desc(si)});
  CHECK_EQ(si[0], static_cast<int32_t>(2147483647u + 1u - 5u + 7u));
  std::vector<float> xf{1, 5, 2, 0.5f, -1, 3};
  std::vector<uint8_t> any(2);
  std::vector<float> limit{4};
  Elementwise eb{{2, 3}, {{0, 0, 0, {3, 1}}, {0, 1, 0, {0, 0}}}, {}, 3, {{ScalarOp::gt, 0, 2, 0, 1}}};
  run(Program().step(9, ew_reduce(eb, 2, 2, {1}, 2)), {desc(xf), desc(limit), desc(any)});
  CHECK_EQ(any[0], 1);
  CHECK_EQ(any[1], 0);
  std::vector<uint32_t> xu{9, 3, 4000000000u, 12};
  std::vector<uint32_t> mu(2);
  Elementwise eu{{2, 2}, {{2, 0, 0, {2, 1}}}, {}, 2, {{ScalarOp::copy, 2, 1, 0}}};
  run(Program().step(9, ew_reduce(eu, 3, 1, {0}, 1)), {desc(xu), desc(mu)});
  CHECK_EQ(mu[0], 9u);
  CHECK_EQ(mu[1], 3u);
  std::vector<float> xn{1, std::numeric_limits<float>::quiet_NaN(), 3};
  std::vector<float> mn(1);
  Elementwise en{{3}, {{0, 0, 0, {1}}}, {}, 2, {{ScalarOp::copy, 0, 1, 0}}};
  run(Program().step(9, ew_reduce(en, 2, 1, {0}, 1)), {desc(xn), desc(mn)});
  CHECK(std::isnan(mn[0]));
}

TEST(elementwise_reduce_empty) {
  // Reducing an empty axis gives the identity; an empty kept axis writes nothing.
  std::vector<float> x, out{-1, -1};
  Elementwise ew{{2, 0}, {{0, 0, 0, {0, 1}}}, {}, 2, {{ScalarOp::exp, 0, 1, 0}}};
  run(Program().step(9, ew_reduce(ew, 1, 1, {1}, 1)), {desc(x), desc(out)});
  CHECK_EQ(out[0], 1.0f);
  CHECK_EQ(out[1], 1.0f);
  std::vector<float> none{-1};
  Elementwise ek{{0, 3}, {{0, 0, 0, {3, 1}}}, {}, 2, {{ScalarOp::exp, 0, 1, 0}}};
  run(Program().step(9, ew_reduce(ek, 0, 1, {1}, 1)), {desc(x), desc(none)});
  CHECK_EQ(none[0], -1.0f);
}

TEST(elementwise_reduce_validation) {
  std::vector<float> x = wave(24), y(24), out(24);
  std::vector<int32_t> iout(24);
  auto bufs = [&] { return std::vector<BufferDesc>{desc(x), desc(y), desc(out), desc(iout)}; };
  auto bad = [&](std::vector<int32_t> payload) { run(Program().step(9, payload), bufs()); };
  CHECK_THROWS(bad(ew_reduce(square({2, 3, 4}), 4, 1, {0}, 2)), "step 0 (elementwise_reduce): reduce op 4 is not a reduce op");
  CHECK_THROWS(bad(ew_reduce(square({2, 3, 4}), 0, 7, {0}, 2)), "reduce reg is register 7 but nregs is 2");
  CHECK_THROWS(bad(ew_reduce(square({2, 3, 4}), 0, 1, {0, 0}, 2)), "axis 0 appears twice");
  CHECK_THROWS(bad(ew_reduce(square({2, 3, 4}), 0, 1, {3}, 2)), "axis 3 is out of range for ndim 3");
  CHECK_THROWS(bad(ew_reduce(square({2, 3, 4}), 0, 1, {}, 2, 1)), "reduce output view reaches element 24 but buffer 2 has 24 elements");
  CHECK_THROWS(bad(ew_reduce(square({2, 3, 4}), 0, 1, {0}, 3)), "reduce output view has dtype float32 but buffer 3 holds int32");
  Elementwise eb{{4}, {{0, 0, 0, {1}}}, {}, 3, {{ScalarOp::lt, 0, 1, 0, 0}, {ScalarOp::lt, 0, 2, 0, 0}}};
  CHECK_THROWS(bad(ew_reduce(eb, 0, 1, {0}, 2)), "sum/prod is not defined on bool");
}

TEST(elementwise_reduce_results_do_not_depend_on_thread_count) {
  // sum over rows and over columns of exp(x * 0.01) on [400, 700]: big enough to be shared, with
  // every output folded by one task in a fixed order.
  const int32_t rows = 400, cols = 700;
  std::vector<float> x(size_t(rows) * cols);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 101) - 50.0f;
  const auto s = contiguous({rows, cols});
  Elementwise ew{{rows, cols}, {{0, 0, 0, s}}, {}, 3, {{ScalarOp::const_, 0, 1, 0}, {ScalarOp::mul, 0, 2, 0, 1}, {ScalarOp::exp, 0, 1, 2}}};
  const int before = metalgrad::cpu::num_threads();
  std::vector<std::vector<float>> by_rows, by_cols;
  for (int threads : {1, 2, 3}) {
    metalgrad::cpu::set_num_threads(threads);
    std::vector<float> r(rows), c(cols);
    run(Program().step(9, ew_reduce(ew, 0, 1, {1}, 1)).step(9, ew_reduce(ew, 0, 1, {0}, 2)), {desc(x), desc(r), desc(c)}, {0.01});
    by_rows.push_back(r);
    by_cols.push_back(c);
  }
  metalgrad::cpu::set_num_threads(before);
  double want = 0;
  for (int32_t j = 0; j < cols; ++j) want += std::exp(double(x[j]) * 0.01);
  CHECK_NEAR(by_rows[0][0], want, 1e-3);
  for (int t = 1; t < 3; ++t) {
    CHECK(by_rows[t] == by_rows[0]);
    CHECK(by_cols[t] == by_cols[0]);
  }
}

TEST(elementwise_reduce_long_rows_in_segments) {
  // Sums, maxima and products of x*x over long rows: 1, 3 and 5 outputs of 200003 elements (four
  // segments each), so with 4 threads the segments are shared and with 1 they are not; the results
  // must not change, and they must match float64 references.
  const int32_t len = 200003;
  const int before = metalgrad::cpu::num_threads();
  for (int32_t outputs : {1, 3, 5}) {
    std::vector<float> x(size_t(outputs) * len);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(float(i) * 0.001f) * (i % 7 == 0 ? 3.0f : 1.0f);
    const auto s = contiguous({outputs, len});
    Elementwise ew{{outputs, len}, {{0, 0, 0, s}}, {}, 2, {{ScalarOp::mul, 0, 1, 0, 0}}};
    for (int32_t op : {0, 2}) {
      std::vector<std::vector<float>> results;
      for (int threads : {1, 2, 4}) {
        metalgrad::cpu::set_num_threads(threads);
        std::vector<float> out(outputs, -1.0f);
        run(Program().step(9, ew_reduce(ew, op, 1, {1}, 1)), {desc(x), desc(out)});
        results.push_back(out);
      }
      for (size_t t = 1; t < results.size(); ++t) CHECK(results[t] == results[0]);
      for (int32_t o = 0; o < outputs; ++o) {
        double sum = 0, mx = -1;
        for (int32_t j = 0; j < len; ++j) {
          const float v = x[size_t(o) * len + j];
          sum += double(v * v);
          mx = std::max(mx, double(v * v));
        }
        if (op == 0) CHECK_NEAR(results[0][o], sum, 1e-6 * sum);
        else CHECK_EQ(results[0][o], float(mx));
      }
    }
  }
  metalgrad::cpu::set_num_threads(before);
}
