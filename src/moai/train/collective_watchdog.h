#pragma once
// A dead or stuck peer must not hang a training run: WatchedCommunicator forwards every collective
// to the real communicator and notes which one is in progress and since when. While armed (the
// step loop's collectives: the token vote, the gradient reduction, the ZeRO all-gather), a monitor
// thread that finds one running longer than the timeout prints
//   moai: rank R of N: waited T s in <collective> at step S (--collective_timeout T0): ...
// and ends the job with status 3 (MPI_Abort under MPI). Setup, data preparation, evaluation and
// checkpoint writes, where one rank legitimately works while the others wait, are not timed (the
// start-up check has its own timeout, MOAI_STARTUP_TIMEOUT_S).
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "moai/train/communicator.h"

namespace moai::train {

class WatchedCommunicator final : public Communicator {
 public:
  // timeout_s <= 0 disables the watchdog (no thread).
  WatchedCommunicator(Communicator& inner, double timeout_s);
  ~WatchedCommunicator() override;
  WatchedCommunicator(const WatchedCommunicator&) = delete;
  WatchedCommunicator& operator=(const WatchedCommunicator&) = delete;

  void set_armed(bool armed) { armed_.store(armed); }
  // From now on the collectives go to `collectives` (NCCL on a GPU run); rank, node layout and
  // abort_job stay with the communicator given at construction.
  void use_collectives(Communicator& collectives) { inner_ = &collectives; }
  Communicator& bootstrap() { return bootstrap_; }
  void set_step(int64_t step) { step_.store(step); }

  int rank() const override { return bootstrap_.rank(); }
  int world_size() const override { return bootstrap_.world_size(); }
  std::string name() const override { return inner_->name(); }
  int local_rank() const override { return bootstrap_.local_rank(); }
  int local_size() const override { return bootstrap_.local_size(); }
  int node_count() const override { return bootstrap_.node_count(); }
  bool allows_comm_thread() const override { return inner_->allows_comm_thread(); }
  [[noreturn]] void abort_job(int code) override {
    bootstrap_.abort_job(code);
    std::_Exit(code);  // not reached: abort_job does not return
  }

  void allreduce_sum(float* data, int64_t count) override;
  void allreduce_sum(double* data, int64_t count) override;
  void allreduce_max(int64_t* data, int64_t count) override;
  void broadcast(void* data, size_t bytes, int root) override;
  void barrier() override;
  void reduce_scatter_sum(float* data, int64_t count) override;
  void all_gather(float* data, int64_t count) override;
  void reduce_scatter_sum_range(float* data, int64_t count, int64_t begin, int64_t end) override;

 private:
  class Scope;
  void monitor();

  Communicator& bootstrap_;
  Communicator* inner_;  // the collectives: bootstrap_ unless use_collectives()
  const double timeout_s_;
  std::atomic<bool> armed_{false};
  std::atomic<int64_t> step_{0};
  std::atomic<const char*> current_{nullptr};  // the collective in progress, if any
  std::atomic<int64_t> started_ns_{0};         // steady-clock time it started
  std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::thread thread_;
};

// MOAI_TEST_STALL_RANK=R:K (tests): rank R sleeps an hour before the collectives of step K
// (1-based), standing in for a peer that hangs mid-run.
void maybe_stall_for_test(const Communicator& comm, int64_t step);

}  // namespace moai::train
