// Internals of the step-program decoder shared by its source files (program.cc, program_indexing.cc):
// the payload reader that names the step, item and field in every error, and small checks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

#include "program.h"

namespace metalgrad::cpu::decode {

template <class... Parts>
inline std::string cat(const Parts&... parts) {
  std::ostringstream s;
  (s << ... << parts);
  return s.str();
}

inline const char* step_kind_name(int32_t kind) {
  switch (kind) {
    case 1: return "elementwise";
    case 2: return "reduce";
    case 3: return "argreduce";
    case 4: return "matmul";
    case 5: return "gather";
    case 6: return "scatter";
    case 7: return "sort";
    case 8: return "scan";
    case 9: return "elementwise_reduce";
  }
  return "unknown";
}

[[noreturn]] inline void fail_run(const std::string& msg) { throw std::invalid_argument("run: " + msg); }

// Reads the payload of one step; every error names the step, the item and the field.
class StepReader {
 public:
  StepReader(const int32_t* payload, size_t len, size_t index, int32_t kind, Program& prog)
      : prog_(prog), nconsts_(prog.consts.size()), p_(payload), len_(len), index_(index),
        kind_(kind) {}

  int32_t next(const char* field) {
    if (pos_ >= len_) {
      fail(cat("len is ", len_, " but the fields need more (ran out at '", field, "')"));
    }
    return p_[pos_++];
  }

  // Names the item subsequent errors refer to, e.g. "input 1" (formatted only on failure, since
  // decoding is on the path of every call).
  void item(const char* group, int64_t i) {
    group_ = group;
    item_index_ = i;
  }
  void item(const char* group) { item(group, -1); }
  void item() { group_ = nullptr; }
  // Names the part of the step that later items belong to ("epilogue"); nullptr for the step itself.
  void part(const char* name) { part_ = name; }

  // Whether every field of the payload has been read (optional trailing parts are absent).
  bool at_end() const { return pos_ == len_; }

  // "step 0 (elementwise): input 1 " -- the prefix of messages about the current item.
  std::string context() const {
    std::string item = part_ != nullptr ? cat(part_, " ") : std::string();
    if (group_ != nullptr) item += item_index_ >= 0 ? cat(group_, " ", item_index_, " ") : cat(group_, " ");
    return cat("step ", index_, " (", step_kind_name(kind_), "): ", item);
  }

  [[noreturn]] void fail(const std::string& msg) const { fail_run(context() + msg); }

  void finish() {
    item();
    part(nullptr);
    if (pos_ != len_) fail(cat("len is ", len_, " but the fields use ", pos_));
  }

  Program& prog_;
  size_t nconsts_;

 private:
  const int32_t* p_;
  size_t len_;
  size_t pos_ = 0;
  size_t index_;
  int32_t kind_;
  const char* group_ = nullptr;
  const char* part_ = nullptr;
  int64_t item_index_ = -1;
};

inline int64_t mul_or_fail(StepReader& r, int64_t a, int64_t b, const char* what) {
  int64_t out;
  if (__builtin_mul_overflow(a, b, &out)) r.fail(cat(what, " overflows int64"));
  return out;
}

inline int64_t add_or_fail(StepReader& r, int64_t a, int64_t b, const char* what) {
  int64_t out;
  if (__builtin_add_overflow(a, b, &out)) r.fail(cat(what, " overflows int64"));
  return out;
}

inline DType read_dtype(StepReader& r, const char* field) {
  int32_t code = r.next(field);
  if (!is_dtype_code(code)) r.fail(cat(field, " ", code, " is not a dtype code (0..3)"));
  return static_cast<DType>(code);
}

// Buffer indices are bounded so a malformed program cannot make the need table huge.
constexpr int32_t kMaxBuffers = 1 << 20;

// Records that the current item reads or writes elements [.., hi] of `buf` as `dtype` (hi < 0:
// none); the buffer table is checked against it on every run.
inline void use_buffer(StepReader& r, const char* what, int32_t buf, DType dtype, int64_t hi) {
  if (buf < 0 || buf >= kMaxBuffers) r.fail(cat(what, " uses buffer ", buf, " (must be in [0, ", kMaxBuffers, "))"));
  Program& prog = r.prog_;
  prog.uses.push_back(BufferUse{buf, dtype, hi, r.context() + what});
  if (static_cast<size_t>(buf) >= prog.needs.size()) prog.needs.resize(static_cast<size_t>(buf) + 1);
  BufferNeed& need = prog.needs[buf];
  // A buffer used with two dtypes can never be valid; the first use's dtype is reported by check_buffers.
  need.dtype = need.dtype < 0 || need.dtype == static_cast<int>(dtype) ? static_cast<int>(dtype) : -2;
  if (hi >= 0) need.length = std::max(need.length, static_cast<uint64_t>(hi) + 1);
}

// A reduce/scan op code (`what` names the step's kind of op) valid for values of `dtype`.
inline ReduceOp check_reduce_op(StepReader& r, int32_t op, DType dtype, const char* what = "reduce") {
  if (op < 0 || op > 3) r.fail(cat("op ", op, " is not a ", what, " op (0 sum, 1 prod, 2 max, 3 min)"));
  if (dtype == DType::boolean && op <= 1) r.fail("sum/prod is not defined on bool (convert first)");
  return static_cast<ReduceOp>(op);
}

// Readers of the indexing steps (kinds 5-8), in program_indexing.cc.
GatherStep read_gather(StepReader& r);
ScatterStep read_scatter(StepReader& r);
SortStep read_sort(StepReader& r);
ScanStep read_scan(StepReader& r);

}  // namespace metalgrad::cpu::decode
