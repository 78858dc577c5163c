// Matmul steps against a naive reference: odd sizes, batches, transposed and offset operands.
#include <cmath>

#include "builder.h"
#include "harness.h"

using namespace testing;

namespace {

struct Mat {
  int32_t buf, offset, sb, sr, sc;
};

std::vector<int32_t> matmul_payload(int32_t dtype, int32_t batch, int32_t m, int32_t n, int32_t k,
                                    Mat a, Mat b, Mat c) {
  std::vector<int32_t> p{dtype, batch, m, n, k};
  for (const Mat& x : {a, b, c}) append(p, {x.buf, x.offset, x.sb, x.sr, x.sc});
  return p;
}

template <class T>
std::vector<T> filled(size_t n, int seed) {
  std::vector<T> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<T>(int((i * 7 + seed * 13) % 11) - 5);
  return v;
}

// Checks C = A @ B for layouts given by the strides, against a naive triple loop.
template <class T>
void check_matmul(int32_t batch, int32_t m, int32_t n, int32_t k, bool a_t, bool b_t, bool c_t) {
  const int32_t dtype = std::is_same_v<T, float> ? 0 : 1;
  auto a = filled<T>(size_t(batch) * m * k + 3, 1);
  auto b = filled<T>(size_t(batch) * k * n + 5, 2);
  std::vector<T> c(size_t(batch) * m * n + 2, T(77));
  Mat ma{0, 3, m * k, a_t ? 1 : k, a_t ? m : 1};
  Mat mb{1, 5, k * n, b_t ? 1 : n, b_t ? k : 1};
  Mat mc{2, 2, m * n, c_t ? 1 : n, c_t ? m : 1};
  run(Program().step(4, matmul_payload(dtype, batch, m, n, k, ma, mb, mc)), {desc(a), desc(b), desc(c)});
  for (int32_t p = 0; p < batch; ++p)
    for (int32_t i = 0; i < m; ++i)
      for (int32_t j = 0; j < n; ++j) {
        T ref = 0;
        for (int32_t l = 0; l < k; ++l)
          ref += a[ma.offset + p * ma.sb + i * ma.sr + l * ma.sc] * b[mb.offset + p * mb.sb + l * mb.sr + j * mb.sc];
        T got = c[mc.offset + p * mc.sb + i * mc.sr + j * mc.sc];
        if (std::fabs(double(got) - double(ref)) > 1e-3)
          harness::fail(__FILE__, __LINE__, harness::cat("C[", p, ",", i, ",", j, "] = ", got, " expected ", ref,
                                                         " (m=", m, " n=", n, " k=", k, ")"));
      }
  CHECK_EQ(c[0], T(77));  // before c's offset
}

}  // namespace

TEST(matmul_float_layouts) {
  const int sizes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 9}, {40, 300, 130}, {5, 1, 260}};
  for (const auto& s : sizes)
    for (int layout = 0; layout < 8; ++layout)
      check_matmul<float>(2, s[0], s[1], s[2], layout & 1, layout & 2, layout & 4);
}

TEST(matmul_int_wraps_and_layouts) {
  check_matmul<int32_t>(3, 7, 6, 5, false, false, false);
  check_matmul<int32_t>(1, 9, 4, 11, true, true, false);
  check_matmul<int32_t>(2, 4, 9, 3, false, true, true);
  std::vector<int32_t> a{65536}, b{65536}, c{1};
  run(Program().step(4, matmul_payload(1, 1, 1, 1, 1, {0, 0, 0, 1, 1}, {1, 0, 0, 1, 1}, {2, 0, 0, 1, 1})),
      {desc(a), desc(b), desc(c)});
  CHECK_EQ(c[0], 0);
}

TEST(matmul_k_zero_writes_zeros) {
  std::vector<float> none, c(6, 5.0f);
  run(Program().step(4, matmul_payload(0, 1, 2, 3, 0, {0, 0, 0, 0, 1}, {0, 0, 0, 3, 1}, {1, 0, 6, 3, 1})),
      {desc(none), desc(c)});
  for (float v : c) CHECK_EQ(v, 0.0f);
  std::vector<float> c2(6, 5.0f);
  run(Program().step(4, matmul_payload(0, 1, 2, 3, 0, {0, 0, 0, 0, 1}, {0, 0, 0, 3, 1}, {1, 0, 6, 1, 2})),
      {desc(none), desc(c2)});
  for (float v : c2) CHECK_EQ(v, 0.0f);
}

TEST(matmul_broadcast_batch_stride_zero) {
  // B shared across the batch (b_sb = 0).
  check_matmul<float>(1, 3, 3, 3, false, false, false);
  std::vector<float> a{1, 2, 3, 4}, b{1, 0, 0, 1}, c(4);
  run(Program().step(4, matmul_payload(0, 2, 1, 2, 2, {0, 0, 2, 2, 1}, {1, 0, 0, 2, 1}, {2, 0, 2, 2, 1})),
      {desc(a), desc(b), desc(c)});
  CHECK_EQ(c[0], 1.0f);
  CHECK_EQ(c[1], 2.0f);
  CHECK_EQ(c[2], 3.0f);
  CHECK_EQ(c[3], 4.0f);
}

TEST(matmul_k_zero_with_empty_offset_operands) {
  std::vector<float> none, c(4, 3.0f);
  run(Program().step(4, matmul_payload(0, 1, 2, 2, 0, {0, 7, 0, 0, 1}, {0, 9, 0, 2, 1}, {1, 0, 4, 2, 1})),
      {desc(none), desc(c)});
  for (float v : c) CHECK_EQ(v, 0.0f);
}
