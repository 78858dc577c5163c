// Public C++ entry points of the CPU kernel engine (no N-API here; see native/addon.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
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

struct Program;

// Decodes and validates the step program of native/ABI.md once (consts are copied). Throws
// std::invalid_argument naming the step and field if it is malformed.
std::shared_ptr<const Program> compile(const int32_t* code, size_t code_len, const double* consts,
                                       size_t nconsts);

// Checks the buffer table against everything the program touches (throwing std::invalid_argument
// before touching any buffer), then executes the steps in order.
void execute(const Program& prog, const BufferDesc* bufs, size_t nbufs);

// compile + execute.
void run(const int32_t* code, size_t code_len, const double* consts, size_t nconsts,
         const BufferDesc* bufs, size_t nbufs);

// Scalar op names in opcode order.
std::vector<std::string> scalar_op_names();

}  // namespace metalgrad::cpu
