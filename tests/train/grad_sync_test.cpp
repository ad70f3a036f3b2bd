// Overlapped gradient reduction: the per-layer buckets of a real layout, and the communication
// thread reducing every submitted bucket exactly once (a recording communicator stands in for MPI).
#include "moai/train/grad_sync.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

namespace moai::train {
namespace {

model::Qwen3Config small_config() {
  model::Qwen3Config config;
  config.vocab_size = 8;
  config.hidden_size = 4;
  config.intermediate_size = 4;
  config.num_hidden_layers = 3;
  config.num_attention_heads = 2;
  config.num_key_value_heads = 1;
  config.head_dim = 2;
  config.max_position_embeddings = 8;
  return config;
}

TEST(GradSync, LayerBucketsAreContiguousAndHoldOnlyTheirLayer) {
  const model::ParamLayout layout(small_config());
  const std::vector<ShardRange> buckets = layer_buckets(layout);
  ASSERT_EQ(buckets.size(), 3u);
  for (size_t layer = 1; layer < buckets.size(); ++layer)
    EXPECT_EQ(buckets[layer].begin, buckets[layer - 1].end);
  for (const model::ParamInfo& info : layout.params()) {
    const bool inside = info.offset >= buckets.front().begin && info.offset < buckets.back().end;
    EXPECT_EQ(inside, info.layer >= 0) << info.name;
    if (info.layer >= 0) {
      const ShardRange& bucket = buckets[size_t(info.layer)];
      EXPECT_GE(info.offset, bucket.begin) << info.name;
      EXPECT_LE(info.offset + info.numel, bucket.end) << info.name;
    }
  }
}

// Doubles what it reduces (two ranks with equal contributions); the thread id is not checked.
class DoublingCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 2; }
  std::string name() const override { return "doubling"; }
  void allreduce_sum(float* data, int64_t count) override {
    if (fail) throw std::runtime_error("link down");
    for (int64_t i = 0; i < count; ++i) data[i] *= 2;
    ++calls;
  }
  void allreduce_sum(double*, int64_t) override {}
  void allreduce_max(int64_t*, int64_t) override {}
  void broadcast(void*, size_t, int) override {}
  void barrier() override {}
  void reduce_scatter_sum(float*, int64_t) override {}
  void all_gather(float*, int64_t) override {}
  void reduce_scatter_sum_range(float* data, int64_t, int64_t begin, int64_t end) override {
    allreduce_sum(data + begin, end - begin);
  }
  std::atomic<int> calls{0};
  bool fail = false;
};

TEST(GradSync, EveryBucketIsReducedOnceAndErrorsComeBack) {
  DoublingCommunicator comm;
  std::vector<float> grads(100, 1.0f);
  {
    OverlappedReducer reducer(comm, grads.data(), 100, false);
    // Layers [10, 90) in buckets of 20, last layer first, as the backward finishes them.
    for (int64_t start = 70; start >= 10; start -= 20) reducer.submit({start, start + 20});
    reducer.wait();
    reducer.reduce_now({0, 10});  // the rest, on the calling thread
    reducer.reduce_now({90, 100});
  }
  EXPECT_EQ(comm.calls.load(), 6);
  for (size_t i = 0; i < grads.size(); ++i) EXPECT_EQ(grads[i], 2.0f) << i;

  comm.fail = true;
  OverlappedReducer failing(comm, grads.data(), 100, true);
  failing.submit({0, 10});
  EXPECT_THROW(failing.wait(), std::runtime_error);
  failing.wait();  // the error is reported once
}

}  // namespace
}  // namespace moai::train
