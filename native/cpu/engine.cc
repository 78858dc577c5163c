// Entry point of the CPU engine: validate the whole program, then run its steps in order.
#include "engine.h"

#include <variant>

#include "executors.h"
#include "ops.h"
#include "program.h"

namespace metalgrad::cpu {

std::shared_ptr<const Program> compile(const int32_t* code, size_t code_len, const double* consts,
                                       size_t nconsts) {
  return std::make_shared<const Program>(decode_program(code, code_len, consts, nconsts));
}

void run(const int32_t* code, size_t code_len, const double* consts, size_t nconsts,
         const BufferDesc* bufs, size_t nbufs) {
  execute(*compile(code, code_len, consts, nconsts), bufs, nbufs);
}

void execute(const Program& prog, const BufferDesc* bufs, size_t nbufs) {
  check_buffers(prog, bufs, nbufs);
  const double* consts = prog.consts.data();
  for (const Step& step : prog.steps) {
    if (auto* s = std::get_if<ElementwiseStep>(&step)) run_elementwise(*s, consts, bufs);
    else if (auto* s = std::get_if<ReduceStep>(&step)) run_reduce(*s, consts, bufs);
    else if (auto* s = std::get_if<ArgReduceStep>(&step)) run_argreduce(*s, bufs);
    else if (auto* s = std::get_if<MatmulStep>(&step)) run_matmul(*s, consts, bufs);
    else if (auto* s = std::get_if<GatherStep>(&step)) run_gather(*s, bufs);
    else if (auto* s = std::get_if<ScatterStep>(&step)) run_scatter(*s, bufs);
    else if (auto* s = std::get_if<SortStep>(&step)) run_sort(*s, bufs);
    else if (auto* s = std::get_if<ScanStep>(&step)) run_scan(*s, bufs);
    else if (auto* s = std::get_if<ElementwiseReduceStep>(&step)) run_elementwise_reduce(*s, consts, bufs);
  }
}

std::vector<std::string> scalar_op_names() {
  std::vector<std::string> names;
  for (const OpInfo& info : kOpInfo) names.emplace_back(info.name);
  return names;
}

}  // namespace metalgrad::cpu
