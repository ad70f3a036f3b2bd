#pragma once
// Global-norm gradient clipping as torch.nn.utils.clip_grad_norm_: norm = sqrt(sum of squares of
// every gradient), scale = min(1, max_norm / (norm + 1e-6)). The scale is passed to AdamW::step
// rather than applied to the gradients, saving a pass over memory.
#include <cstdint>

#include "moai/ops/ops.h"

namespace moai::train {

// sqrt of the sum of squares of grads[0, n), accumulated in double in a fixed order.
double global_grad_norm(ops::Backend& backend, const float* grads, int64_t n);
// 1 when max_norm <= 0 (clipping off) or the norm is already small enough.
float clip_scale(double grad_norm, double max_norm);

}  // namespace moai::train
