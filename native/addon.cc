// N-API glue: checks the JS arguments, hands typed-array storage to the CPU engine, and turns C++
// exceptions into JS errors. The only file that includes napi.h.
#include <napi.h>

#include <exception>
#include <string>
#include <vector>

#include "engine.h"
#include "vecmath.h"

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

[[noreturn]] void type_error(Napi::Env env, const std::string& what, const std::string& expected,
                             const Napi::Value& v) {
  throw Napi::TypeError::New(env, "metalgrad native run: " + what + " must be " + expected +
                                      ", received " + describe(v));
}

bool is_typed(const Napi::Value& v, napi_typedarray_type type) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == type;
}

// ABI dtype code of a buffer's typed array, or -1 for an unsupported type.
int dtype_of(const Napi::Value& v) {
  if (!v.IsTypedArray()) return -1;
  switch (v.As<Napi::TypedArray>().TypedArrayType()) {
    case napi_float32_array: return 0;
    case napi_int32_array: return 1;
    case napi_uint32_array: return 2;
    case napi_uint8_array: return 3;
    default: return -1;
  }
}

void* data_of(const Napi::TypedArray& t) {
  Napi::ArrayBuffer ab = t.ArrayBuffer();
  return static_cast<char*>(ab.Data()) + t.ByteOffset();
}

// run(code: Int32Array, consts: Float64Array, bufs: TypedArray[]): undefined
Napi::Value Run(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3) {
    throw Napi::TypeError::New(env, "metalgrad native run: expected 3 arguments (code, consts, bufs), received " +
                                        std::to_string(info.Length()));
  }
  if (!is_typed(info[0], napi_int32_array)) type_error(env, "code", "an Int32Array", info[0]);
  if (!is_typed(info[1], napi_float64_array)) type_error(env, "consts", "a Float64Array", info[1]);
  if (!info[2].IsArray()) type_error(env, "bufs", "an array of typed arrays", info[2]);

  auto code = info[0].As<Napi::Int32Array>();
  auto consts = info[1].As<Napi::Float64Array>();
  auto list = info[2].As<Napi::Array>();
  std::vector<BufferDesc> bufs(list.Length());
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Value v = list.Get(i);
    int dtype = dtype_of(v);
    if (dtype < 0) {
      type_error(env, "bufs[" + std::to_string(i) + "]",
                 "a Float32Array, Int32Array, Uint32Array or Uint8Array", v);
    }
    auto t = v.As<Napi::TypedArray>();
    bufs[i] = BufferDesc{data_of(t), t.ElementLength(), dtype};
  }
  try {
    metalgrad::cpu::run(code.Data(), code.ElementLength(), consts.Data(), consts.ElementLength(),
                        bufs.data(), bufs.size());
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("metalgrad native ") + e.what());
  }
  return env.Undefined();
}

Napi::Value ScalarOps(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::string> names = metalgrad::cpu::scalar_op_names();
  Napi::Array out = Napi::Array::New(env, names.size());
  for (uint32_t i = 0; i < names.size(); ++i) out.Set(i, names[i]);
  return out;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("run", Napi::Function::New(env, Run, "run"));
  exports.Set("scalarOps", Napi::Function::New(env, ScalarOps, "scalarOps"));
  exports.Set("abiVersion", Napi::Number::New(env, metalgrad::cpu::kAbiVersion));
  exports.Set("cpuFeatures", Napi::String::New(env, metalgrad::cpu::vecmath::cpu_features()));
  return exports;
}

}  // namespace

NODE_API_MODULE(metalgrad, Init)
