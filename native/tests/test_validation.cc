// Malformed programs are rejected before anything runs, with messages naming the step and field.
#include <climits>

#include "builder.h"
#include "harness.h"

using namespace testing;

namespace {

// out = neg(x) over 8 float32 elements; tests break one field at a time.
Elementwise neg8() {
  return Elementwise{{8}, {{0, 0, 0, {1}}}, {{0, 1, 0, {1}, 1}}, 2, {{ScalarOp::neg, 0, 1, 0}}};
}

struct Fixture {
  std::vector<float> x = std::vector<float>(8, 1.0f), out = std::vector<float>(8, 0.0f);
  std::vector<int32_t> xi = std::vector<int32_t>(8, 1);

  void run_ew(const Elementwise& ew, std::vector<double> consts = {}) {
    run(Program().step(1, ew.payload()), {desc(x), desc(out), desc(xi)}, consts);
  }
  void run_code(const std::vector<int32_t>& code) {
    Program p;
    p.code = code;
    run(p, {desc(x), desc(out), desc(xi)});
  }
};

}  // namespace

TEST(header_errors) {
  Fixture f;
  CHECK_THROWS(f.run_code({0x4D47, 1}), "header needs 3");
  CHECK_THROWS(f.run_code({0x1234, 1, 0}), "bad magic");
  CHECK_THROWS(f.run_code({0x4D47, 2, 0}), "ABI version 2");
  CHECK_THROWS(f.run_code({0x4D47, 1, 1}), "step 0: code ends before the step header");
  CHECK_THROWS(f.run_code({0x4D47, 1, 1, 9, 0}), "step 0: unknown step kind 9");
  CHECK_THROWS(f.run_code({0x4D47, 1, 1, 1, 50, 0}), "step 0 (elementwise): len 50 does not fit");
  CHECK_THROWS(f.run_code({0x4D47, 1, 0, 7}), "1 ints after the last");
  f.run_code({0x4D47, 1, 0});  // an empty program is fine
}

TEST(length_mismatch) {
  Fixture f;
  Program p;
  p.step(1, neg8().payload());
  p.code[4] -= 1;  // len one short: the last field is missing
  p.code.pop_back();
  CHECK_THROWS(run(p, {desc(f.x), desc(f.out)}), "step 0 (elementwise): instr 0 len is 20 but the fields need more");
  Program q;
  auto payload = neg8().payload();
  payload.push_back(0);  // one extra int inside the step
  q.step(1, payload);
  CHECK_THROWS(run(q, {desc(f.x), desc(f.out)}), "len is 22 but the fields use 21");
}

TEST(view_out_of_range) {
  Fixture f;
  Elementwise ew = neg8();
  ew.inputs[0].offset = 1;
  CHECK_THROWS(f.run_ew(ew), "run: step 0 (elementwise): input 0 view reaches element 8 but buffer 0 has 8 elements");
  ew = neg8();
  ew.outputs[0].strides = {-1};
  CHECK_THROWS(f.run_ew(ew), "output 0 view reaches element -7, before the start of buffer 1");
  ew = neg8();
  ew.outputs[0].offset = 7;
  ew.outputs[0].strides = {-1};
  f.run_ew(ew);  // the reversed view fits
  CHECK_EQ(f.out[0], -1.0f);
  ew = neg8();
  ew.inputs[0].buf = 5;
  CHECK_THROWS(f.run_ew(ew), "input 0 view uses buffer 5 but there are 3 buffers");
  ew = neg8();
  ew.shape = {2, 4};
  ew.inputs[0].strides = {INT_MAX, INT_MAX};
  ew.outputs[0].strides = {4, 1};
  CHECK_THROWS(f.run_ew(ew), "input 0 view reaches element");
}

TEST(shape_errors) {
  Fixture f;
  Elementwise ew = neg8();
  ew.shape = {-1};
  CHECK_THROWS(f.run_ew(ew), "shape[0] is -1");
  ew.shape = std::vector<int32_t>(17, 1);
  CHECK_THROWS(f.run_ew(ew), "ndim is 17");
  ew = neg8();
  ew.shape = {INT_MAX, INT_MAX, INT_MAX};
  ew.inputs[0].strides = {0, 0, 0};
  ew.outputs[0].strides = {0, 0, 0};
  CHECK_THROWS(f.run_ew(ew), "element count overflows");
}

TEST(dtype_errors) {
  Fixture f;
  Elementwise ew = neg8();
  ew.inputs[0].dtype = 1;  // int32 views of Float32Arrays: buffers are checked in program order
  ew.outputs[0].dtype = 1;
  ew.instrs[0].kind = 1;
  CHECK_THROWS(f.run_ew(ew), "input 0 view has dtype int32 but buffer 0 holds float32");
  ew = neg8();
  ew.inputs[0].dtype = 7;
  CHECK_THROWS(f.run_ew(ew), "input 0 dtype 7 is not a dtype code");
  ew = neg8();
  ew.outputs[0].buf = 2;  // Int32Array
  ew.outputs[0].dtype = 1;
  CHECK_THROWS(f.run_ew(ew), "output 0 dtype int32 differs from the kind float32 of register 1");
  std::vector<float> x(1);
  BufferDesc bad{x.data(), 1, 9};
  std::vector<BufferDesc> bufs{bad};
  CHECK_THROWS(metalgrad::cpu::run(Program().code.data(), 3, nullptr, 0, bufs.data(), 1), "buffer 0 has unknown dtype code 9");
}

TEST(register_errors) {
  Fixture f;
  Elementwise ew = neg8();
  ew.instrs[0].dst = 2;
  CHECK_THROWS(f.run_ew(ew), "instr 0 dst is register 2 (must be in [nin=1, nregs=2))");
  ew.instrs[0].dst = 0;
  CHECK_THROWS(f.run_ew(ew), "instr 0 dst is register 0");
  ew = neg8();
  ew.instrs[0].a = 1;  // reads its own destination before it is defined
  CHECK_THROWS(f.run_ew(ew), "instr 0 operand a reads register 1, which is not defined yet");
  ew = neg8();
  ew.instrs[0].a = -1;
  CHECK_THROWS(f.run_ew(ew), "instr 0 operand a is register -1 but nregs is 2");
  ew = neg8();
  ew.outputs[0].reg = 5;
  CHECK_THROWS(f.run_ew(ew), "output 0 reg is register 5 but nregs is 2");
  ew = neg8();
  ew.instrs.clear();
  CHECK_THROWS(f.run_ew(ew), "output 0 reg reads register 1, which is not defined yet");
  ew = neg8();
  ew.nregs = 5000;
  CHECK_THROWS(f.run_ew(ew), "nregs is 5000");
  ew = neg8();
  ew.instrs[0].b = 0;
  CHECK_THROWS(f.run_ew(ew), "operand b is 0 but this op does not use it");
}

TEST(kind_errors) {
  Fixture f;
  Elementwise ew = neg8();
  ew.instrs[0].op = ScalarOp::exp;
  ew.instrs[0].kind = 1;
  CHECK_THROWS(f.run_ew(ew), "instr 0 op exp is not defined on kind int32");
  ew.instrs[0].op = static_cast<ScalarOp>(40);
  CHECK_THROWS(f.run_ew(ew), "op 40 is not a scalar opcode");
  ew = neg8();
  ew.instrs[0].kind = 1;  // neg on i32 reading a float32 register
  ew.outputs[0].dtype = 1;
  ew.outputs[0].buf = 2;
  CHECK_THROWS(f.run_ew(ew), "operand a reads register 0 of kind float32 but needs int32");
  ew = neg8();
  ew.instrs = {{ScalarOp::select, 0, 1, 0, 0, 0}};
  CHECK_THROWS(f.run_ew(ew), "operand a reads register 0 of kind float32 but needs bool");
  ew = neg8();
  ew.instrs = {{ScalarOp::convert, 1, 1, 0, 1}};  // claims the source is int32
  ew.outputs[0] = {1, 2, 0, {1}, 1};
  CHECK_THROWS(f.run_ew(ew), "operand a reads register 0 of kind float32 but needs int32");
  ew = neg8();
  ew.instrs = {{ScalarOp::const_, 0, 1, 3}};
  CHECK_THROWS(f.run_ew(ew, {1.0}), "const index 3 is out of range (1 consts)");
  ew = neg8();
  ew.instrs = {{ScalarOp::lt, 0, 1, 0, 0}};  // defines a bool register, stored as float32
  CHECK_THROWS(f.run_ew(ew), "output 0 dtype float32 differs from the kind bool of register 1");
}

TEST(reduce_argreduce_matmul_errors) {
  Fixture f;
  auto reduce = [&](std::vector<int32_t> p) {
    run(Program().step(2, p), {desc(f.x), desc(f.out), desc(f.xi)});
  };
  CHECK_THROWS(reduce({0, 0, 2, 2, 4, 0, 0, 4, 1, 2, 1, 1, 1, 0}), "step 0 (reduce): reduced axis 1 appears twice");
  CHECK_THROWS(reduce({0, 0, 2, 2, 4, 0, 0, 4, 1, 1, 2, 1, 0}), "axis 2 is out of range for ndim 2");
  CHECK_THROWS(reduce({5, 0, 1, 8, 0, 0, 1, 1, 0, 1, 0}), "op 5 is not a reduce op");
  CHECK_THROWS(reduce({0, 0, 1, 8, 0, 0, 1, 0, 1, 1}), "output view reaches element 8 but buffer 1 has 8");
  CHECK_THROWS(reduce({0, 0, 1, 8, 0, 0, 1, 1, 0, 2, 0}), "output view has dtype float32 but buffer 2 holds int32");
  auto arg = [&](std::vector<int32_t> p) {
    run(Program().step(3, p), {desc(f.x), desc(f.out), desc(f.xi)});
  };
  CHECK_THROWS(arg({0, 0, 2, 0, 8, 0, 0, 8, 1, 0, 2, 0}), "step 0 (argreduce): axis 0 is empty");
  CHECK_THROWS(arg({0, 0, 1, 8, 0, 0, 1, 0, 1, 0}), "output view has dtype int32 but buffer 1 holds float32");
  CHECK_THROWS(arg({0, 0, 0, 0, 0, 0, 2, 0}), "axis 0 is out of range for ndim 0");
  auto mm = [&](std::vector<int32_t> p) {
    run(Program().step(4, p), {desc(f.x), desc(f.out), desc(f.xi)});
  };
  CHECK_THROWS(mm({2, 1, 2, 2, 2, 0, 0, 4, 2, 1, 0, 0, 4, 2, 1, 1, 0, 4, 2, 1}), "dtype uint32 is not supported");
  CHECK_THROWS(mm({0, 1, 2, 2, 2, 0, 0, 4, 2, 1, 0, 0, 4, 2, 1, 0, 2, 4, 2, 1}), "step 0 (matmul): c overlaps operand a");
  CHECK_THROWS(mm({0, 1, 3, 3, 3, 0, 0, 9, 3, 1, 0, 0, 9, 3, 1, 1, 0, 9, 3, 1}), "step 0 (matmul): a view reaches element 8 but buffer 0 has 8");
}

TEST(nothing_runs_if_a_later_step_is_invalid) {
  Fixture f;
  Elementwise bad = neg8();
  bad.inputs[0].offset = 3;
  Program p;
  p.step(1, neg8().payload()).step(1, bad.payload());
  CHECK_THROWS(run(p, {desc(f.x), desc(f.out)}), "step 1 (elementwise): input 0 view reaches element 10");
  for (float v : f.out) CHECK_EQ(v, 0.0f);
}
