// The worker pool behind parallel_for. One job runs at a time; tasks are claimed from a shared
// counter, and the caller waits only for workers that joined the job, never for one that has not
// been scheduled yet. Workers spin briefly after a job so that a chain of steps does not pay a
// sleep/wake per step, then sleep on a condition variable.
#include "threadpool.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace metalgrad::cpu {
namespace {

// Polls before sleeping; each poll is a pause instruction (tens of nanoseconds).
constexpr int kSpinPolls = 4000;

void cpu_relax() {
#if defined(__x86_64__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

int hardware_threads() {
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min<unsigned>(n, kMaxThreads));
}

int initial_threads() {
  const char* env = std::getenv("METALGRAD_NUM_THREADS");
  if (env == nullptr || *env == '\0') return hardware_threads();
  char* end = nullptr;
  const long n = std::strtol(env, &end, 10);
  if (*end != '\0' || n < 1 || n > kMaxThreads) {
    throw std::invalid_argument("METALGRAD_NUM_THREADS must be an integer from 1 to " +
                                std::to_string(kMaxThreads) + ", received '" + env + "'");
  }
  return static_cast<int>(n);
}

thread_local bool t_in_task = false;

class Pool {
 public:
  ~Pool() {
    std::lock_guard<std::mutex> job(job_mu_);
    stop_workers();
  }

  int threads() {
    std::call_once(init_, [&] { threads_.store(initial_threads()); });
    return threads_.load();
  }

  void set_threads(int n) {
    std::call_once(init_, [&] { threads_.store(hardware_threads()); });
    std::lock_guard<std::mutex> job(job_mu_);
    if (static_cast<int>(workers_.size()) > n - 1) stop_workers();
    threads_.store(n);
  }

  void run(int64_t n_tasks, int64_t total_cost, detail::TaskFn fn, void* ctx) {
    if (n_tasks <= 0) return;
    std::unique_lock<std::mutex> job(job_mu_, std::defer_lock);
    if (n_tasks == 1 || total_cost < kMinParallelCost || t_in_task || threads() == 1 ||
        !job.try_lock() || !start_workers()) {
      for (int64_t t = 0; t < n_tasks; ++t) fn(ctx, t);
      return;
    }
    fn_ = fn;
    ctx_ = ctx;
    n_tasks_ = n_tasks;
    next_.store(0, std::memory_order_relaxed);
    error_ = nullptr;
    entry_.store(0, std::memory_order_release);  // opens the job (publishes the fields above)
    {
      std::lock_guard<std::mutex> lk(mu_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    work();
    // Close the job: a worker that has not entered yet (perhaps not even scheduled) skips it, so
    // the caller waits only for workers still running a task.
    entry_.fetch_or(kClosed, std::memory_order_acq_rel);
    auto idle = [&] { return (entry_.load(std::memory_order_acquire) & ~kClosed) == 0; };
    for (int i = 0; i < kSpinPolls && !idle(); ++i) cpu_relax();
    if (!idle()) {
      std::unique_lock<std::mutex> lk(mu_);
      done_.wait(lk, idle);
    }
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Runs tasks of the current job until none is left.
  void work() {
    t_in_task = true;
    for (;;) {
      const int64_t t = next_.fetch_add(1, std::memory_order_relaxed);
      if (t >= n_tasks_) break;
      try {
        fn_(ctx_, t);
      } catch (...) {
        std::lock_guard<std::mutex> lk(mu_);
        if (!error_) error_ = std::current_exception();
        next_.store(n_tasks_, std::memory_order_relaxed);
      }
    }
    t_in_task = false;
  }

  // Joins the open job, if any (the job published last: its fields are visible after this).
  bool enter() {
    int v = entry_.load(std::memory_order_acquire);
    while ((v & kClosed) == 0) {
      if (entry_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        return true;
      }
    }
    return false;
  }

  void leave() {
    if (entry_.fetch_sub(1, std::memory_order_acq_rel) - 1 == kClosed) {
      std::lock_guard<std::mutex> lk(mu_);
      done_.notify_one();
    }
  }

  // `seen` is the generation at the worker's creation, so a job published before the thread got
  // going is not missed.
  void worker_loop(uint64_t seen) {
    for (;;) {
      for (int i = 0; i < kSpinPolls && generation_.load(std::memory_order_acquire) == seen &&
                      !stop_.load(std::memory_order_relaxed);
           ++i) {
        cpu_relax();
      }
      {
        std::unique_lock<std::mutex> lk(mu_);
        wake_.wait(lk, [&] {
          return stop_.load(std::memory_order_relaxed) ||
                 generation_.load(std::memory_order_acquire) != seen;
        });
        if (stop_.load(std::memory_order_relaxed)) return;
        seen = generation_.load(std::memory_order_acquire);
      }
      if (enter()) {
        work();
        leave();
      }
    }
  }

  // With job_mu_ held: makes threads() - 1 workers exist. False if none could be started.
  bool start_workers() {
    const size_t want = static_cast<size_t>(threads() - 1);
    const uint64_t gen = generation_.load(std::memory_order_relaxed);
    try {
      while (workers_.size() < want) workers_.emplace_back([this, gen] { worker_loop(gen); });
    } catch (const std::system_error&) {
      // Out of threads: share the work among those that started.
    }
    return !workers_.empty();
  }

  // With job_mu_ held and no job running.
  void stop_workers() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_.store(true);
    }
    wake_.notify_all();
    for (std::thread& w : workers_) w.join();
    workers_.clear();
    stop_.store(false);
  }

  std::once_flag init_;
  std::atomic<int> threads_{1};
  std::mutex job_mu_;  // held by the thread whose job occupies the workers, and while resizing
  std::mutex mu_;      // pairs with wake_ and done_
  std::condition_variable wake_, done_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> generation_{0};
  // Workers inside the current job, plus kClosed once the caller has run out of tasks.
  static constexpr int kClosed = 1 << 30;
  std::atomic<int> entry_{kClosed};
  std::atomic<int64_t> next_{0};
  int64_t n_tasks_ = 0;
  detail::TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  std::exception_ptr error_;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

int num_threads() { return pool().threads(); }

void set_num_threads(int n) {
  if (n < 1 || n > kMaxThreads) {
    throw std::invalid_argument("setNumThreads: n must be an integer from 1 to " +
                                std::to_string(kMaxThreads) + ", received " + std::to_string(n));
  }
  pool().set_threads(n);
}

namespace detail {
void parallel_for_impl(int64_t n_tasks, int64_t total_cost, TaskFn fn, void* ctx) {
  pool().run(n_tasks, total_cost, fn, ctx);
}
}  // namespace detail

}  // namespace metalgrad::cpu
