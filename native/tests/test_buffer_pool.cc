// The host buffer pool: buffers are page-aligned, rounded to pages or 2 MiB steps, recycled by capacity, released
// to the OS beyond the idle limit, and safe to release from other threads.
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "buffer_pool.h"
#include "harness.h"

using namespace metalgrad::cpu;

TEST(buffer_pool_capacities) {
  CHECK_EQ(BufferPool::capacity_for(0), size_t{4096});
  CHECK_EQ(BufferPool::capacity_for(1), size_t{4096});
  CHECK_EQ(BufferPool::capacity_for(4097), size_t{8192});
  CHECK_EQ(BufferPool::capacity_for((size_t{2} << 20) - 1), size_t{2} << 20);
  CHECK_EQ(BufferPool::capacity_for((size_t{2} << 20) + 1), size_t{4} << 20);
  CHECK_EQ(BufferPool::capacity_for(size_t{64} << 20), size_t{64} << 20);
}

TEST(buffer_pool_recycles_by_capacity) {
  BufferPool pool(size_t{64} << 20);
  const size_t big = (size_t{5} << 20) + 3;
  void* a = pool.acquire(big);
  CHECK(reinterpret_cast<uintptr_t>(a) % 4096 == 0);
  std::memset(a, 7, big);  // the whole request is writable
  CHECK_EQ(pool.live_bytes(), size_t{6} << 20);
  pool.release(a, big);
  CHECK_EQ(pool.live_bytes(), size_t{0});
  CHECK_EQ(pool.idle_bytes(), size_t{6} << 20);
  // A request of the same capacity gets the same memory back, contents untouched.
  void* b = pool.acquire(size_t{6} << 20);
  CHECK(b == a);
  CHECK_EQ(static_cast<unsigned char*>(b)[big - 1], 7);
  CHECK_EQ(pool.idle_bytes(), size_t{0});
  // Another capacity does not.
  void* c = pool.acquire(100);
  CHECK(c != a);
  CHECK(reinterpret_cast<uintptr_t>(c) % 4096 == 0);
  pool.release(c, 100);
  pool.release(b, size_t{6} << 20);
  CHECK_EQ(pool.idle_bytes(), (size_t{6} << 20) + 4096);
  pool.trim();
  CHECK_EQ(pool.idle_bytes(), size_t{0});
}

TEST(buffer_pool_keeps_at_most_its_limit_idle) {
  BufferPool pool(size_t{4} << 20);
  std::vector<void*> held;
  for (int i = 0; i < 3; ++i) held.push_back(pool.acquire(size_t{2} << 20));
  for (void* p : held) pool.release(p, size_t{2} << 20);
  CHECK_EQ(pool.idle_bytes(), size_t{4} << 20);  // the first released went back to the OS
  // The most recently released come back first.
  CHECK(pool.acquire(size_t{2} << 20) == held[2]);
  CHECK(pool.acquire(size_t{2} << 20) == held[1]);
  pool.release(held[1], size_t{2} << 20);
  pool.release(held[2], size_t{2} << 20);
  pool.set_limit(size_t{2} << 20);
  CHECK_EQ(pool.idle_bytes(), size_t{2} << 20);
  CHECK_EQ(pool.limit(), size_t{2} << 20);
  pool.set_limit(0);
  CHECK_EQ(pool.idle_bytes(), size_t{0});
}

TEST(buffer_pool_evicts_the_least_recent_of_any_size) {
  // Idle buffers of a size no longer asked for must not keep new sizes out of the cache.
  BufferPool pool(size_t{8} << 20);
  void* old_a = pool.acquire(size_t{4} << 20);
  void* old_b = pool.acquire(size_t{4} << 20);
  pool.release(old_a, size_t{4} << 20);
  pool.release(old_b, size_t{4} << 20);
  CHECK_EQ(pool.idle_bytes(), size_t{8} << 20);
  void* fresh = pool.acquire(size_t{6} << 20);
  pool.release(fresh, size_t{6} << 20);  // evicts old_a, then old_b
  CHECK_EQ(pool.idle_bytes(), size_t{6} << 20);
  CHECK(pool.acquire(size_t{6} << 20) == fresh);
  CHECK_EQ(pool.idle_bytes(), size_t{0});
  pool.release(fresh, size_t{6} << 20);
  // A buffer larger than the whole limit is never kept.
  void* huge = pool.acquire(size_t{10} << 20);
  pool.release(huge, size_t{10} << 20);
  CHECK_EQ(pool.idle_bytes(), size_t{6} << 20);
}

TEST(buffer_pool_is_thread_safe) {
  BufferPool pool(size_t{8} << 20);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, t] {
      for (int i = 0; i < 200; ++i) {
        const size_t bytes = size_t{4096} * static_cast<size_t>(1 + (i + t) % 5);
        auto* p = static_cast<unsigned char*>(pool.acquire(bytes));
        p[0] = p[bytes - 1] = static_cast<unsigned char>(t);
        pool.release(p, bytes);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(pool.idle_bytes() <= (size_t{8} << 20));
  CHECK_EQ(pool.live_bytes(), size_t{0});
}
