// The addon's host buffer exports: allocateHost, bufferCache, setBufferCacheLimit.
#pragma once

#include <napi.h>

namespace metalgrad {

void add_host_buffer_exports(Napi::Env env, Napi::Object exports);

}  // namespace metalgrad
