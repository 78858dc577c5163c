// Run-time choice of the instruction set for vecmath.h's kernels: detected once, overridable with
// METALGRAD_ISA for testing every path.
#include "vecmath.h"

#include <cstdlib>
#include <cstring>

namespace metalgrad::cpu::vecmath {
namespace {

constexpr Isa kAllIsas[] = {Isa::generic, Isa::sse2, Isa::avx2, Isa::avx512};

const IsaKernels* table_of(Isa isa) {
  switch (isa) {
    case Isa::generic: return generic_kernels();
    case Isa::sse2: return sse2_kernels();
    case Isa::avx2: return avx2_kernels();
    case Isa::avx512: return avx512_kernels();
  }
  return nullptr;
}

bool cpu_has(Isa isa) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  switch (isa) {
    case Isa::generic:
    case Isa::sse2: return true;
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512: return __builtin_cpu_supports("avx512f");
  }
  return false;
#else
  return isa == Isa::generic;
#endif
}

struct Choice {
  Isa isa = Isa::generic;
  std::string note;  // why METALGRAD_ISA was ignored, if it was
};

Choice choose() {
  Choice c;
  for (Isa isa : kAllIsas) {
    if (isa_supported(isa)) c.isa = isa;
  }
  const char* env = std::getenv("METALGRAD_ISA");
  if (env == nullptr || *env == '\0') return c;
  for (Isa isa : kAllIsas) {
    if (std::strcmp(env, isa_name(isa)) != 0) continue;
    if (isa_supported(isa)) c.isa = isa;
    else c.note = std::string("METALGRAD_ISA=") + env + " ignored: not supported here";
    return c;
  }
  c.note = std::string("METALGRAD_ISA=") + env + " ignored: expected generic, sse2, avx2 or avx512";
  return c;
}

const Choice& choice() {
  static const Choice c = choose();
  return c;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::generic: return "generic";
    case Isa::sse2: return "sse2";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

bool isa_supported(Isa isa) {
  static const bool supported[] = {
      table_of(Isa::generic) && cpu_has(Isa::generic), table_of(Isa::sse2) && cpu_has(Isa::sse2),
      table_of(Isa::avx2) && cpu_has(Isa::avx2), table_of(Isa::avx512) && cpu_has(Isa::avx512)};
  return supported[static_cast<int>(isa)];
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : kAllIsas) {
    if (isa_supported(isa)) out.push_back(isa);
  }
  return out;
}

Isa active_isa() { return choice().isa; }

std::string cpu_features() {
  std::string s = isa_name(active_isa());
  s += " (supported:";
  for (Isa isa : supported_isas()) s += std::string(" ") + isa_name(isa);
  s += ")";
  if (!choice().note.empty()) s += "; " + choice().note;
  return s;
}

InstrKernel f32_kernel(Isa isa, ScalarOp op) {
  const IsaKernels* t = isa_supported(isa) ? table_of(isa) : nullptr;
  return t ? t->f32[static_cast<int>(op)] : nullptr;
}

InstrKernel f32_kernel_const_operand(Isa isa, ScalarOp op, int operand) {
  const IsaKernels* t = isa_supported(isa) ? table_of(isa) : nullptr;
  if (t == nullptr) return nullptr;
  return (operand == 0 ? t->f32_scalar_a : t->f32_scalar_b)[static_cast<int>(op)];
}

}  // namespace metalgrad::cpu::vecmath
