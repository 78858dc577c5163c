// Pipeline compilation and caching (see pipelines.h). Fast math is off: generated kernels must give
// the CPU path's IEEE results (NaN propagation, no reassociation).
#import "pipelines.h"

#include <cstdio>
#include <filesystem>
#include <system_error>
#include <stdexcept>
#include <unistd.h>

namespace metalgrad::metal {
namespace {

std::string describe(NSError* error) {
  return error ? std::string([[error localizedDescription] UTF8String]) : std::string("unknown error");
}

NSURL* file_url(const std::string& path) {
  return [NSURL fileURLWithPath:[NSString stringWithUTF8String:path.c_str()]];
}

MTLCompileOptions* safe_math_options() {
  MTLCompileOptions* options = [MTLCompileOptions new];
#if __MAC_OS_X_VERSION_MAX_ALLOWED >= 150000  // mathMode exists from the macOS 15 SDK on
  if (@available(macOS 15.0, *)) {
    options.mathMode = MTLMathModeSafe;
    return options;
  }
#endif
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wdeprecated-declarations"
  options.fastMathEnabled = NO;
#pragma clang diagnostic pop
  return options;
}

}  // namespace

PipelineCache::PipelineCache(id<MTLDevice> device, const std::string& archive_path) : device_(device) {
  stats_.archive_path = archive_path;
  if (archive_path.empty()) return;
  std::error_code created;
  std::filesystem::create_directories(std::filesystem::path(archive_path).parent_path(), created);
  if (created) {
    stats_.archive_error = "could not create the cache directory of " + archive_path + ": " + created.message();
    stats_.archive_path.clear();
    return;
  }
  MTLBinaryArchiveDescriptor* desc = [MTLBinaryArchiveDescriptor new];
  if (access(archive_path.c_str(), R_OK) == 0) desc.url = file_url(archive_path);
  NSError* error = nil;
  archive_ = [device_ newBinaryArchiveWithDescriptor:desc error:&error];
  if (!archive_ && desc.url) {
    // Unreadable (another OS or GPU, or a torn file): start afresh; the next save replaces it.
    stats_.archive_error = "could not read " + archive_path + ": " + describe(error);
    desc.url = nil;
    archive_ = [device_ newBinaryArchiveWithDescriptor:desc error:&error];
  }
  if (!archive_) {
    stats_.archive_error = "could not create a binary archive: " + describe(error);
    stats_.archive_path.clear();
  }
}

int PipelineCache::get(const std::string& source, const std::string& function) {
  std::string key = function + '\0' + source;
  std::shared_ptr<Entry> entry;
  bool owner = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      ++stats_.memory_hits;
      entry = it->second;
    } else {
      entry = std::make_shared<Entry>();
      entry->result = entry->promise.get_future().share();
      entries_.emplace(key, entry);
      owner = true;
    }
  }
  // The first requester compiles outside the lock; others (worker threads) wait for its result.
  if (owner) {
    try {
      id<MTLComputePipelineState> state = build(source, function);
      std::lock_guard<std::mutex> lock(mutex_);
      pipelines_.push_back(state);
      entry->promise.set_value(static_cast<int>(pipelines_.size()) - 1);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      entries_.erase(key);  // a later request compiles again and reports its own error
      entry->promise.set_exception(std::current_exception());
    }
  }
  return entry->result.get();
}

id<MTLComputePipelineState> PipelineCache::pipeline(int handle) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (handle < 0 || static_cast<size_t>(handle) >= pipelines_.size()) return nil;
  return pipelines_[handle];
}

PipelineStats PipelineCache::stats() {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

id<MTLComputePipelineState> PipelineCache::build(const std::string& source, const std::string& function) {
  NSError* error = nil;
  id<MTLLibrary> library = [device_ newLibraryWithSource:[NSString stringWithUTF8String:source.c_str()]
                                                 options:safe_math_options()
                                                   error:&error];
  if (!library) throw std::runtime_error("MSL compile error: " + describe(error));
  id<MTLFunction> fn = [library newFunctionWithName:[NSString stringWithUTF8String:function.c_str()]];
  if (!fn) throw std::runtime_error("the compiled MSL has no kernel function named " + function);
  MTLComputePipelineDescriptor* desc = [MTLComputePipelineDescriptor new];
  desc.computeFunction = fn;
  if (archive_) {
    desc.binaryArchives = @[ archive_ ];
    id<MTLComputePipelineState> cached = [device_ newComputePipelineStateWithDescriptor:desc
                                                                                 options:MTLPipelineOptionFailOnBinaryArchiveMiss
                                                                              reflection:nil
                                                                                   error:nil];
    if (cached) {
      std::lock_guard<std::mutex> lock(mutex_);
      ++stats_.archive_hits;
      return cached;
    }
  }
  id<MTLComputePipelineState> state = [device_ newComputePipelineStateWithDescriptor:desc
                                                                              options:MTLPipelineOptionNone
                                                                           reflection:nil
                                                                                error:&error];
  if (!state) throw std::runtime_error("pipeline creation failed: " + describe(error));
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.compiled;
  if (archive_) {
    if ([archive_ addComputePipelineFunctionsWithDescriptor:desc error:&error]) {
      save_archive();
    } else {
      stats_.archive_error = "could not add a pipeline to the binary archive: " + describe(error);
    }
  }
  return state;
}

// Writes next to the archive and renames over it, so a concurrent reader never sees a torn file.
void PipelineCache::save_archive() {
  const std::string& path = stats_.archive_path;
  std::string tmp = path + ".tmp" + std::to_string(getpid());
  NSError* error = nil;
  if (![archive_ serializeToURL:file_url(tmp) error:&error]) {
    stats_.archive_error = "could not write " + tmp + ": " + describe(error);
  } else if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    stats_.archive_error = "could not rename " + tmp + " to " + path;
    std::remove(tmp.c_str());
  }
}

}  // namespace metalgrad::metal
