#include "moai/train/adamw.h"

#include <algorithm>

namespace moai::train {

AdamW::AdamW(ops::Backend& backend, const model::ParamLayout& layout, const AdamWConfig& config)
    : AdamW(backend, layout, config, 0, layout.total_floats()) {}

AdamW::AdamW(ops::Backend& backend, const model::ParamLayout& layout, const AdamWConfig& config,
             int64_t begin, int64_t end)
    : backend_(backend), layout_(layout), config_(config), begin_(begin), end_(end) {
  const size_t bytes = ops::byte_size(ops::DType::kF32, std::max<int64_t>(1, end - begin));
  m_ = static_cast<float*>(backend_.allocate(bytes));  // zero-filled: moments start at 0
  v_ = static_cast<float*>(backend_.allocate(bytes));
}

AdamW::~AdamW() {
  backend_.deallocate(m_);
  backend_.deallocate(v_);
}

void AdamW::step(float* params, const float* grads, float lr, float grad_scale) {
  ++step_count_;
  ops::AdamWStep step;
  step.lr = lr;
  step.beta1 = config_.beta1;
  step.beta2 = config_.beta2;
  step.eps = config_.eps;
  step.grad_scale = grad_scale;
  step.step = step_count_;
  for (const model::ParamInfo& info : layout_.params()) {
    const int64_t first = std::max(info.offset, begin_);
    const int64_t last = std::min(info.offset + info.numel, end_);
    if (first >= last) continue;
    const int64_t n = last - first;
    step.weight_decay = info.weight_decay() ? config_.weight_decay : 0.0f;
    backend_.adamw_update(ops::view(params + first, {n}), ops::view(m_ + (first - begin_), {n}),
                          ops::view(v_ + (first - begin_), {n}), ops::view(grads + first, {n}),
                          step);
  }
}

}  // namespace moai::train
