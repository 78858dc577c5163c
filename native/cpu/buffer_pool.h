// Large host buffers for plan outputs, recycled instead of returned to the OS.
//
// A fresh 64 MiB ArrayBuffer costs ~16k page faults and the kernel zeroing every page (tens of ms,
// more than the W1 chain itself); a buffer that comes back from the garbage collector is handed out
// again as is. Memory comes straight from mmap, page-aligned. Buffers handed out are NOT zeroed: only outputs that a plan writes completely
// may come from here. Thread-safe: V8 may free an ArrayBuffer on a background thread.
#pragma once

#include <cstddef>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace metalgrad::cpu {

class BufferPool {
 public:
  // `limit`: the most idle bytes kept for reuse; a buffer released beyond it goes back to the OS.
  explicit BufferPool(size_t limit);
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // The bytes actually reserved for a request of `bytes`: a whole number of 4 KiB pages, or of
  // 2 MiB from 2 MiB up.
  static size_t capacity_for(size_t bytes);

  // Memory for at least `bytes` bytes with capacity `capacity_for(bytes)`; a recycled buffer of that
  // capacity if one is idle. Throws std::bad_alloc when the OS has no memory left.
  void* acquire(size_t bytes);
  // Gives back a buffer from `acquire(bytes)` (the same `bytes`). Beyond the idle limit, the
  // least recently released idle buffers go back to the OS first.
  void release(void* data, size_t bytes);

  void set_limit(size_t limit);
  size_t limit() const;
  size_t idle_bytes() const;
  // Bytes handed out by acquire and not yet released.
  size_t live_bytes() const;
  // Returns every idle buffer to the OS.
  void trim();

 private:
  using Idle = std::list<std::pair<size_t, void*>>;  // (capacity, memory), most recent first

  // Unmaps idle buffers, least recent first, until the idle bytes fit `limit_`. Holds mu_.
  void evict_locked(std::vector<std::pair<size_t, void*>>& out);

  mutable std::mutex mu_;
  size_t limit_;
  size_t idle_ = 0;
  size_t live_ = 0;
  Idle lru_;
  std::unordered_map<size_t, std::vector<Idle::iterator>> by_capacity_;  // most recent last
};

// The process-wide pool behind the addon's host buffers; its limit starts from
// METALGRAD_BUFFER_CACHE_MB (default 256 MiB).
BufferPool& host_buffer_pool();

}  // namespace metalgrad::cpu
