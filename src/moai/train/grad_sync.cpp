#include "moai/train/grad_sync.h"

#include <algorithm>

namespace moai::train {

std::vector<ShardRange> layer_buckets(const model::ParamLayout& layout) {
  int64_t layers = 0;
  for (const model::ParamInfo& info : layout.params()) layers = std::max(layers, info.layer + 1);
  std::vector<ShardRange> buckets(static_cast<size_t>(layers), ShardRange{INT64_MAX, -1});
  for (const model::ParamInfo& info : layout.params()) {
    if (info.layer < 0) continue;
    ShardRange& bucket = buckets[static_cast<size_t>(info.layer)];
    bucket.begin = std::min(bucket.begin, info.offset);
    bucket.end = std::max(bucket.end, info.offset + info.numel);
  }
  if (buckets.empty()) return {};
  // No parameter of another layer (or a non-layer one) may sit inside a bucket, and the buckets
  // must follow each other (the gaps between them only alignment padding, which is zero).
  for (const model::ParamInfo& info : layout.params()) {
    for (size_t layer = 0; layer < buckets.size(); ++layer) {
      if (static_cast<int64_t>(layer) == info.layer) continue;
      if (info.offset < buckets[layer].end && info.offset + info.numel > buckets[layer].begin)
        return {};
    }
  }
  for (size_t layer = 1; layer < buckets.size(); ++layer) {
    if (buckets[layer].begin < buckets[layer - 1].end) return {};
    buckets[layer].begin = buckets[layer - 1].end;  // padding goes with the next layer
  }
  return buckets;
}

OverlappedReducer::OverlappedReducer(Communicator& comm, float* grads, int64_t count, bool zero)
    : comm_(comm), grads_(grads), count_(count), zero_(zero), thread_([this] { loop(); }) {}

OverlappedReducer::~OverlappedReducer() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void OverlappedReducer::submit(ShardRange bucket) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(bucket);
    ++in_flight_;
  }
  changed_.notify_all();
}

void OverlappedReducer::wait() {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [this] { return in_flight_ == 0; });
  if (error_) {
    const std::exception_ptr error = error_;
    error_ = nullptr;
    std::rethrow_exception(error);
  }
}

void OverlappedReducer::reduce_now(ShardRange bucket) {
  if (bucket.size() <= 0) return;
  if (zero_)
    comm_.reduce_scatter_sum_range(grads_, count_, bucket.begin, bucket.end);
  else
    comm_.allreduce_sum(grads_ + bucket.begin, bucket.size());
}

void OverlappedReducer::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    changed_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ and nothing left
    const ShardRange bucket = queue_.front();
    queue_.pop_front();
    const bool failed = error_ != nullptr;  // after an error the rest is only drained
    lock.unlock();
    std::exception_ptr error;
    try {
      if (!failed) reduce_now(bucket);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    if (error && !error_) error_ = error;
    --in_flight_;
    changed_.notify_all();
  }
}

}  // namespace moai::train
