// The elementwise JIT against the tile interpreter: a step run both ways must give the same bits,
// for every op the JIT compiles, special values, every tail length, broadcast and in-place operands
// and random programs; steps it cannot compile (or runs whose outputs overlap inputs) must still run,
// on the interpreter. Where the JIT is unavailable (not x86-64 Linux with AVX-512, or
// METALGRAD_ISA below avx512) the tests check that nothing is compiled.
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <variant>

#include "builder.h"
#include "executors.h"
#include "harness.h"
#include "jit.h"
#include "program.h"
#include "threadpool.h"

using namespace testing;
namespace cpu = metalgrad::cpu;

namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// Whether this process can run JIT code at all.
bool jit_possible() {
  cpu::set_jit_enabled(true);
  return cpu::jit_enabled();
}

struct Outcome {
  std::vector<std::vector<float>> buffers;
  bool compiled = false;
};

// Runs a one-step program over copies of `buffers`, with the JIT on or off.
Outcome run_step(const Elementwise& ew, std::vector<std::vector<float>> buffers, const std::vector<double>& consts, bool jit) {
  cpu::set_jit_enabled(jit);
  Program prog;
  prog.step(1, ew.payload());
  const cpu::Program decoded = cpu::decode_program(prog.code.data(), prog.code.size(), consts.data(), consts.size());
  std::vector<BufferDesc> descs;
  for (auto& b : buffers) descs.push_back(desc(b));
  cpu::check_buffers(decoded, descs.data(), descs.size());
  const auto& step = std::get<cpu::ElementwiseStep>(decoded.steps[0]);
  cpu::run_elementwise(step, consts.data(), descs.data());
  const std::shared_ptr<const cpu::JitKernel> k = std::atomic_load(&step.jit);
  cpu::set_jit_enabled(true);
  return {std::move(buffers), k != nullptr && k->compiled()};
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

// Runs `ew` with and without the JIT and checks every buffer bit for bit; returns whether the JIT
// compiled it.
bool check_same(const Elementwise& ew, const std::vector<std::vector<float>>& buffers, const std::vector<double>& consts,
                const char* what) {
  const Outcome off = run_step(ew, buffers, consts, false);
  const Outcome on = run_step(ew, buffers, consts, true);
  CHECK(!off.compiled);
  for (size_t b = 0; b < buffers.size(); ++b) {
    for (size_t i = 0; i < buffers[b].size(); ++i) {
      if (bits(on.buffers[b][i]) != bits(off.buffers[b][i])) {
        harness::fail(__FILE__, __LINE__, harness::cat(what, ": buffer ", b, " element ", i, " JIT ", on.buffers[b][i],
                                                       " vs interpreter ", off.buffers[b][i]));
      }
    }
  }
  return on.compiled;
}

// Inputs with the special values every op must agree on, then a spread of ordinary ones.
std::vector<float> test_values(size_t n, uint32_t seed) {
  static const float special[] = {kNaN, -kNaN, kInf, -kInf, 0.0f, -0.0f, 1e-45f, -1e-40f, 1.17549435e-38f,
                                  9.1f, -9.1f, 9.0f, 88.7f, 89.5f, -103.9f, -104.5f, 0.5f, -0.5f, 1.5f,
                                  -2.5f, 3e38f, -3e38f, 1e-8f, 0.625f, 1.0f, -1.0f, -1.5f, 18.0f, 18.5f,
                                  -18.5f, 1.125f, 3.93f, -3.95f, 1.41421356f, 2e-8f, -0.999999f, 5e-8f};
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> small(-12.0f, 12.0f), wide(-150.0f, 150.0f);
  std::vector<float> x(n);
  for (size_t i = 0; i < n; ++i) {
    const size_t pick = rng() % 8;
    if (pick == 0) x[i] = special[rng() % (sizeof(special) / sizeof(float))];
    else if (pick == 1) x[i] = wide(rng);
    else x[i] = small(rng);
  }
  return x;
}

const ScalarOp kUnary[] = {ScalarOp::neg, ScalarOp::abs, ScalarOp::sign, ScalarOp::sqrt, ScalarOp::floor,
                           ScalarOp::ceil, ScalarOp::exp, ScalarOp::expm1, ScalarOp::log, ScalarOp::log1p,
                           ScalarOp::tanh, ScalarOp::erf, ScalarOp::copy};
const ScalarOp kBinary[] = {ScalarOp::add, ScalarOp::sub, ScalarOp::mul, ScalarOp::div, ScalarOp::max, ScalarOp::min};
const ScalarOp kCompare[] = {ScalarOp::lt, ScalarOp::le, ScalarOp::gt, ScalarOp::ge, ScalarOp::eq, ScalarOp::ne};

}  // namespace

TEST(jit_every_op_every_tail_length) {
  const bool possible = jit_possible();
  for (int32_t n : {0, 1, 7, 15, 16, 17, 31, 32, 33, 100, 1000}) {
    std::vector<float> x = test_values(static_cast<size_t>(n), 1), y = test_values(static_cast<size_t>(n), 2);
    std::vector<float> out(static_cast<size_t>(n), 0.0f);
    auto unary = [&](ScalarOp op) {
      return Elementwise{{n}, {{0, 0, 0, {1}}}, {{0, 1, 0, {1}, 1}}, 2, {{op, 0, 1, 0}}};
    };
    for (ScalarOp op : kUnary) {
      const bool compiled = check_same(unary(op), {x, out}, {}, cpu::kOpInfo[static_cast<int>(op)].name);
      if (compiled != (possible && n > 0)) harness::fail(__FILE__, __LINE__, harness::cat(cpu::kOpInfo[static_cast<int>(op)].name, " n=", n, " compiled ", compiled));
    }
    for (ScalarOp op : kBinary) {
      Elementwise ew{{n}, {{0, 0, 0, {1}}, {0, 1, 0, {1}}}, {{0, 2, 0, {1}, 2}}, 3, {{op, 0, 2, 0, 1}}};
      CHECK_EQ(check_same(ew, {x, y, out}, {}, cpu::kOpInfo[static_cast<int>(op)].name), possible && n > 0);
    }
    for (ScalarOp op : kCompare) {
      // lt(x, y) ? x : y, so the bool register feeds a select.
      Elementwise ew{{n}, {{0, 0, 0, {1}}, {0, 1, 0, {1}}}, {{0, 2, 0, {1}, 3}}, 4,
                     {{op, 0, 2, 0, 1}, {ScalarOp::select, 0, 3, 2, 0, 1}}};
      CHECK_EQ(check_same(ew, {x, y, out}, {}, cpu::kOpInfo[static_cast<int>(op)].name), possible && n > 0);
    }
  }
}

TEST(jit_w1_chain_constants_and_threads) {
  // ((tanh(x*1.5+2)*3+0.5) max 0)*0.7-0.5 over sizes that split across threads.
  const bool possible = jit_possible();
  const int before = cpu::num_threads();
  for (int threads : {1, 3}) {
    cpu::set_num_threads(threads);
    for (int32_t n : {5, 4096 + 3, 300001}) {
      Elementwise ew{{n},
                     {{0, 0, 0, {1}}},
                     {{0, 1, 0, {1}, 14}},
                     15,
                     {{ScalarOp::const_, 0, 1, 0}, {ScalarOp::mul, 0, 2, 0, 1}, {ScalarOp::const_, 0, 3, 1},
                      {ScalarOp::add, 0, 4, 2, 3}, {ScalarOp::tanh, 0, 5, 4}, {ScalarOp::const_, 0, 6, 2},
                      {ScalarOp::mul, 0, 7, 5, 6}, {ScalarOp::const_, 0, 8, 3}, {ScalarOp::add, 0, 9, 7, 8},
                      {ScalarOp::const_, 0, 10, 4}, {ScalarOp::max, 0, 11, 9, 10}, {ScalarOp::const_, 0, 12, 5},
                      {ScalarOp::mul, 0, 13, 11, 12}, {ScalarOp::sub, 0, 14, 13, 8}}};
      const std::vector<double> consts{1.5, 2.0, 3.0, 0.5, 0.0, 0.7};
      std::vector<float> x = test_values(static_cast<size_t>(n), 3), out(static_cast<size_t>(n), 0.0f);
      CHECK_EQ(check_same(ew, {x, out}, consts, "w1 chain"), possible);
      // And against the formula (tanh within a few ulp of libm, the rest exact).
      const Outcome on = run_step(ew, {x, out}, consts, true);
      for (int32_t i = 0; i < n; i += 97) {
        const double t = std::tanh(static_cast<double>(x[i] * 1.5f + 2.0f));
        const double ref = std::max(0.0, t * 3 + 0.5) * 0.7 - 0.5;
        if (std::isnan(x[i])) CHECK(std::isnan(on.buffers[1][i]));
        else CHECK_NEAR(on.buffers[1][i], ref, 1e-5);
      }
    }
  }
  cpu::set_num_threads(before);
}

TEST(jit_broadcast_operands) {
  const bool possible = jit_possible();
  const int32_t r = 9, c = 130;
  std::vector<float> x = test_values(static_cast<size_t>(r) * c, 4), row = test_values(c, 5), col = test_values(r, 6);
  std::vector<float> scalar{2.5f}, out(static_cast<size_t>(r) * c, 0.0f);
  // x * scalar + row - col: a scalar (every stride 0), a row broadcast over rows, a column broadcast
  // along each run (inner stride 0).
  Elementwise ew{{r, c},
                 {{0, 0, 0, {c, 1}}, {0, 1, 0, {0, 0}}, {0, 2, 0, {0, 1}}, {0, 3, 0, {1, 0}}},
                 {{0, 4, 0, {c, 1}, 6}},
                 7,
                 {{ScalarOp::mul, 0, 4, 0, 1}, {ScalarOp::add, 0, 5, 4, 2}, {ScalarOp::sub, 0, 6, 5, 3}}};
  CHECK_EQ(check_same(ew, {x, scalar, row, col, out}, {}, "broadcast"), possible);
  // Short rows stay on the interpreter (one JIT call per run would cost more than it saves).
  Elementwise narrow{{c, r},
                     {{0, 0, 0, {r, 1}}, {0, 1, 0, {0, 1}}},
                     {{0, 2, 0, {r, 1}, 2}},
                     3,
                     {{ScalarOp::mul, 0, 2, 0, 1}}};
  CHECK(!check_same(narrow, {x, col, out}, {}, "narrow rows"));
  // A strided (transposed) operand is not compiled.
  Elementwise transposed{{r, c}, {{0, 0, 0, {1, r}}}, {{0, 1, 0, {c, 1}, 1}}, 2, {{ScalarOp::exp, 0, 1, 0}}};
  CHECK(!check_same(transposed, {x, out}, {}, "transposed"));
}

TEST(jit_in_place_and_overlapping_outputs) {
  const bool possible = jit_possible();
  const int32_t n = 1000;
  std::vector<float> buf = test_values(n + 16, 7);
  // Output over its own input: compiled, element for element.
  Elementwise in_place{{n}, {{0, 0, 4, {1}}}, {{0, 0, 4, {1}, 1}}, 2, {{ScalarOp::tanh, 0, 1, 0}}};
  CHECK_EQ(check_same(in_place, {buf}, {}, "in place"), possible);
  // Outputs shifted against the input (either way) and two outputs over each other: the
  // interpreter's result, since the JIT hands such runs back.
  for (int32_t shift : {-3, 1, 5}) {
    Elementwise shifted{{n}, {{0, 0, 4, {1}}}, {{0, 0, 4 + shift, {1}, 1}}, 2, {{ScalarOp::exp, 0, 1, 0}}};
    check_same(shifted, {buf}, {}, "shifted");
  }
  std::vector<float> out(n + 16, 0.0f);
  Elementwise two{{n}, {{0, 0, 0, {1}}}, {{0, 1, 0, {1}, 1}, {0, 1, 2, {1}, 2}}, 3,
                  {{ScalarOp::neg, 0, 1, 0}, {ScalarOp::abs, 0, 2, 0}}};
  check_same(two, {buf, out}, {}, "overlapping outputs");
}

TEST(jit_leaves_what_it_cannot_compile_to_the_interpreter) {
  const int32_t n = 100;
  std::vector<float> x = test_values(n, 8), out(n, 0.0f);
  // An op without an encoding (sin, whose large arguments take libm lane by lane).
  Elementwise sin{{n}, {{0, 0, 0, {1}}}, {{0, 1, 0, {1}, 1}}, 2, {{ScalarOp::sin, 0, 1, 0}}};
  CHECK(!check_same(sin, {x, out}, {}, "sin"));
  // More live values than vector registers: 40 products of x, all live, then summed.
  Elementwise wide{{n}, {{0, 0, 0, {1}}}, {{0, 1, 0, {1}, 81}}, 82, {}};
  std::vector<double> consts;
  for (int32_t i = 0; i < 40; ++i) {
    consts.push_back(1.0 + i);
    wide.instrs.push_back({ScalarOp::const_, 0, 1 + i, i});
    wide.instrs.push_back({ScalarOp::mul, 0, 41 + i, 0, 1 + i});
  }
  for (int32_t i = 1; i < 40; ++i) wide.instrs.push_back({ScalarOp::add, 0, 41, 41, 41 + i});
  wide.instrs.push_back({ScalarOp::copy, 0, 81, 41});
  CHECK(!check_same(wide, {x, out}, consts, "register pressure"));
  // More operands than pointer registers: 11 inputs.
  Elementwise many{{n}, {}, {{0, 11, 0, {1}, 11}}, 12, {{ScalarOp::copy, 0, 11, 0}}};
  std::vector<std::vector<float>> bufs;
  for (int32_t i = 0; i < 11; ++i) {
    many.inputs.push_back({0, i, 0, {1}});
    if (i > 0) many.instrs.push_back({ScalarOp::add, 0, 11, 11, i});
    bufs.push_back(test_values(n, 20 + static_cast<uint32_t>(i)));
  }
  bufs.push_back(out);
  CHECK(!check_same(many, bufs, {}, "11 inputs"));
}

TEST(jit_random_programs) {
  // Random programs over the JIT's ops, with registers overwritten and values used several times.
  const bool possible = jit_possible();
  std::mt19937 rng(42);
  for (int trial = 0; trial < 300; ++trial) {
    const int32_t n = static_cast<int32_t>(rng() % 70);
    const int32_t nin = 1 + static_cast<int32_t>(rng() % 3);
    Elementwise ew{{n}, {}, {}, 0, {}};
    std::vector<std::vector<float>> bufs;
    std::vector<int32_t> floats, bools;
    for (int32_t i = 0; i < nin; ++i) {
      const bool scalar = rng() % 4 == 0;
      ew.inputs.push_back({0, i, 0, {scalar ? 0 : 1}});
      bufs.push_back(test_values(scalar ? 1 : static_cast<size_t>(n), static_cast<uint32_t>(trial * 7 + i)));
      floats.push_back(i);
    }
    int32_t nregs = nin;
    std::vector<double> consts;
    const int ninstr = 1 + static_cast<int>(rng() % 12);
    for (int k = 0; k < ninstr; ++k) {
      auto pick = [&](const std::vector<int32_t>& from) { return from[rng() % from.size()]; };
      // A fresh register, or (sometimes) an existing float register overwritten.
      const bool reuse = rng() % 5 == 0 && nregs > nin;
      int32_t dst = nregs;
      if (reuse) {
        do dst = pick(floats);
        while (dst < nin);
      } else {
        ++nregs;
      }
      const int form = static_cast<int>(rng() % 5);
      if (form == 0) {
        consts.push_back(std::vector<double>{0.0, 1.0, -1.0, 0.5, 2.0, 1e-3, 100.0, NAN, INFINITY}[rng() % 9]);
        ew.instrs.push_back({ScalarOp::const_, 0, dst, static_cast<int32_t>(consts.size() - 1)});
      } else if (form == 1) {
        ew.instrs.push_back({kUnary[rng() % (sizeof(kUnary) / sizeof(ScalarOp))], 0, dst, pick(floats)});
      } else if (form == 2 || bools.empty()) {
        ew.instrs.push_back({kBinary[rng() % (sizeof(kBinary) / sizeof(ScalarOp))], 0, dst, pick(floats), pick(floats)});
      } else {
        ew.instrs.push_back({ScalarOp::select, 0, dst, pick(bools), pick(floats), pick(floats)});
      }
      if (!reuse) floats.push_back(dst);
      if (rng() % 3 == 0) {
        const int32_t b = nregs++;
        ew.instrs.push_back({kCompare[rng() % (sizeof(kCompare) / sizeof(ScalarOp))], 0, b, pick(floats), pick(floats)});
        bools.push_back(b);
      }
    }
    ew.nregs = nregs;
    const int nout = 1 + static_cast<int>(rng() % 2);
    for (int o = 0; o < nout; ++o) {
      ew.outputs.push_back({0, nin + o, 0, {1}, floats[rng() % floats.size()]});
      bufs.push_back(std::vector<float>(static_cast<size_t>(n), 0.0f));
    }
    const bool compiled = check_same(ew, bufs, consts, "random program");
    CHECK_EQ(compiled, possible && n > 0);
  }
}

TEST(jit_fused_reductions_match_the_interpreter) {
  // sum / max over rows and over columns of exp(x - m) with m broadcast along the reduced axis (a
  // softmax's denominator), long rows split in segments too: the same bits with the JIT on or off.
  const bool possible = jit_possible();
  struct Case {
    int32_t rows, cols, axis, op;
  };
  for (Case c : {Case{37, 600, 1, 0}, Case{37, 600, 0, 0}, Case{5, 70000, 1, 0}, Case{64, 33, 1, 2}, Case{300, 130, 0, 2}}) {
    std::vector<float> x = test_values(static_cast<size_t>(c.rows) * c.cols, 11), m = test_values(static_cast<size_t>(c.rows), 12);
    // m varies along rows: strides {1, 0} over [rows, cols].
    Elementwise ew{{c.rows, c.cols}, {{0, 0, 0, {c.cols, 1}}, {0, 1, 0, {1, 0}}}, {}, 4,
                   {{ScalarOp::sub, 0, 2, 0, 1}, {ScalarOp::exp, 0, 3, 2}}};
    std::vector<int32_t> p = ew.payload();
    append(p, {c.op, 3, 1, c.axis, 2, 0});
    const int32_t outputs = c.axis == 1 ? c.rows : c.cols;
    std::vector<std::vector<float>> results;
    std::vector<bool> compiled;
    for (bool jit : {false, true}) {
      cpu::set_jit_enabled(jit);
      Program prog;
      prog.step(9, p);
      const cpu::Program decoded = cpu::decode_program(prog.code.data(), prog.code.size(), nullptr, 0);
      std::vector<float> out(static_cast<size_t>(outputs), -1.0f);
      std::vector<BufferDesc> descs{desc(x), desc(m), desc(out)};
      cpu::check_buffers(decoded, descs.data(), descs.size());
      const auto& step = std::get<cpu::ElementwiseReduceStep>(decoded.steps[0]);
      cpu::run_elementwise_reduce(step, nullptr, descs.data());
      const std::shared_ptr<const cpu::JitKernel> k = std::atomic_load(&step.jit_program->jit);
      compiled.push_back(k != nullptr && k->compiled());
      results.push_back(out);
    }
    cpu::set_jit_enabled(true);
    CHECK(!compiled[0]);
    CHECK_EQ(static_cast<bool>(compiled[1]), possible);
    for (int32_t o = 0; o < outputs; ++o) CHECK_EQ(bits(results[0][o]), bits(results[1][o]));
  }
}

TEST(jit_bool_inputs_and_outputs) {
  // Bools are bytes in memory (any nonzero byte is true) and 0/1 in registers: masks read and
  // written by compiled steps, with logical ops, against the interpreter, at every kind of tail.
  const bool possible = jit_possible();
  for (int32_t n : {1, 15, 16, 17, 100, 1000}) {
    const std::vector<float> x = test_values(static_cast<size_t>(n), 31), y = test_values(static_cast<size_t>(n), 32);
    std::vector<uint8_t> m(static_cast<size_t>(n));
    for (int32_t i = 0; i < n; ++i) m[i] = i % 3 == 0 ? 0 : (i % 3 == 1 ? 1 : 7);
    // out0 = (x < y) and not m; out1 = m ? x : y; out2 = (m xor x > 0) or m.
    Elementwise ew{{n},
                   {{0, 0, 0, {1}}, {0, 1, 0, {1}}, {3, 2, 0, {1}}},
                   {{3, 3, 0, {1}, 5}, {0, 4, 0, {1}, 6}, {3, 5, 0, {1}, 10}},
                   11,
                   {{ScalarOp::lt, 0, 3, 0, 1}, {ScalarOp::not_, 3, 4, 2}, {ScalarOp::and_, 3, 5, 3, 4},
                    {ScalarOp::select, 0, 6, 2, 0, 1}, {ScalarOp::const_, 0, 7, 0}, {ScalarOp::gt, 0, 8, 0, 7},
                    {ScalarOp::xor_, 3, 9, 2, 8}, {ScalarOp::or_, 3, 10, 9, 2}}};
    std::vector<uint8_t> b0[2], b2[2];
    std::vector<float> f1[2];
    bool compiled[2];
    for (int jit : {0, 1}) {
      cpu::set_jit_enabled(jit == 1);
      std::vector<float> xs = x, ys = y;
      std::vector<uint8_t> ms = m;
      b0[jit].assign(static_cast<size_t>(n), 9);
      b2[jit].assign(static_cast<size_t>(n), 9);
      f1[jit].assign(static_cast<size_t>(n), -1.0f);
      Program prog;
      prog.step(1, ew.payload());
      const std::vector<double> consts{0.0};
      const cpu::Program decoded = cpu::decode_program(prog.code.data(), prog.code.size(), consts.data(), consts.size());
      std::vector<BufferDesc> descs{desc(xs), desc(ys), desc(ms), desc(b0[jit]), desc(f1[jit]), desc(b2[jit])};
      cpu::check_buffers(decoded, descs.data(), descs.size());
      const auto& step = std::get<cpu::ElementwiseStep>(decoded.steps[0]);
      cpu::run_elementwise(step, consts.data(), descs.data());
      const std::shared_ptr<const cpu::JitKernel> k = std::atomic_load(&step.jit);
      compiled[jit] = k != nullptr && k->compiled();
    }
    cpu::set_jit_enabled(true);
    CHECK(!compiled[0]);
    CHECK_EQ(compiled[1], possible);
    CHECK(b0[0] == b0[1]);
    CHECK(b2[0] == b2[1]);
    for (int32_t i = 0; i < n; ++i) {
      CHECK_EQ(bits(f1[0][i]), bits(f1[1][i]));
      CHECK(b0[1][i] <= 1 && b2[1][i] <= 1);
      CHECK_EQ(b0[1][i], static_cast<uint8_t>(x[i] < y[i] && m[i] == 0));
      CHECK_EQ(bits(f1[1][i]), bits(m[i] != 0 ? x[i] : y[i]));
    }
  }
}
