// ArrayBuffers whose memory goes back to its owner as soon as the garbage collector frees them, and
// the addon's host buffer exports (allocateHost, bufferCache, setBufferCacheLimit).
#pragma once

#include <napi.h>

#include <cstddef>

namespace metalgrad {

// Runs when V8 frees the ArrayBuffer, on any thread (never with a JS environment to use).
using BufferDeleter = void (*)(void* data, size_t bytes, void* hint);

// Whether this Node build can make ArrayBuffers with BufferDeleters (see host_buffers.cc).
bool buffers_with_deleters();

// An ArrayBuffer over `bytes` bytes at `data`, whose `deleter(data, bytes, hint)` runs as soon as
// the garbage collector frees it (N-API finalizers wait until the event loop turns, so a synchronous
// loop would never get memory back). Requires buffers_with_deleters(); throws a JS error otherwise.
Napi::Value buffer_with_deleter(Napi::Env env, void* data, size_t bytes, BufferDeleter deleter, void* hint);

void add_host_buffer_exports(Napi::Env env, Napi::Object exports);

}  // namespace metalgrad
