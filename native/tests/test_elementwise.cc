// Elementwise steps: every op family per kind, edge cases, and strided/broadcast/in-place layouts.
#include <cmath>
#include <limits>

#include "builder.h"
#include "harness.h"
#include "kernels.h"
#include "threadpool.h"

using namespace testing;
using metalgrad::cpu::instr_kernel;
using metalgrad::cpu::kind_bit;
using metalgrad::cpu::kNumScalarOps;
using metalgrad::cpu::kOpInfo;

namespace {
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int32_t kIntMin = std::numeric_limits<int32_t>::min();
constexpr int32_t kIntMax = std::numeric_limits<int32_t>::max();
constexpr uint32_t kUMax = std::numeric_limits<uint32_t>::max();
}  // namespace

TEST(op_table_matches_kernels) {
  CHECK_EQ(kNumScalarOps, 40);
  CHECK_EQ(std::string(kOpInfo[0].name), std::string("copy"));
  CHECK_EQ(std::string(kOpInfo[30].name), std::string("and"));
  CHECK_EQ(std::string(kOpInfo[33].name), std::string("select"));
  CHECK_EQ(std::string(kOpInfo[39].name), std::string("bitcast_convert_type"));
  CHECK_EQ(metalgrad::cpu::scalar_op_names().size(), size_t(40));
  for (int op = 0; op < kNumScalarOps; ++op) {
    for (int k = 0; k < 4; ++k) {
      auto kind = static_cast<DType>(k);
      bool listed = kOpInfo[op].kinds & kind_bit(kind);
      bool has_kernel = instr_kernel(static_cast<ScalarOp>(op), kind, kind) != nullptr;
      if (listed != has_kernel) harness::fail(__FILE__, __LINE__, harness::cat("op ", op, " kind ", k));
    }
  }
}

TEST(float_unary_ops) {
  std::vector<float> x{0.5f, -1.25f, 2.0f, 0.0f};
  auto check = [&](ScalarOp op, float (*ref)(float)) {
    auto y = apply_unary(op, x);
    for (size_t i = 0; i < x.size(); ++i) CHECK_EQ(y[i], ref(x[i]));
  };
  // Transcendentals are vectorised (test_vecmath.cc bounds them in ulp); a few ulp of libm here.
  auto check_near = [&](ScalarOp op, double (*ref)(double)) {
    auto y = apply_unary(op, x);
    for (size_t i = 0; i < x.size(); ++i) CHECK_NEAR(y[i], ref(x[i]), 3e-7 * std::fabs(ref(x[i])));
  };
  check(ScalarOp::neg, [](float v) { return -v; });
  check_near(ScalarOp::exp, [](double v) { return std::exp(v); });
  check_near(ScalarOp::expm1, [](double v) { return std::expm1(v); });
  check_near(ScalarOp::sin, [](double v) { return std::sin(v); });
  check_near(ScalarOp::cos, [](double v) { return std::cos(v); });
  check_near(ScalarOp::tanh, [](double v) { return std::tanh(v); });
  check(ScalarOp::abs, [](float v) { return std::fabs(v); });
  check_near(ScalarOp::erf, [](double v) { return std::erf(v); });
  check(ScalarOp::floor, [](float v) { return std::floor(v); });
  check(ScalarOp::ceil, [](float v) { return std::ceil(v); });
  auto l = apply_unary(ScalarOp::log, std::vector<float>{1.0f, 0.0f, -1.0f});
  CHECK_EQ(l[0], 0.0f);
  CHECK_EQ(l[1], -kInf);
  CHECK(std::isnan(l[2]));
  auto l1 = apply_unary(ScalarOp::log1p, std::vector<float>{1e-8f});
  CHECK_NEAR(l1[0], 1e-8, 1e-15);
  auto s = apply_unary(ScalarOp::sqrt, std::vector<float>{4.0f, -1.0f});
  CHECK_EQ(s[0], 2.0f);
  CHECK(std::isnan(s[1]));
  auto sg = apply_unary(ScalarOp::sign, std::vector<float>{3.0f, -0.5f, 0.0f, kNaN});
  CHECK_EQ(sg[0], 1.0f);
  CHECK_EQ(sg[1], -1.0f);
  CHECK_EQ(sg[2], 0.0f);
  CHECK(std::isnan(sg[3]));
}

TEST(integer_unary_ops) {
  auto n = apply_unary(ScalarOp::neg, std::vector<int32_t>{5, -3, kIntMin});
  CHECK_EQ(n[0], -5);
  CHECK_EQ(n[1], 3);
  CHECK_EQ(n[2], kIntMin);
  auto a = apply_unary(ScalarOp::abs, std::vector<int32_t>{-7, 7, kIntMin});
  CHECK_EQ(a[0], 7);
  CHECK_EQ(a[2], kIntMin);
  auto s = apply_unary(ScalarOp::sign, std::vector<int32_t>{-9, 0, 4});
  CHECK_EQ(s[0], -1);
  CHECK_EQ(s[1], 0);
  CHECK_EQ(s[2], 1);
  auto nu = apply_unary(ScalarOp::neg, std::vector<uint32_t>{1u, 0u});
  CHECK_EQ(nu[0], kUMax);
  CHECK_EQ(nu[1], 0u);
  auto su = apply_unary(ScalarOp::sign, std::vector<uint32_t>{0u, 77u});
  CHECK_EQ(su[0], 0u);
  CHECK_EQ(su[1], 1u);
  auto ni = apply_unary(ScalarOp::not_, std::vector<int32_t>{0, -1});
  CHECK_EQ(ni[0], -1);
  CHECK_EQ(ni[1], 0);
  auto nb = apply_unary(ScalarOp::not_, std::vector<uint8_t>{0, 1, 5});
  CHECK_EQ(nb[0], 1);
  CHECK_EQ(nb[1], 0);
  CHECK_EQ(nb[2], 0);  // any nonzero byte loads as true
}

TEST(float_binary_ops) {
  std::vector<float> a{1.5f, -2.0f, kNaN, 3.0f}, b{0.5f, 4.0f, 1.0f, kNaN};
  auto add = apply_binary(ScalarOp::add, a, b);
  CHECK_EQ(add[0], 2.0f);
  CHECK_EQ(add[1], 2.0f);
  auto div = apply_binary(ScalarOp::div, std::vector<float>{1.0f, -1.0f}, std::vector<float>{0.0f, 4.0f});
  CHECK_EQ(div[0], kInf);
  CHECK_EQ(div[1], -0.25f);
  auto pw = apply_binary(ScalarOp::pow, std::vector<float>{2.0f, 9.0f}, std::vector<float>{10.0f, 0.5f});
  CHECK_EQ(pw[0], 1024.0f);
  CHECK_EQ(pw[1], 3.0f);
  auto mx = apply_binary(ScalarOp::max, a, b);
  CHECK_EQ(mx[0], 1.5f);
  CHECK_EQ(mx[1], 4.0f);
  CHECK(std::isnan(mx[2]));
  CHECK(std::isnan(mx[3]));
  auto mn = apply_binary(ScalarOp::min, a, b);
  CHECK_EQ(mn[1], -2.0f);
  CHECK(std::isnan(mn[2]));
  CHECK(std::isnan(mn[3]));
  auto sub = apply_binary(ScalarOp::sub, a, b);
  CHECK_EQ(sub[0], 1.0f);
  auto mul = apply_binary(ScalarOp::mul, a, b);
  CHECK_EQ(mul[1], -8.0f);
}

TEST(integer_binary_ops) {
  auto add = apply_binary(ScalarOp::add, std::vector<int32_t>{kIntMax, 2}, std::vector<int32_t>{1, 3});
  CHECK_EQ(add[0], kIntMin);
  CHECK_EQ(add[1], 5);
  auto sub = apply_binary(ScalarOp::sub, std::vector<uint32_t>{0u}, std::vector<uint32_t>{1u});
  CHECK_EQ(sub[0], kUMax);
  auto mul = apply_binary(ScalarOp::mul, std::vector<int32_t>{65536, -3}, std::vector<int32_t>{65536, 7});
  CHECK_EQ(mul[0], 0);
  CHECK_EQ(mul[1], -21);
  auto div = apply_binary(ScalarOp::div, std::vector<int32_t>{7, -7, 5, kIntMin, kIntMin},
                          std::vector<int32_t>{2, 2, 0, -1, 1});
  CHECK_EQ(div[0], 3);
  CHECK_EQ(div[1], -3);
  CHECK_EQ(div[2], -1);
  CHECK_EQ(div[3], kIntMin);
  CHECK_EQ(div[4], kIntMin);
  auto divu = apply_binary(ScalarOp::div, std::vector<uint32_t>{7u, 9u}, std::vector<uint32_t>{0u, 2u});
  CHECK_EQ(divu[0], kUMax);
  CHECK_EQ(divu[1], 4u);
  auto pw = apply_binary(ScalarOp::pow, std::vector<int32_t>{3, 2, 1, -1, -1, 5, 0, 2},
                         std::vector<int32_t>{4, 31, -5, -3, -2, -1, 0, 32});
  CHECK_EQ(pw[0], 81);
  CHECK_EQ(pw[1], kIntMin);
  CHECK_EQ(pw[2], 1);
  CHECK_EQ(pw[3], -1);
  CHECK_EQ(pw[4], 1);
  CHECK_EQ(pw[5], 0);
  CHECK_EQ(pw[6], 1);
  CHECK_EQ(pw[7], 0);
  auto pu = apply_binary(ScalarOp::pow, std::vector<uint32_t>{2u}, std::vector<uint32_t>{31u});
  CHECK_EQ(pu[0], 2147483648u);
  auto mx = apply_binary(ScalarOp::max, std::vector<int32_t>{-1, 4}, std::vector<int32_t>{-2, 9});
  CHECK_EQ(mx[0], -1);
  CHECK_EQ(mx[1], 9);
  auto mu = apply_binary(ScalarOp::min, std::vector<uint32_t>{kUMax, 4u}, std::vector<uint32_t>{1u, 9u});
  CHECK_EQ(mu[0], 1u);
  CHECK_EQ(mu[1], 4u);
  auto an = apply_binary(ScalarOp::and_, std::vector<int32_t>{12}, std::vector<int32_t>{10});
  CHECK_EQ(an[0], 8);
  auto orr = apply_binary(ScalarOp::or_, std::vector<uint32_t>{12u}, std::vector<uint32_t>{3u});
  CHECK_EQ(orr[0], 15u);
}

TEST(bool_binary_ops) {
  std::vector<uint8_t> a{0, 0, 1, 1}, b{0, 1, 0, 1};
  auto mx = apply_binary(ScalarOp::max, a, b);
  auto mn = apply_binary(ScalarOp::min, a, b);
  auto an = apply_binary(ScalarOp::and_, a, b);
  auto orr = apply_binary(ScalarOp::or_, a, b);
  auto eq = apply_binary(ScalarOp::eq, a, b);
  auto lt = apply_binary(ScalarOp::lt, a, b);
  for (int i = 0; i < 4; ++i) {
    CHECK_EQ(mx[i], a[i] | b[i]);
    CHECK_EQ(orr[i], a[i] | b[i]);
    CHECK_EQ(mn[i], a[i] & b[i]);
    CHECK_EQ(an[i], a[i] & b[i]);
    CHECK_EQ(eq[i], a[i] == b[i]);
    CHECK_EQ(lt[i], a[i] < b[i]);
  }
}

TEST(comparisons) {
  std::vector<float> a{1.0f, 2.0f, kNaN}, b{2.0f, 2.0f, kNaN};
  const ScalarOp ops[] = {ScalarOp::lt, ScalarOp::le, ScalarOp::gt, ScalarOp::ge, ScalarOp::eq, ScalarOp::ne};
  const uint8_t expect[6][3] = {{1, 0, 0}, {1, 1, 0}, {0, 0, 0}, {0, 1, 0}, {0, 1, 0}, {1, 0, 1}};
  for (int o = 0; o < 6; ++o) {
    auto r = apply_binary<float, uint8_t>(ops[o], a, b);
    for (int i = 0; i < 3; ++i) CHECK_EQ(r[i], expect[o][i]);
  }
  auto ri = apply_binary<int32_t, uint8_t>(ScalarOp::lt, {-1, 5}, {0, 5});
  CHECK_EQ(ri[0], 1);
  CHECK_EQ(ri[1], 0);
  auto ru = apply_binary<uint32_t, uint8_t>(ScalarOp::gt, {kUMax, 1u}, {0u, 1u});
  CHECK_EQ(ru[0], 1);  // unsigned compare
  CHECK_EQ(ru[1], 0);
}

// Runs `dst = convert(x)` from the dtype of T to the dtype of R.
template <class T, class R>
std::vector<R> convert(std::vector<T> x) {
  const int32_t n = static_cast<int32_t>(x.size());
  std::vector<R> out(x.size());
  Elementwise ew{{n}, {{dtype_code<T>(), 0, 0, {1}}}, {{dtype_code<R>(), 1, 0, {1}, 1}}, 2,
                 {{ScalarOp::convert, dtype_code<R>(), 1, 0, dtype_code<T>()}}};
  run(Program().step(1, ew.payload()), {desc(x), desc(out)});
  return out;
}

TEST(convert_saturates_and_truncates) {
  auto i = convert<float, int32_t>({1.9f, -1.9f, 3e9f, -3e9f, kNaN, kInf, -kInf, 2147483648.0f});
  CHECK_EQ(i[0], 1);
  CHECK_EQ(i[1], -1);
  CHECK_EQ(i[2], kIntMax);
  CHECK_EQ(i[3], kIntMin);
  CHECK_EQ(i[4], 0);
  CHECK_EQ(i[5], kIntMax);
  CHECK_EQ(i[6], kIntMin);
  CHECK_EQ(i[7], kIntMax);
  auto u = convert<float, uint32_t>({-0.5f, -5.0f, 5e9f, kNaN, 7.99f});
  CHECK_EQ(u[0], 0u);
  CHECK_EQ(u[1], 0u);
  CHECK_EQ(u[2], kUMax);
  CHECK_EQ(u[3], 0u);
  CHECK_EQ(u[4], 7u);
  auto b = convert<float, uint8_t>({0.0f, -0.0f, 0.1f, kNaN});
  CHECK_EQ(b[0], 0);
  CHECK_EQ(b[1], 0);
  CHECK_EQ(b[2], 1);
  CHECK_EQ(b[3], 1);
  auto f = convert<uint8_t, float>({0, 1});
  CHECK_EQ(f[1], 1.0f);
  auto wrap = convert<int32_t, uint32_t>({-1});
  CHECK_EQ(wrap[0], kUMax);
  auto back = convert<uint32_t, int32_t>({kUMax});
  CHECK_EQ(back[0], -1);
  auto uf = convert<uint32_t, float>({kUMax});
  CHECK_EQ(uf[0], 4294967296.0f);
  auto ib = convert<int32_t, uint8_t>({0, -3});
  CHECK_EQ(ib[0], 0);
  CHECK_EQ(ib[1], 1);
}

TEST(const_and_select_program) {
  // out = x > 0 ? x * 2 : const(-1), with consts converted to f32.
  std::vector<float> x{-1.0f, 0.5f, 3.0f}, out(3);
  Elementwise ew{{3},
                 {{0, 0, 0, {1}}},
                 {{0, 1, 0, {1}, 5}},
                 6,
                 {{ScalarOp::const_, 0, 1, 0},
                  {ScalarOp::const_, 0, 2, 1},
                  {ScalarOp::gt, 0, 3, 0, 1},
                  {ScalarOp::mul, 0, 4, 0, 0},
                  {ScalarOp::add, 0, 4, 4, 4},
                  {ScalarOp::select, 0, 5, 3, 4, 2}}};
  run(Program().step(1, ew.payload()), {desc(x), desc(out)}, {0.0, -1.0});
  CHECK_EQ(out[0], -1.0f);
  CHECK_EQ(out[1], 0.5f);
  CHECK_EQ(out[2], 18.0f);
}

TEST(const_converts_to_kind) {
  std::vector<int32_t> out(2);
  std::vector<uint8_t> bout(1);
  Elementwise ew{{2}, {}, {{1, 0, 0, {1}, 0}, {3, 1, 0, {0}, 1}}, 2,
                 {{ScalarOp::const_, 1, 0, 0}, {ScalarOp::const_, 3, 1, 1}}};
  run(Program().step(1, ew.payload()), {desc(out), desc(bout)}, {-7.9, 0.25});
  CHECK_EQ(out[0], -7);
  CHECK_EQ(out[1], -7);
  CHECK_EQ(bout[0], 1);
}

TEST(broadcast_with_stride_zero) {
  // [3, 4] = [3, 1] (row vector broadcast) + [4] (column broadcast)
  std::vector<float> col{1, 2, 3}, row{10, 20, 30, 40}, out(12);
  Elementwise ew{{3, 4}, {{0, 0, 0, {1, 0}}, {0, 1, 0, {0, 1}}}, {{0, 2, 0, {4, 1}, 2}}, 3,
                 {{ScalarOp::add, 0, 2, 0, 1}}};
  run(Program().step(1, ew.payload()), {desc(col), desc(row), desc(out)});
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 4; ++j) CHECK_EQ(out[i * 4 + j], col[i] + row[j]);
}

TEST(transposed_and_negative_strides) {
  // out[i, j] = a[j, i] - b[i, 2 - j] where a is 3x2 contiguous and b is read reversed.
  std::vector<float> a{1, 2, 3, 4, 5, 6}, b{10, 20, 30, 40, 50, 60}, out(6);
  Elementwise ew{{2, 3}, {{0, 0, 0, {1, 2}}, {0, 1, 2, {3, -1}}}, {{0, 2, 0, {3, 1}, 2}}, 3,
                 {{ScalarOp::sub, 0, 2, 0, 1}}};
  run(Program().step(1, ew.payload()), {desc(a), desc(b), desc(out)});
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) CHECK_EQ(out[i * 3 + j], a[j * 2 + i] - b[i * 3 + 2 - j]);
}

TEST(large_collapsed_and_small_inner_dims) {
  // [2, 3, 500] contiguous collapses to one dim of 3000; [1000, 3] with a transposed input keeps
  // a short inner dim spread over many tiles.
  std::vector<float> x(3000), y(3000), out(3000);
  for (int i = 0; i < 3000; ++i) x[i] = float(i), y[i] = float(2 * i);
  Elementwise ew{{2, 3, 500}, {{0, 0, 0, {1500, 500, 1}}, {0, 1, 0, {1500, 500, 1}}},
                 {{0, 2, 0, {1500, 500, 1}, 2}}, 3, {{ScalarOp::add, 0, 2, 0, 1}}};
  run(Program().step(1, ew.payload()), {desc(x), desc(y), desc(out)});
  for (int i = 0; i < 3000; ++i) CHECK_EQ(out[i], float(3 * i));
  Elementwise tr{{1000, 3}, {{0, 0, 0, {1, 1000}}}, {{0, 1, 0, {3, 1}, 1}}, 2, {{ScalarOp::neg, 0, 1, 0}}};
  run(Program().step(1, tr.payload()), {desc(x), desc(out)});
  for (int i = 0; i < 1000; ++i)
    for (int j = 0; j < 3; ++j) CHECK_EQ(out[i * 3 + j], -x[j * 1000 + i]);
}

TEST(scalar_shape_and_zero_size) {
  std::vector<float> x{4.0f}, out{0.0f};
  Elementwise s{{}, {{0, 0, 0, {}}}, {{0, 1, 0, {}, 1}}, 2, {{ScalarOp::sqrt, 0, 1, 0}}};
  run(Program().step(1, s.payload()), {desc(x), desc(out)});
  CHECK_EQ(out[0], 2.0f);
  // A zero-size shape touches nothing, so an offset past the end is fine.
  std::vector<float> empty;
  Elementwise z{{0, 5}, {{0, 0, 100, {5, 1}}}, {{0, 1, 100, {5, 1}, 1}}, 2, {{ScalarOp::neg, 0, 1, 0}}};
  run(Program().step(1, z.payload()), {desc(empty), desc(empty)});
}

TEST(in_place_update_and_multiple_outputs) {
  std::vector<float> x(1500);
  std::vector<uint8_t> pos(1500);
  for (int i = 0; i < 1500; ++i) x[i] = float(i % 7) - 3.0f;
  // x = x * x - 1 in place; pos = x > 0 (before the update).
  Elementwise ew{{1500}, {{0, 0, 0, {1}}},
                 {{0, 0, 0, {1}, 2}, {3, 1, 0, {1}, 4}}, 5,
                 {{ScalarOp::mul, 0, 1, 0, 0}, {ScalarOp::const_, 0, 3, 0},
                  {ScalarOp::sub, 0, 2, 1, 3}, {ScalarOp::gt, 0, 4, 0, 3}}};
  run(Program().step(1, ew.payload()), {desc(x), desc(pos)}, {1.0});
  for (int i = 0; i < 1500; ++i) {
    float v = float(i % 7) - 3.0f;
    CHECK_EQ(x[i], v * v - 1.0f);
    CHECK_EQ(pos[i], v > 1.0f ? 1 : 0);
  }
}

TEST(outputs_in_place_keep_the_semantics_of_stores) {
  // Tiles read contiguous inputs and write single-writer outputs in place; these programs check
  // the cases that must not: an output stored straight from an input register, an output read by
  // later instructions, and two outputs to the same memory (the later output's store wins).
  const int n = 1300;
  std::vector<float> x(n), copy(n, -1), sq(n, -1), plus(n, -1), twice(n, -1);
  for (int i = 0; i < n; ++i) x[i] = float(i % 11) - 5.0f;
  Elementwise ew{{n},
                 {{0, 0, 0, {1}}},
                 {{0, 1, 0, {1}, 0}, {0, 2, 0, {1}, 1}, {0, 3, 0, {1}, 2}, {0, 4, 0, {1}, 2}, {0, 4, 0, {1}, 1}},
                 3,
                 {{ScalarOp::mul, 0, 1, 0, 0}, {ScalarOp::add, 0, 2, 1, 0}}};
  run(Program().step(1, ew.payload()), {desc(x), desc(copy), desc(sq), desc(plus), desc(twice)});
  for (int i = 0; i < n; ++i) {
    const float v = x[i];
    CHECK_EQ(copy[i], v);
    CHECK_EQ(sq[i], v * v);
    CHECK_EQ(plus[i], v * v + v);
    CHECK_EQ(twice[i], v * v);  // outputs 3 and 4 share buffer 4: output 4 (x*x) is stored last
  }
}

TEST(several_steps_run_in_order) {
  std::vector<int32_t> a{1, 2, 3}, b(3), c(3);
  Elementwise s1{{3}, {{1, 0, 0, {1}}}, {{1, 1, 0, {1}, 1}}, 2, {{ScalarOp::add, 1, 1, 0, 0}}};
  Elementwise s2{{3}, {{1, 1, 0, {1}}}, {{1, 2, 0, {1}, 1}}, 2, {{ScalarOp::mul, 1, 1, 0, 0}}};
  run(Program().step(1, s1.payload()).step(1, s2.payload()), {desc(a), desc(b), desc(c)});
  CHECK_EQ(c[0], 4);
  CHECK_EQ(c[2], 36);
}

TEST(register_redefined_with_new_kind) {
  // r1 = x (f32) < 1; r1 = convert r1 to f32; out = r1 + x
  std::vector<float> x{0.5f, 2.0f}, out(2);
  Elementwise ew{{2}, {{0, 0, 0, {1}}}, {{0, 1, 0, {1}, 1}}, 3,
                 {{ScalarOp::const_, 0, 2, 0}, {ScalarOp::lt, 0, 1, 0, 2},
                  {ScalarOp::convert, 0, 1, 1, 3}, {ScalarOp::add, 0, 1, 1, 0}}};
  run(Program().step(1, ew.payload()), {desc(x), desc(out)}, {1.0});
  CHECK_EQ(out[0], 1.5f);
  CHECK_EQ(out[1], 2.0f);
}

// Binary ops read constant registers as immediates (bind_instrs); a const register still read
// elsewhere (a unary op, an output, a redefinition) keeps its instruction. Three tiles with a tail.
TEST(constant_operands_fold_into_binary_ops) {
  const int32_t n = 1100;
  std::vector<float> x(n), y0(n), y1(n), y2(n), y3(n);
  for (int32_t i = 0; i < n; ++i) x[i] = 0.01f * static_cast<float>(i) - 3.0f;
  const int f = 0;
  // r1 = 2; r2 = r1 - x; r3 = r2 * r1; r4 = exp(r1); r1 = x + x; r5 = r1 * r3 (r1 no longer const)
  Elementwise ew{{n},
                 {{f, 0, 0, {1}}},
                 {{f, 1, 0, {1}, 5}, {f, 2, 0, {1}, 4}, {f, 3, 0, {1}, 6}, {f, 4, 0, {1}, 3}},
                 7,
                 {{ScalarOp::const_, f, 1, 0},
                  {ScalarOp::sub, f, 2, 1, 0},
                  {ScalarOp::mul, f, 3, 2, 1},
                  {ScalarOp::exp, f, 4, 1},
                  {ScalarOp::const_, f, 6, 1},
                  {ScalarOp::add, f, 1, 0, 0},
                  {ScalarOp::mul, f, 5, 1, 3}}};
  run(Program().step(1, ew.payload()), {desc(x), desc(y0), desc(y1), desc(y2), desc(y3)}, {2.0, -0.5});
  for (int32_t i = 0; i < n; ++i) {
    const float r3 = (2.0f - x[i]) * 2.0f;
    CHECK_EQ(y0[i], (x[i] + x[i]) * r3);
    CHECK_NEAR(y1[i], std::exp(2.0), 3e-7 * std::exp(2.0));
    CHECK_EQ(y2[i], -0.5f);
    CHECK_EQ(y3[i], r3);
  }
}

TEST(transposing_steps_walk_blocks) {
  // exp(x^T) + y over [rows, cols] with x stored [cols, rows], and the result also written
  // transposed: whole 128 x 8 blocks, the strips left over on the right and at the bottom, a
  // leading batch dim, and several thread counts; every element against a direct loop.
  struct Case {
    int32_t batch, rows, cols;
  };
  const int before = metalgrad::cpu::num_threads();
  for (Case c : {Case{1, 130, 45}, Case{1, 33, 100}, Case{3, 256, 64}, Case{2, 140, 31}, Case{1, 300, 257}, Case{1, 128, 8}}) {
    const int32_t per = c.rows * c.cols, n = c.batch * per;
    std::vector<float> x(n), y(n);
    for (int32_t i = 0; i < n; ++i) {
      x[i] = std::sin(static_cast<float>(i) * 0.1f);
      y[i] = static_cast<float>(i % 13);
    }
    const std::vector<float> ex = apply_unary(ScalarOp::exp, x);
    for (int threads : {1, 3}) {
      metalgrad::cpu::set_num_threads(threads);
      std::vector<float> out(n, -1.0f), out_t(n, -1.0f);
      // x read as [batch, rows, cols] with strides [per, 1, rows]; out_t written the same way.
      Elementwise ew{{c.batch, c.rows, c.cols},
                     {{0, 0, 0, {per, 1, c.rows}}, {0, 1, 0, {per, c.cols, 1}}},
                     {{0, 2, 0, {per, c.cols, 1}, 3}, {0, 3, 0, {per, 1, c.rows}, 3}},
                     4,
                     {{ScalarOp::exp, 0, 2, 0}, {ScalarOp::add, 0, 3, 2, 1}}};
      run(Program().step(1, ew.payload()), {desc(x), desc(y), desc(out), desc(out_t)});
      for (int32_t b = 0; b < c.batch; ++b) {
        for (int32_t i = 0; i < c.rows; ++i) {
          for (int32_t j = 0; j < c.cols; ++j) {
            const float want = ex[b * per + j * c.rows + i] + y[b * per + i * c.cols + j];
            CHECK_EQ(out[b * per + i * c.cols + j], want);
            CHECK_EQ(out_t[b * per + j * c.rows + i], want);
          }
        }
      }
    }
  }
  metalgrad::cpu::set_num_threads(before);
}
