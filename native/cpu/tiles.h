// Register tiles of the elementwise interpreter, and binding a program's instructions to them.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels.h"
#include "program.h"

namespace metalgrad::cpu {

// Elements per register tile: large enough to amortise the per-instruction dispatch, small enough
// that a few live registers stay in L1/L2. A register is kTile 4-byte slots.
constexpr int64_t kTile = 512;

// Binds each instruction of `step` to its kernel and to the register tiles at `regs`. A binary op or
// comparison reading a register that holds a constant gets a kernel taking the constant as an
// immediate where one exists, and a const instruction whose register is then never read (by a
// later instruction, an output, or `also_read` when >= 0) is dropped, so chains like x*1.5+2 do not
// refill constant tiles on every tile. The result replaces the contents of `out`.
void bind_instrs(const ElementwiseStep& step, char* regs, const double* consts, std::vector<BoundInstr>& out,
                 int32_t also_read = -1);

}  // namespace metalgrad::cpu
