// Compute pipelines compiled from generated MSL: an in-process cache keyed by the source (each source
// compiled once per process; concurrent requests for one source wait for a single compile) over a
// persistent MTLBinaryArchive, so a later process finds the GPU binaries on disk.
#pragma once

#import <Metal/Metal.h>

#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace metalgrad::metal {

struct PipelineStats {
  int64_t compiled = 0;      // pipelines built by the GPU compiler in this process
  int64_t archive_hits = 0;  // pipelines found in the binary archive (no GPU compile)
  int64_t memory_hits = 0;   // requests answered by the in-process cache
  std::string archive_path;  // empty when the disk cache is off
  std::string archive_error; // the last problem reading or writing the archive
};

class PipelineCache {
 public:
  // `archive_path` empty disables the disk cache.
  PipelineCache(id<MTLDevice> device, const std::string& archive_path);

  // A handle for `pipeline()`. Throws std::runtime_error with the compiler's log on failure.
  int get(const std::string& source, const std::string& function);
  id<MTLComputePipelineState> pipeline(int handle);
  PipelineStats stats();

 private:
  struct Entry {
    std::promise<int> promise;
    std::shared_future<int> result;
  };
  id<MTLComputePipelineState> build(const std::string& source, const std::string& function);
  void save_archive();

  id<MTLDevice> device_;
  id<MTLBinaryArchive> archive_;
  std::mutex mutex_;  // guards everything below and archive updates
  std::unordered_map<std::string, std::shared_ptr<Entry>> entries_;  // hashed by the whole source
  std::vector<id<MTLComputePipelineState>> pipelines_;
  PipelineStats stats_;
};

}  // namespace metalgrad::metal
