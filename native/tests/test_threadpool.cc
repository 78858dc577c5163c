// The thread pool: every task runs exactly once, small work stays on the caller, nested calls and
// exceptions are safe, the thread count is validated; threaded elementwise steps match 1 thread.
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "builder.h"
#include "harness.h"
#include "threadpool.h"

using namespace metalgrad::cpu;

namespace {

struct RestoreThreads {
  int threads = num_threads();
  ~RestoreThreads() { set_num_threads(threads); }
};

}  // namespace

TEST(pool_runs_every_task_once) {
  RestoreThreads restore;
  for (int threads : {1, 2, 4}) {
    set_num_threads(threads);
    CHECK_EQ(num_threads(), threads);
    for (int64_t n : {1, 2, 3, 100, 1000}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      parallel_for(n, kMinParallelCost, [&](int64_t t) { hits[t].fetch_add(1); });
      for (auto& h : hits) CHECK_EQ(h.load(), 1);
    }
  }
}

TEST(pool_keeps_small_work_on_the_caller) {
  RestoreThreads restore;
  set_num_threads(4);
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> elsewhere{0};
  parallel_for(64, kMinParallelCost - 1, [&](int64_t) {
    if (std::this_thread::get_id() != caller) elsewhere.fetch_add(1);
  });
  CHECK_EQ(elsewhere.load(), 0);
}

TEST(pool_workers_share_the_work) {
  RestoreThreads restore;
  set_num_threads(3);
  // Tasks that sleep leave time for every worker to wake and take some.
  std::mutex mu;
  std::set<std::thread::id> ran_on;
  parallel_for(24, kMinParallelCost, [&](int64_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::lock_guard<std::mutex> lock(mu);
    ran_on.insert(std::this_thread::get_id());
  });
  CHECK_EQ(ran_on.size(), size_t(3));
}

TEST(pool_nested_calls_and_many_jobs) {
  RestoreThreads restore;
  set_num_threads(3);
  std::atomic<int64_t> sum{0};
  parallel_for(8, kMinParallelCost, [&](int64_t t) {
    parallel_for(10, kMinParallelCost, [&](int64_t u) { sum.fetch_add(t * 10 + u); });
  });
  CHECK_EQ(sum.load(), int64_t(79 * 80 / 2));
  std::atomic<int64_t> count{0};
  for (int job = 0; job < 2000; ++job) {
    parallel_for(5, kMinParallelCost, [&](int64_t) { count.fetch_add(1); });
  }
  CHECK_EQ(count.load(), int64_t(10000));
}

TEST(pool_rethrows_task_exceptions) {
  RestoreThreads restore;
  set_num_threads(2);
  CHECK_THROWS(parallel_for(50, kMinParallelCost,
                            [&](int64_t t) {
                              if (t == 17) throw std::runtime_error("task 17 failed");
                            }),
               "task 17 failed");
  std::atomic<int> after{0};
  parallel_for(10, kMinParallelCost, [&](int64_t) { after.fetch_add(1); });
  CHECK_EQ(after.load(), 10);
}

TEST(pool_validates_thread_count) {
  CHECK_THROWS(set_num_threads(0), "from 1 to 1024, received 0");
  CHECK_THROWS(set_num_threads(kMaxThreads + 1), "received 1025");
}

TEST(pool_callers_on_several_threads) {
  RestoreThreads restore;
  set_num_threads(2);
  std::atomic<int64_t> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&] {
      for (int job = 0; job < 200; ++job) {
        parallel_for(7, kMinParallelCost, [&](int64_t) { total.fetch_add(1); });
      }
    });
  }
  for (std::thread& t : callers) t.join();
  CHECK_EQ(total.load(), int64_t(3 * 200 * 7));
}

TEST(elementwise_results_do_not_depend_on_thread_count) {
  using namespace testing;
  RestoreThreads restore;
  // out[i, j] = a[i, j] * b[j] + 0.25 over [300, 700] with a transposed and b broadcast: 210000
  // elements, so chunk boundaries fall inside rows.
  const int32_t rows = 300, cols = 700;
  std::vector<float> a(size_t(rows) * cols), b(cols);
  for (size_t i = 0; i < a.size(); ++i) a[i] = float(i % 97) * 0.5f - 20.0f;
  for (int32_t j = 0; j < cols; ++j) b[j] = float(j % 13) - 6.0f;
  Elementwise ew{{rows, cols},
                 {{0, 0, 0, {1, rows}}, {0, 1, 0, {0, 1}}},
                 {{0, 2, 0, {cols, 1}, 4}},
                 5,
                 {{ScalarOp::mul, 0, 2, 0, 1}, {ScalarOp::const_, 0, 3, 0}, {ScalarOp::add, 0, 4, 2, 3}}};
  std::vector<std::vector<float>> results;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    std::vector<float> out(a.size(), -1.0f);
    run(testing::Program().step(1, ew.payload()), {desc(a), desc(b), desc(out)}, {0.25});
    results.push_back(out);
  }
  for (int32_t i = 0; i < rows; ++i)
    for (int32_t j = 0; j < cols; ++j) CHECK_EQ(results[0][i * cols + j], a[j * rows + i] * b[j] + 0.25f);
  CHECK(results[1] == results[0]);
  CHECK(results[2] == results[0]);
}
