// N-API glue: checks the JS arguments, hands typed-array storage to the CPU engine, and turns C++
// exceptions into JS errors. On macOS the addon also exports `metal` (native/metal/host.mm).
#include <napi.h>

#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "engine.h"
#include "host_buffers.h"
#include "jit.h"
#include "threadpool.h"
#include "vecmath.h"
#ifdef METALGRAD_METAL
#include "metal/host.h"
#endif

namespace {

using metalgrad::cpu::BufferDesc;

std::string describe(const Napi::Value& v) {
  if (v.IsTypedArray()) {
    switch (v.As<Napi::TypedArray>().TypedArrayType()) {
      case napi_int8_array: return "Int8Array";
      case napi_uint8_array: return "Uint8Array";
      case napi_uint8_clamped_array: return "Uint8ClampedArray";
      case napi_int16_array: return "Int16Array";
      case napi_uint16_array: return "Uint16Array";
      case napi_int32_array: return "Int32Array";
      case napi_uint32_array: return "Uint32Array";
      case napi_float32_array: return "Float32Array";
      case napi_float64_array: return "Float64Array";
      case napi_bigint64_array: return "BigInt64Array";
      case napi_biguint64_array: return "BigUint64Array";
      default: return "a typed array";
    }
  }
  if (v.IsArray()) return "an array";
  if (v.IsNull()) return "null";
  if (v.IsUndefined()) return "undefined";
  if (v.IsArrayBuffer()) return "ArrayBuffer";
  if (v.IsNumber()) return "a number";
  if (v.IsString()) return "a string";
  if (v.IsFunction()) return "a function";
  return "an object";
}

[[noreturn]] void type_error(Napi::Env env, const char* fn, const std::string& what, const std::string& expected,
                             const Napi::Value& v) {
  throw Napi::TypeError::New(env, std::string("metalgrad native ") + fn + ": " + what + " must be " + expected +
                                      ", received " + describe(v));
}

bool is_typed(const Napi::Value& v, napi_typedarray_type type) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == type;
}

// Reads `bufs`, an array of typed arrays, into `out` (one napi_get_typedarray_info per buffer:
// this is on the path of every call).
void read_buffers(Napi::Env env, const char* fn, const Napi::Value& value, std::vector<BufferDesc>& out) {
  if (!value.IsArray()) type_error(env, fn, "bufs", "an array of typed arrays", value);
  auto list = value.As<Napi::Array>();
  const uint32_t n = list.Length();
  out.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    napi_value v;
    bool typed = false;
    if (napi_get_element(env, list, i, &v) != napi_ok || napi_is_typedarray(env, v, &typed) != napi_ok) {
      throw Napi::Error::New(env, std::string("metalgrad native ") + fn + ": cannot read bufs[" + std::to_string(i) + "]");
    }
    napi_typedarray_type type = napi_int8_array;
    size_t length = 0;
    void* data = nullptr;
    if (typed) napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr);
    const int dtype = !typed                           ? -1
                      : type == napi_float32_array     ? 0
                      : type == napi_int32_array       ? 1
                      : type == napi_uint32_array      ? 2
                      : type == napi_uint8_array       ? 3
                                                       : -1;
    if (dtype < 0) {
      type_error(env, fn, "bufs[" + std::to_string(i) + "]",
                 "a Float32Array, Int32Array, Uint32Array or Uint8Array", Napi::Value(env, v));
    }
    out[i] = BufferDesc{data, length, dtype};
  }
}

void check_program_args(const Napi::CallbackInfo& info, const char* fn, size_t nargs, const char* names) {
  Napi::Env env = info.Env();
  if (info.Length() != nargs) {
    throw Napi::TypeError::New(env, std::string("metalgrad native ") + fn + ": expected " + std::to_string(nargs) +
                                        " arguments (" + names + "), received " + std::to_string(info.Length()));
  }
  if (!is_typed(info[0], napi_int32_array)) type_error(env, fn, "code", "an Int32Array", info[0]);
  if (!is_typed(info[1], napi_float64_array)) type_error(env, fn, "consts", "a Float64Array", info[1]);
}

// Tags a compiled-program handle so `execute` can tell it from any other object.
constexpr napi_type_tag kProgramTag = {0x6d6574616c677261ULL, 0x642d70726f677231ULL};

using ProgramPtr = std::shared_ptr<const metalgrad::cpu::Program>;

template <class F>
auto translating_errors(Napi::Env env, F f) {
  try {
    return f();
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("metalgrad native ") + e.what());
  }
}

// compile(code: Int32Array, consts: Float64Array): handle -- decodes and validates once.
Napi::Value Compile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  check_program_args(info, "compile", 2, "code, consts");
  auto code = info[0].As<Napi::Int32Array>();
  auto consts = info[1].As<Napi::Float64Array>();
  ProgramPtr prog = translating_errors(env, [&] {
    return metalgrad::cpu::compile(code.Data(), code.ElementLength(), consts.Data(), consts.ElementLength());
  });
  auto handle = Napi::External<ProgramPtr>::New(env, new ProgramPtr(std::move(prog)),
                                                [](Napi::Env, ProgramPtr* p) { delete p; });
  if (napi_type_tag_object(env, handle, &kProgramTag) != napi_ok) {
    throw Napi::Error::New(env, "metalgrad native compile: cannot tag the program handle");
  }
  return handle;
}

// execute(handle, bufs: TypedArray[]): undefined -- checks the buffers against the program, then runs it.
Napi::Value Execute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2) {
    throw Napi::TypeError::New(env, "metalgrad native execute: expected 2 arguments (program, bufs), received " +
                                        std::to_string(info.Length()));
  }
  bool tagged = false;
  if (info[0].IsExternal()) napi_check_object_type_tag(env, info[0], &kProgramTag, &tagged);
  if (!tagged) type_error(env, "execute", "program", "a handle returned by compile()", info[0]);
  const ProgramPtr& prog = *info[0].As<Napi::External<ProgramPtr>>().Data();
  static thread_local std::vector<BufferDesc> bufs;
  read_buffers(env, "execute", info[1], bufs);
  translating_errors(env, [&] { metalgrad::cpu::execute(*prog, bufs.data(), bufs.size()); });
  return env.Undefined();
}

// run(code: Int32Array, consts: Float64Array, bufs: TypedArray[]): undefined -- compile + execute.
Napi::Value Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  check_program_args(info, "run", 3, "code, consts, bufs");
  auto code = info[0].As<Napi::Int32Array>();
  auto consts = info[1].As<Napi::Float64Array>();
  std::vector<BufferDesc> bufs;
  read_buffers(env, "run", info[2], bufs);
  translating_errors(env, [&] {
    metalgrad::cpu::run(code.Data(), code.ElementLength(), consts.Data(), consts.ElementLength(),
                        bufs.data(), bufs.size());
  });
  return env.Undefined();
}

Napi::Value ScalarOps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::string> names = metalgrad::cpu::scalar_op_names();
  Napi::Array out = Napi::Array::New(env, names.size());
  for (uint32_t i = 0; i < names.size(); ++i) out.Set(i, names[i]);
  return out;
}

// setNumThreads(n: integer in [1, kMaxThreads]): undefined
Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int max = metalgrad::cpu::kMaxThreads;
  const std::string expected = "an integer from 1 to " + std::to_string(max);
  if (info.Length() != 1) {
    throw Napi::TypeError::New(env, "setNumThreads: expected 1 argument (n), received " +
                                        std::to_string(info.Length()));
  }
  if (!info[0].IsNumber()) {
    throw Napi::TypeError::New(env, "setNumThreads: n must be " + expected + ", received " + describe(info[0]));
  }
  const double n = info[0].As<Napi::Number>().DoubleValue();
  if (!(n >= 1 && n <= max) || n != static_cast<double>(static_cast<int>(n))) {
    throw Napi::RangeError::New(env, "setNumThreads: n must be " + expected + ", received " +
                                         Napi::Value(info[0]).ToString().Utf8Value());
  }
  metalgrad::cpu::set_num_threads(static_cast<int>(n));
  return env.Undefined();
}

Napi::Value NumThreads(const Napi::CallbackInfo& info) {
  try {
    return Napi::Number::New(info.Env(), metalgrad::cpu::num_threads());
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("metalgrad numThreads: ") + e.what());
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setNumThreads", Napi::Function::New(env, SetNumThreads, "setNumThreads"));
  exports.Set("numThreads", Napi::Function::New(env, NumThreads, "numThreads"));
  exports.Set("run", Napi::Function::New(env, Run, "run"));
  exports.Set("compile", Napi::Function::New(env, Compile, "compile"));
  exports.Set("execute", Napi::Function::New(env, Execute, "execute"));
  exports.Set("scalarOps", Napi::Function::New(env, ScalarOps, "scalarOps"));
  exports.Set("abiVersion", Napi::Number::New(env, metalgrad::cpu::kAbiVersion));
  metalgrad::add_host_buffer_exports(env, exports);
  const std::string jit = metalgrad::cpu::jit_enabled() ? "; jit: avx512" : "; jit: off";
  exports.Set("cpuFeatures", Napi::String::New(env, metalgrad::cpu::vecmath::cpu_features() + jit));
#ifdef METALGRAD_METAL
  exports.Set("metal", metalgrad::metal::Exports(env));
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(metalgrad, Init)
