// The Metal host: one device and command queue per process, buffers in shared (unified) memory
// handed to JS as external ArrayBuffers, and a dispatch that encodes a plan's kernels into one
// command buffer and commits it without waiting; `sync` waits before the host reads results.
// Arguments are validated before anything is encoded; errors become JS exceptions.
#import <Foundation/Foundation.h>
#import <Metal/Metal.h>

#include "host.h"
#include "pipelines.h"
#include "../host_buffers.h"
#include "buffer_pool.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace metalgrad::metal {
namespace {

constexpr uint32_t kMaxBindings = 31;  // Metal's buffer argument table
constexpr uint32_t kMaxThreadgroupArgs = 31;  // threadgroup memory arguments of one kernel

struct Context {
  id<MTLDevice> device;
  id<MTLCommandQueue> queue;
  std::unique_ptr<PipelineCache> pipelines;
  std::mutex mutex;  // guards buffers, idle and pending (worker threads share the context)
  std::unordered_map<const void*, id<MTLBuffer>> buffers;  // by `contents`; owns each live buffer
  // Buffers whose ArrayBuffer the GC freed, by length, for `allocate` to reuse.
  std::unordered_map<NSUInteger, std::vector<id<MTLBuffer>>> idle;
  size_t idle_bytes = 0;
  std::vector<id<MTLCommandBuffer>> pending;               // committed, not yet waited for
};

// Created once by open() (worker threads share it) and kept until the process exits.
std::atomic<Context*> context{nullptr};
std::mutex open_mutex;

[[noreturn]] void fail(Napi::Env env, const std::string& message) {
  throw Napi::Error::New(env, "metalgrad metal " + message);
}

Context& require_context(Napi::Env env, const char* fn) {
  Context* ctx = context.load();
  if (!ctx) fail(env, std::string(fn) + ": the Metal device is not open (call open first)");
  return *ctx;
}

uint32_t byte_count(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsNumber()) fail(env, what + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0 && d <= 4294967295.0) || d != static_cast<double>(static_cast<uint64_t>(d))) {
    fail(env, what + " must be a non-negative integer below 2^32, received " + std::to_string(d));
  }
  return static_cast<uint32_t>(d);
}

// open(cacheDir: string): {name, maxBufferLength, apple7, archivePath, archiveError}
// Idempotent; an empty cacheDir turns the disk cache off. Throws when there is no Metal device.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) fail(env, "open: expected one string argument (the cache directory)");
  @autoreleasepool {
    std::lock_guard<std::mutex> lock(open_mutex);
    if (!context.load()) {
      // Returns nil unless CoreGraphics is linked (binding.gyp links it), per Apple's documentation.
      id<MTLDevice> device = MTLCreateSystemDefaultDevice();
      if (!device) fail(env, "open: no Metal device (MTLCreateSystemDefaultDevice returned nil)");
      std::string dir = info[0].As<Napi::String>().Utf8Value();
      std::string name = [[device name] UTF8String];
      std::string file;
      for (char c : name) file += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
      auto* ctx = new Context();
      ctx->device = device;
      ctx->queue = [device newCommandQueue];
      ctx->pipelines = std::make_unique<PipelineCache>(device, dir.empty() ? "" : dir + "/pipelines-" + file + ".bin");
      context.store(ctx);
    }
    Context& ctx = *context.load();
    Napi::Object out = Napi::Object::New(env);
    PipelineStats stats = ctx.pipelines->stats();
    out.Set("name", std::string([[ctx.device name] UTF8String]));
    out.Set("maxBufferLength", static_cast<double>([ctx.device maxBufferLength]));
    out.Set("apple7", static_cast<bool>([ctx.device supportsFamily:MTLGPUFamilyApple7]));
    out.Set("archivePath", stats.archive_path);
    out.Set("archiveError", stats.archive_error);
    return out;
  }
}

// Runs when V8 frees an ArrayBuffer from `allocate`, on any thread: the MTLBuffer joins the idle
// list for its length, or is released (its last reference here; command buffers retain what they
// still use) once the idle bytes would pass the host buffer cache's limit (setCacheLimit).
void recycle(void* data, size_t /*bytes*/, void* hint) {
  auto* ctx = static_cast<Context*>(hint);
  std::lock_guard<std::mutex> lock(ctx->mutex);
  auto it = ctx->buffers.find(data);
  if (it == ctx->buffers.end()) return;
  id<MTLBuffer> buffer = it->second;
  ctx->buffers.erase(it);
  const NSUInteger length = [buffer length];
  if (ctx->idle_bytes + length <= cpu::host_buffer_pool().limit()) {
    ctx->idle[length].push_back(buffer);
    ctx->idle_bytes += length;
  }
}

// An idle buffer of exactly `length` bytes, or nil. Only when no command buffer is in flight: one
// could still be reading or writing a buffer whose ArrayBuffer JS has already dropped.
id<MTLBuffer> reuse(Context& ctx, NSUInteger length) {
  std::lock_guard<std::mutex> lock(ctx.mutex);
  auto it = ctx.idle.find(length);
  if (!ctx.pending.empty() || it == ctx.idle.end() || it->second.empty()) return nil;
  id<MTLBuffer> buffer = it->second.back();
  it->second.pop_back();
  ctx.idle_bytes -= length;
  return buffer;
}

// allocate(bytes: number): ArrayBuffer over a shared-storage MTLBuffer (a recycled one where this
// Node build allows: see native/host_buffers.h), given back when the GC frees the ArrayBuffer.
Napi::Value Allocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Context& ctx = require_context(env, "allocate");
  if (info.Length() != 1) fail(env, "allocate: expected one argument (a byte count)");
  uint32_t bytes = byte_count(env, info[0], "allocate: bytes");
  NSUInteger max = [ctx.device maxBufferLength];
  if (bytes > max) fail(env, "allocate: " + std::to_string(bytes) + " bytes exceed the device's maximum buffer length (" + std::to_string(max) + ")");
  const NSUInteger length_wanted = std::max<NSUInteger>(bytes, 16);
  const bool recyclable = buffers_with_deleters();
  id<MTLBuffer> buffer = recyclable ? reuse(ctx, length_wanted) : nil;
  if (!buffer) buffer = [ctx.device newBufferWithLength:length_wanted options:MTLResourceStorageModeShared];
  if (!buffer) fail(env, "allocate: out of GPU memory: could not allocate a buffer of " + std::to_string(bytes) + " bytes");
  void* contents = [buffer contents];
  {
    std::lock_guard<std::mutex> lock(ctx.mutex);
    ctx.buffers[contents] = buffer;
  }
  if (recyclable) return buffer_with_deleter(env, contents, bytes, recycle, &ctx);
  int64_t length = static_cast<int64_t>([buffer length]);
  Napi::MemoryManagement::AdjustExternalMemory(env, length);
  return Napi::ArrayBuffer::New(env, contents, bytes, [length, &ctx](Napi::Env env, void* data) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -length);
    std::lock_guard<std::mutex> lock(ctx.mutex);
    ctx.buffers.erase(data);  // drops the last reference: command buffers retain what they use
  });
}

// compile(source: string, fn: string): number, a pipeline handle.
Napi::Value Compile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Context& ctx = require_context(env, "compile");
  if (info.Length() != 2 || !info[0].IsString() || !info[1].IsString()) {
    fail(env, "compile: expected (source: string, functionName: string)");
  }
  @autoreleasepool {
    try {
      return Napi::Number::New(env, ctx.pipelines->get(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value()));
    } catch (const std::exception& e) {
      fail(env, std::string("compile: ") + e.what());
    }
  }
}

struct Binding {
  id<MTLBuffer> buffer;
  NSUInteger offset;
};

struct Launch {
  id<MTLComputePipelineState> pipeline;
  uint32_t groups;
  uint32_t group_size;
  std::vector<NSUInteger> threadgroup_memory;  // bytes at [[threadgroup(i)]]
  std::vector<Binding> bindings;
};

// The MTLBuffer under a typed array allocated by `allocate`, and the array's offset in it.
Binding binding_of(Napi::Env env, Context& ctx, const Napi::Value& v, const std::string& what) {
  if (!v.IsTypedArray()) fail(env, "dispatch: " + what + " must be a typed array");
  auto t = v.As<Napi::TypedArray>();
  const void* data = t.ArrayBuffer().Data();
  std::lock_guard<std::mutex> lock(ctx.mutex);
  auto it = ctx.buffers.find(data);
  if (it == ctx.buffers.end()) fail(env, "dispatch: " + what + " is not a Metal buffer (allocate it with allocate)");
  return Binding{it->second, t.ByteOffset()};
}

// dispatch(launches: Int32Array, bufs: TypedArray[]): undefined
// launches = [count, then per launch: pipeline, groups, groupSize, simdWidth, nmem, bytes * nmem,
// nbind, bufIndex * nbind]: a 1-D grid of `groups` threadgroups of `groupSize` threads, threadgroup
// memory block i of `bytes` at [[threadgroup(i)]], buffer i at [[buffer(i)]]. simdWidth is the
// SIMD-group width the kernel's SIMD-group functions assume (0: none). Every launch is checked
// against its pipeline and the device before anything is encoded.
Napi::Value Dispatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Context& ctx = require_context(env, "dispatch");
  if (info.Length() != 2 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array || !info[1].IsArray()) {
    fail(env, "dispatch: expected (launches: Int32Array, bufs: TypedArray[])");
  }
  auto code = info[0].As<Napi::Int32Array>();
  auto bufs = info[1].As<Napi::Array>();
  size_t n = code.ElementLength(), at = 1;
  auto next = [&](const char* field, size_t launch) -> int32_t {
    if (at >= n) fail(env, "dispatch: launch " + std::to_string(launch) + " is truncated at " + field);
    return code[at++];
  };
  if (n < 1 || code[0] < 0) fail(env, "dispatch: launches must start with a non-negative count");
  std::vector<Launch> launches(static_cast<size_t>(code[0]));
  for (size_t l = 0; l < launches.size(); ++l) {
    Launch& launch = launches[l];
    const std::string which = "dispatch: launch " + std::to_string(l);
    int32_t handle = next("pipeline", l);
    launch.pipeline = ctx.pipelines->pipeline(handle);
    if (!launch.pipeline) fail(env, which + " has an unknown pipeline " + std::to_string(handle));
    int32_t groups = next("groups", l), group_size = next("groupSize", l), simd_width = next("simdWidth", l);
    if (groups < 0) fail(env, which + " has a negative threadgroup count");
    NSUInteger max_threads = [launch.pipeline maxTotalThreadsPerThreadgroup];
    if (group_size < 1 || static_cast<NSUInteger>(group_size) > max_threads) {
      fail(env, which + " needs " + std::to_string(group_size) + " threads per threadgroup, but its pipeline allows 1 to " + std::to_string(max_threads));
    }
    NSUInteger width = [launch.pipeline threadExecutionWidth];
    if (simd_width != 0 && static_cast<NSUInteger>(simd_width) != width) {
      fail(env, which + " assumes " + std::to_string(simd_width) + "-lane SIMD-groups, but the GPU runs " + std::to_string(width));
    }
    launch.groups = static_cast<uint32_t>(groups);
    launch.group_size = static_cast<uint32_t>(group_size);
    int32_t nmem = next("nmem", l);
    if (nmem < 0 || static_cast<uint32_t>(nmem) > kMaxThreadgroupArgs) fail(env, which + " has " + std::to_string(nmem) + " threadgroup memory blocks (at most 31)");
    NSUInteger total = [launch.pipeline staticThreadgroupMemoryLength];
    for (int32_t i = 0; i < nmem; ++i) {
      int32_t bytes = next("threadgroup memory bytes", l);
      if (bytes <= 0 || bytes % 16 != 0) fail(env, which + " asks for " + std::to_string(bytes) + " bytes of threadgroup memory (a positive multiple of 16)");
      launch.threadgroup_memory.push_back(static_cast<NSUInteger>(bytes));
      total += static_cast<NSUInteger>(bytes);
    }
    NSUInteger max_memory = [ctx.device maxThreadgroupMemoryLength];
    if (total > max_memory) fail(env, which + " needs " + std::to_string(total) + " bytes of threadgroup memory; the device has " + std::to_string(max_memory));
    int32_t nbind = next("nbind", l);
    if (nbind < 0 || static_cast<uint32_t>(nbind) > kMaxBindings) fail(env, which + " binds " + std::to_string(nbind) + " buffers (at most 31)");
    for (int32_t b = 0; b < nbind; ++b) {
      int32_t index = next("a buffer index", l);
      if (index < 0 || static_cast<uint32_t>(index) >= bufs.Length()) fail(env, which + " binds buffer " + std::to_string(index) + " of " + std::to_string(bufs.Length()));
      launch.bindings.push_back(binding_of(env, ctx, bufs.Get(static_cast<uint32_t>(index)), "bufs[" + std::to_string(index) + "]"));
    }
  }
  if (at != n) fail(env, "dispatch: " + std::to_string(n - at) + " trailing ints after the last launch");
  @autoreleasepool {
    id<MTLCommandBuffer> cb = [ctx.queue commandBuffer];
    id<MTLComputeCommandEncoder> encoder = [cb computeCommandEncoder];
    for (const Launch& launch : launches) {
      if (launch.groups == 0) continue;
      [encoder setComputePipelineState:launch.pipeline];
      for (size_t b = 0; b < launch.bindings.size(); ++b) {
        [encoder setBuffer:launch.bindings[b].buffer offset:launch.bindings[b].offset atIndex:b];
      }
      for (size_t i = 0; i < launch.threadgroup_memory.size(); ++i) {
        [encoder setThreadgroupMemoryLength:launch.threadgroup_memory[i] atIndex:i];
      }
      // Kernels check their bounds: threads of the last group past the work do nothing.
      [encoder dispatchThreadgroups:MTLSizeMake(launch.groups, 1, 1) threadsPerThreadgroup:MTLSizeMake(launch.group_size, 1, 1)];
    }
    [encoder endEncoding];
    [cb commit];
    std::lock_guard<std::mutex> lock(ctx.mutex);
    ctx.pending.push_back(cb);
  }
  return env.Undefined();
}

// sync(): waits for every committed command buffer; throws if one failed (e.g. out of GPU memory).
Napi::Value Sync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Context& ctx = require_context(env, "sync");
  std::vector<id<MTLCommandBuffer>> pending;
  {
    std::lock_guard<std::mutex> lock(ctx.mutex);
    pending.swap(ctx.pending);
  }
  @autoreleasepool {
    std::string errors;
    for (id<MTLCommandBuffer> cb : pending) {
      [cb waitUntilCompleted];
      if ([cb status] == MTLCommandBufferStatusError) {
        NSError* error = [cb error];
        errors += error ? [[error localizedDescription] UTF8String] : "unknown error";
      }
    }
    if (!errors.empty()) fail(env, "sync: a command buffer failed: " + errors);
  }
  return env.Undefined();
}

// stats(): what the pipeline cache did in this process.
Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  PipelineStats s = require_context(env, "stats").pipelines->stats();
  Napi::Object out = Napi::Object::New(env);
  out.Set("compiled", static_cast<double>(s.compiled));
  out.Set("archiveHits", static_cast<double>(s.archive_hits));
  out.Set("memoryHits", static_cast<double>(s.memory_hits));
  out.Set("archivePath", s.archive_path);
  out.Set("archiveError", s.archive_error);
  return out;
}

}  // namespace

Napi::Object Exports(Napi::Env env) {
  Napi::Object metal = Napi::Object::New(env);
  metal.Set("open", Napi::Function::New(env, Open, "open"));
  metal.Set("allocate", Napi::Function::New(env, Allocate, "allocate"));
  metal.Set("compile", Napi::Function::New(env, Compile, "compile"));
  metal.Set("dispatch", Napi::Function::New(env, Dispatch, "dispatch"));
  metal.Set("sync", Napi::Function::New(env, Sync, "sync"));
  metal.Set("stats", Napi::Function::New(env, Stats, "stats"));
  return metal;
}

}  // namespace metalgrad::metal
