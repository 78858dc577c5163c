// A persistent pool of worker threads for the kernels: parallel_for with the caller participating.
// No thread exists until some work is big enough to share; small work runs on the calling thread.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

namespace metalgrad::cpu {

// Work below this many "cost units" (roughly one simple operation on one element) stays on the
// calling thread: waking a worker costs a few microseconds.
constexpr int64_t kMinParallelCost = int64_t(1) << 17;

// Threads used by parallel work, including the caller. Starts from the environment variable
// METALGRAD_NUM_THREADS (a positive integer) or else the hardware concurrency.
int num_threads();

// Sets the thread count (1 .. kMaxThreads); throws std::invalid_argument otherwise. Waits for
// running work; workers beyond the new count are stopped.
void set_num_threads(int n);
constexpr int kMaxThreads = 1024;

namespace detail {
using TaskFn = void (*)(void* ctx, int64_t task);
void parallel_for_impl(int64_t n_tasks, int64_t total_cost, TaskFn fn, void* ctx);
}  // namespace detail

// Calls f(task) for every task in [0, n_tasks), spread over up to num_threads() threads (the
// caller among them) when total_cost >= kMinParallelCost. Tasks must be independent. Returns when
// all tasks are done; an exception thrown by a task is rethrown here after the others finish.
// Nested calls, and calls while another thread's work occupies the pool, run on the caller.
template <class F>
void parallel_for(int64_t n_tasks, int64_t total_cost, F&& f) {
  using Fn = std::remove_reference_t<F>;
  detail::parallel_for_impl(
      n_tasks, total_cost, [](void* ctx, int64_t task) { (*static_cast<Fn*>(ctx))(task); },
      const_cast<void*>(static_cast<const void*>(&f)));
}

}  // namespace metalgrad::cpu
