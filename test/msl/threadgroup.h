// @file Threadgroup execution for the Linux MSL stand-in (metal_stdlib in this folder). A dispatch runs
// its threadgroups one after another; within a group every thread is a fiber (ucontext) with its own
// stack, and the scheduler switches fibers only where Metal threads synchronise:
// `threadgroup_barrier` (every thread of the group must arrive, none may have returned) and the
// SIMD-group functions (the live lanes of a 32-lane SIMD-group exchange values). Between such points
// threads run one at a time, in an order that alternates between phases, so a read of another
// thread's write that lacks a barrier sees stale or poisoned data. Threadgroup memory is filled with
// 0xFF bytes (NaN as float) before each group, so a read of memory no thread wrote fails too.
// Violations print a message and exit with status 4.
#pragma once

#include <ucontext.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <type_traits>
#include <vector>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MGEMU_ASAN 1
#include <sanitizer/common_interface_defs.h>
#endif
#endif

namespace mgemu {

constexpr unsigned kSimdWidth = 32;

// The built-in positions of one thread of a 1-D dispatch, as the kernel attributes name them.
struct Thread {
  unsigned grid;       // [[thread_position_in_grid]]
  unsigned group;      // [[threadgroup_position_in_grid]]
  unsigned local;      // [[thread_position_in_threadgroup]]
  unsigned lane;       // [[thread_index_in_simdgroup]]
  unsigned simdgroup;  // [[simdgroup_index_in_threadgroup]]
};

using Body = std::function<void(const Thread&, char** threadgroup_memory)>;

[[noreturn]] inline void fail(unsigned group, unsigned thread, const char* what) {
  std::fprintf(stderr, "metal emulation: threadgroup %u, thread %u: %s\n", group, thread, what);
  std::fflush(stderr);
  std::_Exit(4);
}

enum class State { runnable, barrier, collective, done };

struct Fiber {
  ucontext_t context;
  State state = State::done;
  const char* collective = nullptr;  // the SIMD-group function it waits in
  uint64_t operand[2] = {0, 0};      // its operand, double-buffered by the parity of `rounds`
  unsigned rounds = 0;               // SIMD-group functions entered
  void* fake_stack = nullptr;        // ASan's bookkeeping across switches
};

// One threadgroup at a time; `current` is the group being run (the emulation is single-threaded).
class Scheduler {
 public:
  static constexpr size_t kStackBytes = 256 * 1024;

  void run(unsigned group, unsigned size, const Body& body, char** memory) {
    if (fibers_.size() < size) {
      fibers_.resize(size);
      while (stacks_.size() < size) stacks_.emplace_back(new char[kStackBytes]);
    }
    group_ = group;
    size_ = size;
    body_ = &body;
    memory_ = memory;
    for (unsigned t = 0; t < size; ++t) {
      Fiber& f = fibers_[t];
      f.state = State::runnable;
      f.rounds = 0;
      f.fake_stack = nullptr;
      getcontext(&f.context);
      f.context.uc_stack.ss_sp = stacks_[t].get();
      f.context.uc_stack.ss_size = kStackBytes;
      f.context.uc_link = nullptr;
      makecontext(&f.context, &Scheduler::entry, 0);
    }
    for (int i = 0; i < 2; ++i) released_[i].assign((size + kSimdWidth - 1) / kSimdWidth, 0);
    for (unsigned phase = 0;; ++phase) {
      for (unsigned i = 0; i < size; ++i) {
        unsigned t = phase % 2 == 0 ? i : size - 1 - i;
        if (fibers_[t].state == State::runnable) resume(t);
      }
      if (release_collectives()) continue;
      unsigned done = 0, waiting = 0, returned = 0;
      for (unsigned t = 0; t < size; ++t) {
        if (fibers_[t].state == State::done) ++done, returned = t;
        if (fibers_[t].state == State::barrier) ++waiting;
      }
      if (done == size) return;
      if (waiting + done != size) deadlock();
      if (done > 0) fail(group, returned, "returned while other threads of its group wait at a threadgroup_barrier");
      for (unsigned t = 0; t < size; ++t) fibers_[t].state = State::runnable;
    }
  }

  // Called by a running thread: wait until every thread of the group arrives.
  void barrier() {
    fibers_[running_].state = State::barrier;
    yield();
  }

  // A SIMD-group function: every live lane of the caller's SIMD-group deposits its operand and waits
  // in the same function; then each lane computes its result from the lanes that took part.
  template <class T, class F>
  T collective(const char* name, T x, F result) {
    static_assert(sizeof(T) <= sizeof(uint64_t) && std::is_trivially_copyable_v<T>, "collective: operand too large");
    Fiber& f = fibers_[running_];
    const unsigned parity = f.rounds++ % 2;
    f.operand[parity] = 0;
    std::memcpy(&f.operand[parity], &x, sizeof x);
    f.collective = name;
    f.state = State::collective;
    yield();
    const unsigned me = running_, base = me / kSimdWidth * kSimdWidth;
    const uint32_t lanes = released_[parity][me / kSimdWidth];
    T values[kSimdWidth];
    bool active[kSimdWidth];
    for (unsigned l = 0; l < kSimdWidth; ++l) {
      active[l] = (lanes >> l) & 1u;
      std::memset(&values[l], 0xFF, sizeof(T));
      if (active[l]) std::memcpy(&values[l], &fibers_[base + l].operand[parity], sizeof(T));
    }
    return result(values, active, me - base);
  }

  bool inside() const { return body_ != nullptr; }
  void finish() { body_ = nullptr; }

 private:
  static void entry();

  void resume(unsigned t) {
    running_ = t;
#ifdef MGEMU_ASAN
    __sanitizer_start_switch_fiber(&main_fake_stack_, stacks_[t].get(), kStackBytes);
#endif
    swapcontext(&main_, &fibers_[t].context);
#ifdef MGEMU_ASAN
    __sanitizer_finish_switch_fiber(main_fake_stack_, nullptr, nullptr);
#endif
  }

  // From a fiber back to the scheduler; returns when the scheduler resumes this fiber.
  void yield() {
    Fiber& f = fibers_[running_];
#ifdef MGEMU_ASAN
    __sanitizer_start_switch_fiber(f.state == State::done ? nullptr : &f.fake_stack, main_stack_, main_stack_bytes_);
#endif
    swapcontext(&f.context, &main_);
#ifdef MGEMU_ASAN
    __sanitizer_finish_switch_fiber(f.fake_stack, &main_stack_, &main_stack_bytes_);
#endif
  }

  // Releases every SIMD-group whose live lanes all wait in one SIMD-group function.
  bool release_collectives() {
    bool any = false;
    for (unsigned base = 0; base < size_; base += kSimdWidth) {
      uint32_t lanes = 0;
      const char* name = nullptr;
      bool ready = true;
      for (unsigned l = 0; l < kSimdWidth && base + l < size_; ++l) {
        const Fiber& f = fibers_[base + l];
        if (f.state == State::done) continue;
        if (f.state != State::collective) {
          ready = false;
          break;
        }
        if (name && std::strcmp(name, f.collective) != 0) fail(group_, base + l, "lanes of one SIMD-group wait in different SIMD-group functions");
        if (name && f.rounds != fibers_[base + __builtin_ctz(lanes)].rounds) fail(group_, base + l, "lanes of one SIMD-group wait in different calls of a SIMD-group function");
        name = f.collective;
        lanes |= 1u << l;
      }
      if (!ready || lanes == 0) continue;
      const unsigned parity = (fibers_[base + __builtin_ctz(lanes)].rounds - 1) % 2;
      released_[parity][base / kSimdWidth] = lanes;
      for (unsigned l = 0; l < kSimdWidth; ++l) {
        if ((lanes >> l) & 1u) fibers_[base + l].state = State::runnable;
      }
      any = true;
    }
    return any;
  }

  [[noreturn]] void deadlock() {
    for (unsigned t = 0; t < size_; ++t) {
      if (fibers_[t].state == State::collective) fail(group_, t, "waits in a SIMD-group function while other lanes of its SIMD-group wait at a threadgroup_barrier");
    }
    fail(group_, 0, "deadlock");
  }

  std::vector<Fiber> fibers_;
  std::vector<std::unique_ptr<char[]>> stacks_;
  std::vector<uint32_t> released_[2];  // per SIMD-group: the lanes released from its last collective
  ucontext_t main_;
  void* main_fake_stack_ = nullptr;
  const void* main_stack_ = nullptr;
  size_t main_stack_bytes_ = 0;
  unsigned group_ = 0, size_ = 0, running_ = 0;
  const Body* body_ = nullptr;
  char** memory_ = nullptr;
};

inline Scheduler scheduler;

inline void Scheduler::entry() {
  Scheduler& s = scheduler;
#ifdef MGEMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &s.main_stack_, &s.main_stack_bytes_);
#endif
  const unsigned t = s.running_;
  (*s.body_)(Thread{s.group_ * s.size_ + t, s.group_, t, t % kSimdWidth, t / kSimdWidth}, s.memory_);
  s.fibers_[t].state = State::done;
  s.yield();
  fail(s.group_, t, "a finished thread was resumed");
}

// Runs `body` for every thread of `groups` threadgroups of `size` threads. `memory[i]` bytes of
// threadgroup memory are bound at [[threadgroup(i)]], poisoned before each group. Kernels that never
// synchronise (`cooperative` false) run thread after thread without fibers; a barrier or SIMD-group
// function there fails loudly.
inline void dispatch(unsigned groups, unsigned size, bool cooperative, const std::vector<size_t>& memory, const Body& body) {
  std::vector<std::vector<char>> blocks;
  std::vector<char*> pointers;
  for (size_t bytes : memory) blocks.emplace_back(bytes);
  for (auto& b : blocks) pointers.push_back(b.data());
  for (unsigned g = 0; g < groups; ++g) {
    for (auto& b : blocks) std::memset(b.data(), 0xFF, b.size());
    if (cooperative) {
      scheduler.run(g, size, body, pointers.data());
      scheduler.finish();
    } else {
      for (unsigned t = 0; t < size; ++t) body(Thread{g * size + t, g, t, t % kSimdWidth, t / kSimdWidth}, pointers.data());
    }
  }
}

inline Scheduler& running(const char* what) {
  if (!scheduler.inside()) {
    std::fprintf(stderr, "metal emulation: %s called by a kernel dispatched as non-cooperative\n", what);
    std::fflush(stderr);
    std::_Exit(4);
  }
  return scheduler;
}

// Integer sums and products wrap, as on the GPU (no signed overflow in the emulation).
template <class T>
T wrap_add(T a, T b) {
  if constexpr (std::is_integral_v<T>) return T(std::make_unsigned_t<T>(a) + std::make_unsigned_t<T>(b));
  else return a + b;
}
template <class T>
T wrap_mul(T a, T b) {
  if constexpr (std::is_integral_v<T>) return T(std::make_unsigned_t<T>(a) * std::make_unsigned_t<T>(b));
  else return a * b;
}

// A reduction over the lanes that take part, in lane order.
template <class T, class Op>
T over_lanes(const char* name, T x, Op op) {
  return running(name).collective(name, x, [op](const T* v, const bool* active, unsigned) {
    bool first = true;
    T acc{};
    for (unsigned l = 0; l < kSimdWidth; ++l) {
      if (!active[l]) continue;
      acc = first ? v[l] : op(acc, v[l]);
      first = false;
    }
    return acc;
  });
}

}  // namespace mgemu

namespace metal {

enum class mem_flags { mem_none = 0, mem_device = 1, mem_threadgroup = 2, mem_texture = 4 };

inline void threadgroup_barrier(mem_flags) { mgemu::running("threadgroup_barrier").barrier(); }

template <class T>
T simd_sum(T x) {
  return mgemu::over_lanes("simd_sum", x, [](T a, T b) { return mgemu::wrap_add(a, b); });
}
template <class T>
T simd_product(T x) {
  return mgemu::over_lanes("simd_product", x, [](T a, T b) { return mgemu::wrap_mul(a, b); });
}
// Integers only: Metal leaves NaN handling of the float forms open, so generated kernels fold floats
// with mg_max/mg_min over simd_shuffle_down instead.
template <class T>
T simd_max(T x) {
  static_assert(std::is_integral_v<T>, "simd_max: integers only in this stand-in");
  return mgemu::over_lanes("simd_max", x, [](T a, T b) { return a > b ? a : b; });
}
template <class T>
T simd_min(T x) {
  static_assert(std::is_integral_v<T>, "simd_min: integers only in this stand-in");
  return mgemu::over_lanes("simd_min", x, [](T a, T b) { return a < b ? a : b; });
}
// The value of lane + delta; the top `delta` lanes keep their own. A source lane that does not take
// part gives poison (all bits set).
template <class T>
T simd_shuffle_down(T x, unsigned short delta) {
  return mgemu::running("simd_shuffle_down").collective("simd_shuffle_down", x, [x, delta](const T* v, const bool*, unsigned lane) {
    if (lane + delta >= mgemu::kSimdWidth) return x;
    return v[lane + delta];  // poison when inactive: `collective` filled it with 0xFF bytes
  });
}

}  // namespace metal
