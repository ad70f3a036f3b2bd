#include "moai/train/adamw.h"

namespace moai::train {

AdamW::AdamW(ops::Backend& backend, const model::ParamLayout& layout, const AdamWConfig& config)
    : backend_(backend), layout_(layout), config_(config) {
  const size_t bytes = size_t(layout.total_floats()) * sizeof(float);
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
    step.weight_decay = info.weight_decay() ? config_.weight_decay : 0.0f;
    backend_.adamw_update(params + info.offset, m_ + info.offset, v_ + info.offset,
                          grads + info.offset, info.numel, step);
  }
}

}  // namespace moai::train
