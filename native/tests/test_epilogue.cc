// Epilogues: an elementwise program run on each finished block of a reduction's or matmul's result
// (kinds 2, 4 and 9 followed by `src, <ELEMENTWISE payload>`), in place and into other buffers, on
// every thread count, and the validation of their layout and memory.
#include <cmath>
#include <vector>

#include "builder.h"
#include "harness.h"
#include "threadpool.h"

using namespace testing;
using metalgrad::cpu::num_threads;
using metalgrad::cpu::set_num_threads;

namespace {

std::vector<int32_t> with_epilogue(std::vector<int32_t> p, int32_t src, const Elementwise& epi) {
  p.push_back(src);
  const std::vector<int32_t> e = epi.payload();
  p.insert(p.end(), e.begin(), e.end());
  return p;
}

// y = r * consts[0] + bias (bias broadcast along the last of `shape`): input 0 is the result at
// (buf r_buf), input 1 the bias, output 0 to (out_buf).
Elementwise scale_add_bias(std::vector<int32_t> shape, int32_t r_buf, int32_t bias_buf, int32_t out_buf) {
  std::vector<int32_t> bias_strides(shape.size(), 0);
  bias_strides.back() = 1;
  return Elementwise{shape,
                     {{0, r_buf, 0, contiguous(shape)}, {0, bias_buf, 0, bias_strides}},
                     {{0, out_buf, 0, contiguous(shape), 4}},
                     5,
                     {{ScalarOp::const_, 0, 2, 0}, {ScalarOp::mul, 0, 3, 0, 2}, {ScalarOp::add, 0, 4, 3, 1}}};
}

std::vector<float> wave(size_t n, float f) {
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) x[i] = std::sin(static_cast<float>(i) * f);
  return x;
}

// Kind 2 payload: sum over axis 1 of a contiguous [rows, cols] input in buffer 0 into buffer `out`.
std::vector<int32_t> row_sum(int32_t rows, int32_t cols, int32_t out) {
  return {0, 0, 2, rows, cols, 0, 0, cols, 1, 1, 1, out, 0};
}

}  // namespace

TEST(reduce_epilogue_in_place_every_thread_count) {
  // Enough rows for several blocks per task; the result is overwritten in place by the epilogue.
  const int32_t rows = 3001, cols = 7;
  const std::vector<float> x = wave(static_cast<size_t>(rows) * cols, 0.37f), bias = wave(rows, 1.3f);
  const int before = num_threads();
  for (int threads : {1, 3}) {
    set_num_threads(threads);
    std::vector<float> xs = x, b = bias, out(rows, -1.0f);
    // The bias varies along the result's only axis.
    Elementwise epi = scale_add_bias({rows}, 2, 1, 2);
    run(Program().step(2, with_epilogue(row_sum(rows, cols, 2), 0, epi)), {desc(xs), desc(b), desc(out)}, {0.5});
    for (int32_t i = 0; i < rows; ++i) {
      float s = 0;
      for (int32_t j = 0; j < cols; ++j) s += x[static_cast<size_t>(i) * cols + j];
      CHECK_NEAR(out[i], s * 0.5f + bias[i], 1e-5);
    }
  }
  set_num_threads(before);
}

TEST(reduce_epilogue_keeps_the_result_and_reads_other_dtypes) {
  // The result is stored in its own buffer and the epilogue writes a bool (result > 1).
  const int32_t rows = 5, cols = 4;
  std::vector<float> x = wave(rows * cols, 0.9f), sum(rows, 0.0f);
  std::vector<uint8_t> big(rows, 7);
  Elementwise epi{{rows}, {{0, 1, 0, {1}}}, {{3, 2, 0, {1}, 2}}, 3, {{ScalarOp::const_, 0, 1, 0}, {ScalarOp::gt, 0, 2, 0, 1}}};
  run(Program().step(2, with_epilogue(row_sum(rows, cols, 1), 0, epi)), {desc(x), desc(sum), desc(big)}, {0.25});
  for (int32_t i = 0; i < rows; ++i) {
    float s = 0;
    for (int32_t j = 0; j < cols; ++j) s += x[i * cols + j];
    CHECK_NEAR(sum[i], s, 1e-6);
    CHECK_EQ(big[i], s > 0.25f ? 1 : 0);
  }
}

TEST(elementwise_reduce_epilogue_rows_and_columns) {
  // exp(x) summed over one axis (rows order: axis 1; columns order: axis 0), then log of the sum.
  const int32_t r = 37, c = 600;
  const std::vector<float> x = wave(static_cast<size_t>(r) * c, 0.11f);
  for (int32_t axis : {0, 1}) {
    const int32_t n = axis == 1 ? r : c;
    std::vector<float> xs = x, out(n, 0.0f);
    Elementwise prologue{{r, c}, {{0, 0, 0, {c, 1}}}, {}, 2, {{ScalarOp::exp, 0, 1, 0}}};
    std::vector<int32_t> p = prologue.payload();
    append(p, {0, 1, 1, axis, 1, 0});
    Elementwise epi{{n}, {{0, 1, 0, {1}}}, {{0, 1, 0, {1}, 1}}, 2, {{ScalarOp::log, 0, 1, 0}}};
    run(Program().step(9, with_epilogue(p, 0, epi)), {desc(xs), desc(out)});
    for (int32_t o = 0; o < n; ++o) {
      double s = 0;
      for (int32_t k = 0; k < (axis == 1 ? c : r); ++k) s += std::exp(x[axis == 1 ? o * c + k : k * c + o]);
      CHECK_NEAR(out[o], std::log(s), 1e-5);
    }
  }
}

TEST(matmul_epilogue_bias_relu_shapes_and_threads) {
  // Shapes covering whole-width blocks, column-split blocks and the transposed (narrow C) path.
  struct Case {
    int32_t batch, m, n, k;
  };
  const int before = num_threads();
  for (Case cs : {Case{1, 3, 5, 4}, Case{2, 67, 300, 33}, Case{1, 700, 3, 50}, Case{3, 1, 1, 0}}) {
    for (int threads : {1, 4}) {
      set_num_threads(threads);
      const int32_t mn = cs.m * cs.n;
      std::vector<float> a = wave(static_cast<size_t>(cs.batch) * cs.m * cs.k, 0.7f), b = wave(static_cast<size_t>(cs.batch) * cs.k * cs.n, 0.3f);
      std::vector<float> bias = wave(cs.n, 2.1f), c(static_cast<size_t>(cs.batch) * mn, 9.0f);
      // relu(c + bias) written over C itself.
      const std::vector<int32_t> shape{cs.batch, cs.m, cs.n};
      Elementwise epi{shape, {{0, 3, 0, contiguous(shape)}, {0, 2, 0, {0, 0, 1}}}, {{0, 3, 0, contiguous(shape), 4}}, 5,
                      {{ScalarOp::add, 0, 2, 0, 1}, {ScalarOp::const_, 0, 3, 0}, {ScalarOp::max, 0, 4, 2, 3}}};
      std::vector<int32_t> p{0, cs.batch, cs.m, cs.n, cs.k, 0, 0, cs.m * cs.k, cs.k, 1, 1, 0, cs.k * cs.n, cs.n, 1, 3, 0, mn, cs.n, 1};
      run(Program().step(4, with_epilogue(p, 0, epi)), {desc(a), desc(b), desc(bias), desc(c)}, {0.0});
      for (int32_t q = 0; q < cs.batch; ++q) {
        for (int32_t i = 0; i < cs.m; ++i) {
          for (int32_t j = 0; j < cs.n; ++j) {
            double s = 0;
            for (int32_t l = 0; l < cs.k; ++l) s += a[(q * cs.m + i) * cs.k + l] * b[(q * cs.k + l) * cs.n + j];
            CHECK_NEAR(c[q * mn + i * cs.n + j], std::max(0.0, s + bias[j]), 1e-4);
          }
        }
      }
    }
  }
  set_num_threads(before);
}

TEST(matmul_epilogue_int32) {
  std::vector<int32_t> a{1, 2, 3, 4, 5, 6}, b{1, -1, 2, 0, -3, 1}, c(4, 0), out(4, 0);
  // out = c * c + 1 (c = [[1 + 4 - 9, -1 + 0 + 3], [4 + 10 - 18, -4 + 0 + 6]]), the result kept in c.
  Elementwise epi{{2, 2}, {{1, 2, 0, {2, 1}}}, {{1, 3, 0, {2, 1}, 3}}, 4, {{ScalarOp::mul, 1, 1, 0, 0}, {ScalarOp::const_, 1, 2, 0}, {ScalarOp::add, 1, 3, 1, 2}}};
  std::vector<int32_t> p{1, 1, 2, 2, 3, 0, 0, 6, 3, 1, 1, 0, 6, 2, 1, 2, 0, 4, 2, 1};
  run(Program().step(4, with_epilogue(p, 0, epi)), {desc(a), desc(b), desc(c), desc(out)}, {1.0});
  const std::vector<int32_t> want_c{-4, 2, -4, 2};
  for (int i = 0; i < 4; ++i) {
    CHECK_EQ(c[i], want_c[i]);
    CHECK_EQ(out[i], want_c[i] * want_c[i] + 1);
  }
}

TEST(epilogue_validation) {
  std::vector<float> x(12, 1.0f), r(3, 0.0f), y(3, 0.0f), big(12, 0.0f);
  auto run_reduce = [&](int32_t src, const Elementwise& epi) {
    run(Program().step(2, with_epilogue(row_sum(3, 4, 1), src, epi)), {desc(x), desc(r), desc(y), desc(big)});
  };
  const Elementwise copy{{3}, {{0, 1, 0, {1}}}, {{0, 2, 0, {1}, 1}}, 2, {{ScalarOp::copy, 0, 1, 0}}};
  run_reduce(0, copy);
  CHECK_EQ(y[0], 4.0f);
  CHECK_THROWS(run_reduce(1, copy), "step 0 (reduce): epilogue src is input 1 but the epilogue has 1 inputs");
  Elementwise wrong_size = copy;
  wrong_size.shape = {4};
  CHECK_THROWS(run_reduce(0, wrong_size), "epilogue has 4 elements but the step's result has 3");
  Elementwise elsewhere = copy;
  elsewhere.inputs[0].buf = 2;
  CHECK_THROWS(run_reduce(0, elsewhere), "src input must read the step's result contiguously");
  Elementwise strided = copy;
  strided.inputs[0].strides = {2};
  CHECK_THROWS(run_reduce(0, strided), "src input must read the step's result contiguously");
  Elementwise bad_dtype = copy;
  bad_dtype.inputs[0].dtype = 1;
  bad_dtype.instrs[0].kind = 1;
  bad_dtype.outputs[0].dtype = 1;
  CHECK_THROWS(run_reduce(0, bad_dtype), "src input has dtype int32 but the result is float32");
  // An output over the reduced input would race with the reduction still reading it.
  Elementwise over_input = copy;
  over_input.outputs[0].buf = 0;
  CHECK_THROWS(run_reduce(0, over_input), "epilogue output 0 view overlaps the step's input in memory");
  // The same storage under two buffer indices is caught when the program runs.
  CHECK_THROWS(run(Program().step(2, with_epilogue(row_sum(3, 4, 1), 0, copy)), {desc(x), desc(r), desc(r), desc(big)}),
               "epilogue output 0 view overlaps the step's result in memory");
  // A matmul with an epilogue needs a contiguous C.
  std::vector<float> a(4, 1.0f), b(4, 1.0f), c(4, 0.0f), out(4, 0.0f);
  const Elementwise neg{{1, 2, 2}, {{0, 2, 0, {4, 2, 1}}}, {{0, 3, 0, {4, 2, 1}, 1}}, 2, {{ScalarOp::neg, 0, 1, 0}}};
  std::vector<int32_t> mm{0, 1, 2, 2, 2, 0, 0, 4, 2, 1, 1, 0, 4, 2, 1, 2, 0, 4, 1, 2};
  CHECK_THROWS(run(Program().step(4, with_epilogue(mm, 0, neg)), {desc(a), desc(b), desc(c), desc(out)}),
               "step 0 (matmul): c must be contiguous ([m * n, n, 1]) when the step has an epilogue");
  mm[18] = 2;
  mm[19] = 1;
  run(Program().step(4, with_epilogue(mm, 0, neg)), {desc(a), desc(b), desc(c), desc(out)});
  for (float v : out) CHECK_EQ(v, -2.0f);
  // Writing the epilogue's output over operand a races with the GEMM still reading it.
  CHECK_THROWS(run(Program().step(4, with_epilogue(mm, 0, neg)), {desc(a), desc(b), desc(c), desc(a)}),
               "epilogue output 0 view overlaps the step's operand a in memory");
}
