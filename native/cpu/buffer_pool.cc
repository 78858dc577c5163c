#include "buffer_pool.h"

#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <new>

namespace metalgrad::cpu {
namespace {

constexpr size_t kPage = 4096;
// Large requests are rounded to 2 MiB so that near sizes share buckets; pages never touched cost nothing.
constexpr size_t kLargeStep = size_t{2} << 20;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

// `bytes` of fresh anonymous memory. Huge pages are not requested: with THP in `madvise` mode the
// first touch of a large advised mapping may compact memory synchronously (measured 5x slower here).
void* map(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
  return p;
}

size_t limit_from_env() {
  const char* s = std::getenv("METALGRAD_BUFFER_CACHE_MB");
  if (s != nullptr && *s != '\0') {
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(s, &end, 10);
    if (end != nullptr && *end == '\0') return static_cast<size_t>(mb) << 20;
  }
  return size_t{256} << 20;
}

}  // namespace

BufferPool::BufferPool(size_t limit) : limit_(limit) {}

BufferPool::~BufferPool() { trim(); }

size_t BufferPool::capacity_for(size_t bytes) {
  return round_up(bytes == 0 ? 1 : bytes, bytes >= kLargeStep ? kLargeStep : kPage);
}

void* BufferPool::acquire(size_t bytes) {
  const size_t cap = capacity_for(bytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_capacity_.find(cap);
    if (it != by_capacity_.end() && !it->second.empty()) {
      Idle::iterator entry = it->second.back();
      it->second.pop_back();
      void* p = entry->second;
      lru_.erase(entry);
      idle_ -= cap;
      live_ += cap;
      return p;
    }
  }
  void* p = map(cap);
  std::lock_guard<std::mutex> lock(mu_);
  live_ += cap;
  return p;
}

void BufferPool::evict_locked(std::vector<std::pair<size_t, void*>>& out) {
  while (idle_ > limit_ && !lru_.empty()) {
    auto [cap, p] = lru_.back();
    std::vector<Idle::iterator>& same = by_capacity_[cap];
    // The least recent entry of a capacity is the first of its list.
    same.erase(same.begin());
    lru_.pop_back();
    idle_ -= cap;
    out.emplace_back(cap, p);
  }
}

void BufferPool::release(void* data, size_t bytes) {
  const size_t cap = capacity_for(bytes);
  std::vector<std::pair<size_t, void*>> drop;
  {
    std::lock_guard<std::mutex> lock(mu_);
    live_ -= cap;
    if (cap > limit_) {
      drop.emplace_back(cap, data);
    } else {
      lru_.emplace_front(cap, data);
      by_capacity_[cap].push_back(lru_.begin());
      idle_ += cap;
      evict_locked(drop);
    }
  }
  for (auto [c, p] : drop) munmap(p, c);
}

void BufferPool::set_limit(size_t limit) {
  std::vector<std::pair<size_t, void*>> drop;
  {
    std::lock_guard<std::mutex> lock(mu_);
    limit_ = limit;
    evict_locked(drop);
  }
  for (auto [c, p] : drop) munmap(p, c);
}

size_t BufferPool::limit() const {
  std::lock_guard<std::mutex> lock(mu_);
  return limit_;
}

size_t BufferPool::idle_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return idle_;
}

size_t BufferPool::live_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_;
}

void BufferPool::trim() {
  std::vector<std::pair<size_t, void*>> drop;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& entry : lru_) drop.push_back(entry);
    lru_.clear();
    by_capacity_.clear();
    idle_ = 0;
  }
  for (auto [c, p] : drop) munmap(p, c);
}

BufferPool& host_buffer_pool() {
  // Never destroyed: V8 may free ArrayBuffers (and so release into the pool) during shutdown.
  static BufferPool* pool = new BufferPool(limit_from_env());
  return *pool;
}

}  // namespace metalgrad::cpu
