// The scalar op table of the elementwise interpreter, in ABI opcode order (the names are the contract).
#pragma once

#include <cstdint>

#include "dtype.h"

namespace metalgrad::cpu {

// How an instruction uses its operands a, b, c.
enum class OpForm {
  copy,     // dst = a (a of kind)
  constant, // dst = consts[a] converted to kind
  convert,  // dst = (kind) a, where b is a's dtype (one of the op's kinds)
  unary,    // dst = f(a), all of kind
  binary,   // dst = f(a, b), all of kind
  compare,  // dst (bool) = f(a, b), a and b of kind
  select,   // dst = a ? b : c, a bool, b and c of kind
};

// X(identifier, ABI name, operand form, kinds the op is defined on). Order = opcode.
// Identifiers get a trailing underscore where the ABI name is a C++ keyword.
#define SCALAR_OPS(X)                  \
  X(copy, "copy", copy, kAll)          \
  X(const_, "const", constant, kAll)   \
  X(convert, "convert", convert, kAll) \
  X(neg, "neg", unary, kFIU)           \
  X(exp, "exp", unary, kF)             \
  X(log, "log", unary, kF)             \
  X(log1p, "log1p", unary, kF)         \
  X(expm1, "expm1", unary, kF)         \
  X(sin, "sin", unary, kF)             \
  X(cos, "cos", unary, kF)             \
  X(tanh, "tanh", unary, kF)           \
  X(sqrt, "sqrt", unary, kF)           \
  X(abs, "abs", unary, kFIU)           \
  X(sign, "sign", unary, kFIU)         \
  X(erf, "erf", unary, kF)             \
  X(floor, "floor", unary, kF)         \
  X(ceil, "ceil", unary, kF)           \
  X(add, "add", binary, kFIU)          \
  X(sub, "sub", binary, kFIU)          \
  X(mul, "mul", binary, kFIU)          \
  X(div, "div", binary, kFIU)          \
  X(pow, "pow", binary, kFIU)          \
  X(max, "max", binary, kAll)          \
  X(min, "min", binary, kAll)          \
  X(lt, "lt", compare, kAll)           \
  X(le, "le", compare, kAll)           \
  X(gt, "gt", compare, kAll)           \
  X(ge, "ge", compare, kAll)           \
  X(eq, "eq", compare, kAll)           \
  X(ne, "ne", compare, kAll)           \
  X(and_, "and", binary, kIUB)         \
  X(or_, "or", binary, kIUB)           \
  X(not_, "not", unary, kIUB)          \
  X(select, "select", select, kAll)    \
  X(erf_inv, "erf_inv", unary, kF)     \
  X(xor_, "xor", binary, kIUB)         \
  X(shift_left, "shift_left", binary, kIU)                         \
  X(shift_right_logical, "shift_right_logical", binary, kIU)       \
  X(shift_right_arithmetic, "shift_right_arithmetic", binary, kIU) \
  X(bitcast_convert_type, "bitcast_convert_type", convert, kFIU)

enum class ScalarOp : int32_t {
#define MG_OP_ENUM(id, name, form, kinds) id,
  SCALAR_OPS(MG_OP_ENUM)
#undef MG_OP_ENUM
};

constexpr int kNumScalarOps = 0
#define MG_OP_COUNT(id, name, form, kinds) +1
    SCALAR_OPS(MG_OP_COUNT)
#undef MG_OP_COUNT
    ;

struct OpInfo {
  const char* name;
  OpForm form;
  uint32_t kinds;  // mask of kF/kI/kU/kB
};

inline constexpr OpInfo kOpInfo[kNumScalarOps] = {
#define MG_OP_INFO(id, name, form, kinds) {name, OpForm::form, kinds},
    SCALAR_OPS(MG_OP_INFO)
#undef MG_OP_INFO
};

constexpr const OpInfo& op_info(ScalarOp op) { return kOpInfo[static_cast<int32_t>(op)]; }

}  // namespace metalgrad::cpu
