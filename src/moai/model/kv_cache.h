#pragma once
// The key/value cache of one sequence for generation with Qwen3Model::forward_cached: per layer
// K and V [rows, KV*D] on the backend's device, in the model's compute dtype (bf16 under
// --precision bf16), filled up to length(). Memory grows with use (doubling, up to capacity()), so
// a server with several sequences, or a model with a long context, pays only for the tokens cached.
#include <cstdint>

#include "moai/model/qwen3_config.h"
#include "moai/ops/ops.h"

namespace moai::model {

class KvCache {
 public:
  KvCache(ops::Backend& backend, const Qwen3Config& config, int64_t capacity, ops::DType dtype);
  ~KvCache();
  KvCache(KvCache&& other) noexcept;
  KvCache& operator=(KvCache&& other) noexcept;
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int64_t length() const { return length_; }
  int64_t capacity() const { return capacity_; }
  void clear() { length_ = 0; }
  // Forget everything after the first `length` tokens (a chat that shares a prefix with the last
  // turn keeps its cache up to there).
  void truncate(int64_t length);

  // Room for `rows` tokens (<= capacity); keeps the first length() rows.
  void reserve(int64_t rows);
  // Layer `layer`'s keys or values, rows [begin, begin + rows) as a [rows, KV*D] view.
  ops::TensorView keys(int64_t layer, int64_t begin, int64_t rows) const;
  ops::TensorView values(int64_t layer, int64_t begin, int64_t rows) const;
  void advance(int64_t rows) { length_ += rows; }

 private:
  void release();
  ops::Backend* backend_;
  int64_t layers_;
  int64_t row_;  // KV * D elements per token per layer
  int64_t capacity_;
  ops::DType dtype_;
  int64_t length_ = 0;
  int64_t allocated_ = 0;  // token rows per layer
  // One allocation: layer l's keys at [2l * allocated_ * row_], values right after.
  void* memory_ = nullptr;
};

}  // namespace moai::model
