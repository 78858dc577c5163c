// The Metal entry points of the addon (macOS builds only; binding.gyp defines METALGRAD_METAL).
// Plain C++ so that addon.cc can include it; the implementation is Objective-C++ (host.mm).
#pragma once

#include <napi.h>

namespace metalgrad::metal {

// The `metal` object of the addon: open, allocate, compile, dispatch, sync, stats.
Napi::Object Exports(Napi::Env env);

}  // namespace metalgrad::metal
