#include "moai/train/collective_watchdog.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

namespace moai::train {

namespace {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// Marks one collective as in progress for its duration.
class WatchedCommunicator::Scope {
 public:
  Scope(WatchedCommunicator& owner, const char* what) : owner_(owner) {
    owner_.started_ns_.store(now_ns());
    owner_.current_.store(what);
  }
  ~Scope() { owner_.current_.store(nullptr); }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  WatchedCommunicator& owner_;
};

WatchedCommunicator::WatchedCommunicator(Communicator& inner, double timeout_s)
    : bootstrap_(inner), inner_(&inner), timeout_s_(timeout_s) {
  if (timeout_s_ > 0 && bootstrap_.world_size() > 1) thread_ = std::thread([this] { monitor(); });
}

WatchedCommunicator::~WatchedCommunicator() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void WatchedCommunicator::monitor() {
  const auto period = std::chrono::duration<double>(std::min(1.0, timeout_s_ / 4));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_.wait_for(lock, period, [this] { return stopping_; })) {
    const char* what = current_.load();
    if (what == nullptr || !armed_.load()) continue;
    const double waited = static_cast<double>(now_ns() - started_ns_.load()) * 1e-9;
    if (waited <= timeout_s_ || current_.load() != what) continue;
    std::fprintf(stderr,
                 "moai: rank %d of %d: waited %.1f s in %s at step %lld (--collective_timeout "
                 "%g): a peer rank died, is stuck, or its host is unreachable; aborting the job\n",
                 rank(), world_size(), waited, what, static_cast<long long>(step_.load()),
                 timeout_s_);
    std::fflush(stderr);
    bootstrap_.abort_job(3);
  }
}

void WatchedCommunicator::allreduce_sum(float* data, int64_t count) {
  Scope scope(*this, "allreduce_sum(float)");
  inner_->allreduce_sum(data, count);
}
void WatchedCommunicator::allreduce_sum(double* data, int64_t count) {
  Scope scope(*this, "allreduce_sum(double)");
  inner_->allreduce_sum(data, count);
}
void WatchedCommunicator::allreduce_max(int64_t* data, int64_t count) {
  Scope scope(*this, "allreduce_max");
  inner_->allreduce_max(data, count);
}
void WatchedCommunicator::broadcast(void* data, size_t bytes, int root) {
  Scope scope(*this, "broadcast");
  inner_->broadcast(data, bytes, root);
}
void WatchedCommunicator::barrier() {
  Scope scope(*this, "barrier");
  inner_->barrier();
}
void WatchedCommunicator::reduce_scatter_sum(float* data, int64_t count) {
  Scope scope(*this, "reduce_scatter_sum");
  inner_->reduce_scatter_sum(data, count);
}
void WatchedCommunicator::all_gather(float* data, int64_t count) {
  Scope scope(*this, "all_gather");
  inner_->all_gather(data, count);
}
void WatchedCommunicator::reduce_scatter_sum_range(float* data, int64_t count, int64_t begin,
                                                   int64_t end) {
  Scope scope(*this, "reduce_scatter_sum_range");
  inner_->reduce_scatter_sum_range(data, count, begin, end);
}

void maybe_stall_for_test(const Communicator& comm, int64_t step) {
  const char* text = std::getenv("MOAI_TEST_STALL_RANK");
  int rank = -1;
  long long at = -1;
  if (text != nullptr && std::sscanf(text, "%d:%lld", &rank, &at) == 2 && rank == comm.rank() &&
      at == step) {
    std::fprintf(stderr, "moai: MOAI_TEST_STALL_RANK: rank %d stalls at step %lld\n", rank, at);
    std::fflush(stderr);
    std::this_thread::sleep_for(std::chrono::hours(1));
  }
}

}  // namespace moai::train
