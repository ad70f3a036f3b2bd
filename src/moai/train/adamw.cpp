#include "moai/train/adamw.h"

namespace moai::train {

AdamW::AdamW(ops::Backend& backend, const model::ParamLayout& layout, const AdamWConfig& config)
    : backend_(backend), layout_(layout), config_(config) {
  const size_t bytes = ops::byte_size(ops::DType::kF32, layout.total_floats());
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
    backend_.adamw_update(ops::view(params + info.offset, {info.numel}),
                          ops::view(m_ + info.offset, {info.numel}),
                          ops::view(v_ + info.offset, {info.numel}),
                          ops::view(grads + info.offset, {info.numel}), step);
  }
}

}  // namespace moai::train
