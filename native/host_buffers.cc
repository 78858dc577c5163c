// ArrayBuffers over the recycled host buffer pool (native/cpu/buffer_pool.h).
//
// N-API's external ArrayBuffers run their finalizers only when the event loop turns, so a
// synchronous training loop would never get its memory back. V8's own BackingStore deleter runs as
// soon as the garbage collector frees the buffer (possibly on a background thread), so this file
// uses the V8 API for the one thing N-API cannot do, and hands the result back as a napi_value.
#include <napi.h>
#include <v8.h>

#include <cstdint>
#include <new>
#include <string>

#include "buffer_pool.h"
#include "host_buffers.h"

namespace metalgrad {
namespace {

using cpu::host_buffer_pool;

// Node represents a napi_value as the address of a V8 handle (js_native_api_v8.h's
// JsValueFromV8LocalValue). Builds where V8 lays handles out otherwise, or confines ArrayBuffers to
// its sandbox, do not offer pooled buffers; the JS side then allocates ordinary ones.
#if defined(V8_ENABLE_DIRECT_HANDLE) || defined(V8_ENABLE_SANDBOX)
constexpr bool kPooled = false;
#else
constexpr bool kPooled = true;
#endif

void give_back(void* data, size_t length, void* /*hint*/) { host_buffer_pool().release(data, length); }

double number_arg(const Napi::CallbackInfo& info, const char* fn, const char* name, double max) {
  if (info.Length() != 1) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": expected 1 argument (" + name + "), received " +
                                               std::to_string(info.Length()));
  }
  const double n = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  if (!(n >= 0 && n <= max) || n != static_cast<double>(static_cast<int64_t>(n))) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + name + " must be an integer from 0 to " +
                                                std::to_string(static_cast<int64_t>(max)) + ", received " +
                                                Napi::Value(info[0]).ToString().Utf8Value());
  }
  return n;
}

// allocateHost(bytes): ArrayBuffer of `bytes` (>= 1) uninitialised bytes from the pool.
Napi::Value AllocateHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // 2^53 bytes is beyond any address space; the pool reports failure as bad_alloc.
  const auto bytes = static_cast<size_t>(number_arg(info, "allocateHost", "bytes", 9007199254740991.0));
  if (bytes == 0) throw Napi::RangeError::New(env, "allocateHost: bytes must be at least 1, received 0");
  void* data = nullptr;
  try {
    data = host_buffer_pool().acquire(bytes);
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(env, "allocateHost: out of memory allocating " + std::to_string(bytes) + " bytes");
  }
  return buffer_with_deleter(env, data, bytes, give_back, nullptr);
}

// bufferCache(): { limit, idle, live } in bytes.
Napi::Value BufferCache(const Napi::CallbackInfo& info) {
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("live", Napi::Number::New(info.Env(), static_cast<double>(host_buffer_pool().live_bytes())));
  out.Set("limit", Napi::Number::New(info.Env(), static_cast<double>(host_buffer_pool().limit())));
  out.Set("idle", Napi::Number::New(info.Env(), static_cast<double>(host_buffer_pool().idle_bytes())));
  return out;
}

// setBufferCacheLimit(bytes): keeps at most `bytes` idle, returning the rest to the OS now.
Napi::Value SetBufferCacheLimit(const Napi::CallbackInfo& info) {
  host_buffer_pool().set_limit(static_cast<size_t>(number_arg(info, "setBufferCacheLimit", "bytes", 9007199254740991.0)));
  return info.Env().Undefined();
}

}  // namespace

bool buffers_with_deleters() { return kPooled; }

Napi::Value buffer_with_deleter(Napi::Env env, void* data, size_t bytes, BufferDeleter deleter, void* hint) {
  if (!kPooled) {
    deleter(data, bytes, hint);
    throw Napi::Error::New(env, "metalgrad: this Node build cannot make ArrayBuffers with deleters");
  }
#if !defined(V8_ENABLE_DIRECT_HANDLE) && !defined(V8_ENABLE_SANDBOX)
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::shared_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(data, bytes, deleter, hint);
  v8::Local<v8::ArrayBuffer> buffer = v8::ArrayBuffer::New(isolate, std::move(store));
  napi_value out = reinterpret_cast<napi_value>(*buffer);
  // The handle must read back as this very buffer through N-API.
  void* seen = nullptr;
  size_t seen_bytes = 0;
  if (napi_get_arraybuffer_info(env, out, &seen, &seen_bytes) != napi_ok || seen != data || seen_bytes != bytes) {
    throw Napi::Error::New(env, "metalgrad: this Node build's handles are not N-API values; buffers with deleters are unavailable");
  }
  return Napi::Value(env, out);
#else
  return env.Undefined();
#endif
}

void add_host_buffer_exports(Napi::Env env, Napi::Object exports) {
  if (kPooled) exports.Set("allocateHost", Napi::Function::New(env, AllocateHost, "allocateHost"));
  exports.Set("bufferCache", Napi::Function::New(env, BufferCache, "bufferCache"));
  exports.Set("setBufferCacheLimit", Napi::Function::New(env, SetBufferCacheLimit, "setBufferCacheLimit"));
}

}  // namespace metalgrad
