// Public C++ entry points of the CPU kernel engine (no N-API here; see native/addon.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace metalgrad::cpu {

constexpr int32_t kAbiVersion = 1;

// Storage of one buffer: `length` elements of dtype code `dtype` (see dtype.h) at `data`.
struct BufferDesc {
  void* data;
  size_t length;
  int dtype;
};

// Validates the whole step program of native/ABI.md, then executes its steps in order.
// Throws std::invalid_argument (naming the step and field) before touching any buffer
// if the program is malformed.
void run(const int32_t* code, size_t code_len, const double* consts, size_t nconsts,
         const BufferDesc* bufs, size_t nbufs);

// Scalar op names in opcode order.
std::vector<std::string> scalar_op_names();

}  // namespace metalgrad::cpu
