#pragma once
// Overlapped gradient communication: the model's backward reports each layer as soon as its
// gradients are complete, and a communication thread reduces that layer's bucket (all-reduce, or
// under ZeRO-1 the owners' reduce of their slices) while the backward goes on with the layers
// below. The rest of the buffer (embedding, final norm, lm_head, finished last) is reduced by the
// caller after wait(). Host buffers and a Communicator that allows_comm_thread() only.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "moai/model/param_layout.h"
#include "moai/train/communicator.h"

namespace moai::train {

// [begin, end) of each layer's parameters in the buffer, when every layer is one contiguous block
// and the layers together form one block [first begin, last end) holding nothing else; empty
// otherwise (overlap is then not possible).
std::vector<ShardRange> layer_buckets(const model::ParamLayout& layout);

class OverlappedReducer {
 public:
  // zero: reduce_scatter_sum_range per bucket (ZeRO-1), else allreduce_sum per bucket.
  OverlappedReducer(Communicator& comm, float* grads, int64_t count, bool zero);
  ~OverlappedReducer();
  OverlappedReducer(const OverlappedReducer&) = delete;
  OverlappedReducer& operator=(const OverlappedReducer&) = delete;

  void submit(ShardRange bucket);  // from the backward's layer hook
  // Blocks until every submitted bucket is reduced; rethrows the communication thread's error.
  void wait();
  // Reduces a bucket on the calling thread (after wait(): no collective is in flight).
  void reduce_now(ShardRange bucket);

 private:
  void loop();

  Communicator& comm_;
  float* grads_;
  int64_t count_;
  bool zero_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<ShardRange> queue_;
  int64_t in_flight_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace moai::train
