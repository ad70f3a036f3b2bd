#include "moai/model/kv_cache.h"

#include <algorithm>
#include <utility>

#include "moai/core/error.h"

namespace moai::model {

KvCache::KvCache(ops::Backend& backend, const Qwen3Config& config, int64_t capacity,
                 ops::DType dtype)
    : backend_(&backend),
      layers_(config.num_hidden_layers),
      row_(config.kv_dim()),
      capacity_(capacity),
      dtype_(dtype) {}

KvCache::~KvCache() {
  release();
}

KvCache::KvCache(KvCache&& other) noexcept
    : backend_(other.backend_),
      layers_(other.layers_),
      row_(other.row_),
      capacity_(other.capacity_),
      dtype_(other.dtype_),
      length_(other.length_),
      allocated_(other.allocated_),
      memory_(std::exchange(other.memory_, nullptr)) {
  other.length_ = other.allocated_ = 0;
}

KvCache& KvCache::operator=(KvCache&& other) noexcept {
  if (this == &other) return *this;
  release();
  backend_ = other.backend_;
  layers_ = other.layers_;
  row_ = other.row_;
  capacity_ = other.capacity_;
  dtype_ = other.dtype_;
  length_ = std::exchange(other.length_, 0);
  allocated_ = std::exchange(other.allocated_, 0);
  memory_ = std::exchange(other.memory_, nullptr);
  return *this;
}

void KvCache::release() {
  if (memory_) backend_->deallocate(memory_);
  memory_ = nullptr;
}

void KvCache::truncate(int64_t length) {
  MOAI_CHECK(length >= 0);
  if (length < length_) length_ = length;
}

void KvCache::reserve(int64_t rows) {
  MOAI_CHECK(rows <= capacity_);
  if (rows <= allocated_) return;
  const int64_t grown = std::min(capacity_, std::max({rows, 2 * allocated_, int64_t{256}}));
  void* fresh = backend_->allocate(ops::byte_size(dtype_, 2 * layers_ * grown * row_));
  const ops::Buffer target{fresh, dtype_};
  for (int64_t l = 0; l < layers_ && length_ > 0; ++l) {
    backend_->copy(target.offset(2 * l * grown * row_).view({length_, row_}), keys(l, 0, length_));
    backend_->copy(target.offset((2 * l + 1) * grown * row_).view({length_, row_}),
                   values(l, 0, length_));
  }
  release();
  memory_ = fresh;
  allocated_ = grown;
}

ops::TensorView KvCache::keys(int64_t layer, int64_t begin, int64_t rows) const {
  MOAI_CHECK(begin + rows <= allocated_);
  const ops::Buffer buffer{memory_, dtype_};
  return buffer.offset((2 * layer * allocated_ + begin) * row_).view({rows, row_});
}

ops::TensorView KvCache::values(int64_t layer, int64_t begin, int64_t rows) const {
  MOAI_CHECK(begin + rows <= allocated_);
  const ops::Buffer buffer{memory_, dtype_};
  return buffer.offset(((2 * layer + 1) * allocated_ + begin) * row_).view({rows, row_});
}

}  // namespace moai::model
