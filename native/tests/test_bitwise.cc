// Bitwise ops (xor, shifts), bitcast_convert_type and erf_inv: the ops random number generation uses.
#include <cmath>
#include <limits>

#include "builder.h"
#include "harness.h"

using namespace testing;

namespace {
constexpr int32_t kIntMin = std::numeric_limits<int32_t>::min();
constexpr uint32_t kUMax = std::numeric_limits<uint32_t>::max();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Runs `dst = bitcast_convert_type(x)` from the dtype of T to the dtype of R.
template <class T, class R>
std::vector<R> bitcast(std::vector<T> x) {
  const int32_t n = static_cast<int32_t>(x.size());
  std::vector<R> out(x.size());
  Elementwise ew{{n}, {{dtype_code<T>(), 0, 0, {1}}}, {{dtype_code<R>(), 1, 0, {1}, 1}}, 2,
                 {{ScalarOp::bitcast_convert_type, dtype_code<R>(), 1, 0, dtype_code<T>()}}};
  run(Program().step(1, ew.payload()), {desc(x), desc(out)});
  return out;
}
}  // namespace

TEST(xor_is_bitwise_and_logical_on_bool) {
  auto u = apply_binary<uint32_t>(ScalarOp::xor_, {0xF0F0F0F0u, kUMax, 0u}, {0x0FF00FF0u, 1u, 0u});
  CHECK_EQ(u[0], 0xFF00FF00u);
  CHECK_EQ(u[1], 0xFFFFFFFEu);
  CHECK_EQ(u[2], 0u);
  auto i = apply_binary<int32_t>(ScalarOp::xor_, {-1, 5}, {kIntMin, 3});
  CHECK_EQ(i[0], 0x7FFFFFFF);
  CHECK_EQ(i[1], 6);
  auto b = apply_binary<uint8_t>(ScalarOp::xor_, {0, 0, 1, 1}, {0, 1, 0, 1});
  CHECK_EQ(b[0], 0);
  CHECK_EQ(b[1], 1);
  CHECK_EQ(b[2], 1);
  CHECK_EQ(b[3], 0);
}

TEST(shifts_follow_xla_for_large_and_negative_amounts) {
  auto l = apply_binary<uint32_t>(ScalarOp::shift_left, {1u, 3u, 1u, 1u, kUMax}, {0u, 30u, 31u, 32u, 100u});
  CHECK_EQ(l[0], 1u);
  CHECK_EQ(l[1], 0xC0000000u);
  CHECK_EQ(l[2], 0x80000000u);
  CHECK_EQ(l[3], 0u);
  CHECK_EQ(l[4], 0u);
  auto r = apply_binary<int32_t>(ScalarOp::shift_right_logical, {-1, -8, 64, -1}, {28, 1, 3, -1});
  CHECK_EQ(r[0], 15);
  CHECK_EQ(r[1], 0x7FFFFFFC);
  CHECK_EQ(r[2], 8);
  CHECK_EQ(r[3], 0);  // a negative amount reads as >= 32
  auto a = apply_binary<int32_t>(ScalarOp::shift_right_arithmetic, {-8, 8, kIntMin, -1, 5, -5}, {1, 1, 31, 40, 32, -3});
  CHECK_EQ(a[0], -4);
  CHECK_EQ(a[1], 4);
  CHECK_EQ(a[2], -1);
  CHECK_EQ(a[3], -1);
  CHECK_EQ(a[4], 0);
  CHECK_EQ(a[5], -1);
  auto au = apply_binary<uint32_t>(ScalarOp::shift_right_arithmetic, {0x80000000u, 0x40000000u, 0x80000000u}, {4u, 4u, 32u});
  CHECK_EQ(au[0], 0xF8000000u);  // the sign bit of the bits, also for uint32
  CHECK_EQ(au[1], 0x04000000u);
  CHECK_EQ(au[2], kUMax);
}

TEST(bitcast_moves_bits) {
  auto u = bitcast<float, uint32_t>({1.0f, -0.0f, kInf, 1.5f});
  CHECK_EQ(u[0], 0x3F800000u);
  CHECK_EQ(u[1], 0x80000000u);
  CHECK_EQ(u[2], 0x7F800000u);
  CHECK_EQ(u[3], 0x3FC00000u);
  auto f = bitcast<uint32_t, float>({0x3F800000u, 0x40490FDBu, 1u});
  CHECK_EQ(f[0], 1.0f);
  CHECK_EQ(f[1], 3.14159274f);
  CHECK_EQ(f[2], std::numeric_limits<float>::denorm_min());
  auto i = bitcast<uint32_t, int32_t>({kUMax, 0x80000000u});
  CHECK_EQ(i[0], -1);
  CHECK_EQ(i[1], kIntMin);
}

TEST(bitcast_from_bool_is_rejected) {
  std::vector<uint8_t> x(4, 1);
  std::vector<uint32_t> out(4);
  Elementwise ew{{4}, {{3, 0, 0, {1}}}, {{2, 1, 0, {1}, 1}}, 2,
                 {{ScalarOp::bitcast_convert_type, 2, 1, 0, 3}}};
  CHECK_THROWS(run(Program().step(1, ew.payload()), {desc(x), desc(out)}),
               "bitcast_convert_type source dtype b=3");
}

TEST(erf_inv_inverts_erf) {
  std::vector<float> x{0.0f, 0.5f, -0.9f, 0.999f, -0.999999f, 1.0f, -1.0f, 1.5f};
  auto y = apply_unary(ScalarOp::erf_inv, x);
  for (size_t i = 0; i < 5; ++i) CHECK_NEAR(std::erf(static_cast<double>(y[i])), x[i], 2e-6);
  CHECK_EQ(y[0], 0.0f);
  CHECK_NEAR(y[1], 0.4769362762044699, 1e-6);
  CHECK_EQ(y[5], kInf);
  CHECK_EQ(y[6], -kInf);
  CHECK(std::isnan(y[7]));
}
