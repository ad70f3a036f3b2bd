#pragma once
// A fixed-size thread pool for coarse-grained parallel work (tokenizing documents, reading files).
// Numeric kernels use OpenMP instead; this pool is for tasks of uneven size.
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <future>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace moai {

class ThreadPool {
 public:
  // num_threads == 0 picks the hardware concurrency (at least 1).
  explicit ThreadPool(size_t num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  size_t size() const { return workers_.size(); }

  // Queues a task; the future rethrows whatever the task threw.
  std::future<void> submit(std::function<void()> task);

  // Runs fn(index) for index in [0, count), spread over the pool, and waits. The first exception
  // thrown by any call is rethrown here after all calls finished.
  void parallel_for(size_t count, const std::function<void(size_t)>& fn);

 private:
  void worker_loop();

  std::vector<std::thread> workers_;
  std::queue<std::packaged_task<void()>> tasks_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

// Threads to use when the user did not say: MOAI_THREADS, else hardware concurrency.
size_t default_thread_count();

}  // namespace moai
