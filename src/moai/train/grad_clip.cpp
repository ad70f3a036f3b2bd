#include "moai/train/grad_clip.h"

#include <cmath>

namespace moai::train {

double global_grad_norm(ops::Backend& backend, const float* grads, int64_t n) {
  // Padding between tensors in the buffer is always zero, so the whole buffer can be summed at
  // once.
  return std::sqrt(backend.sum_squares(ops::view(grads, {n})));
}

float clip_scale(double grad_norm, double max_norm) {
  if (max_norm <= 0 || !std::isfinite(grad_norm)) return 1.0f;
  const double scale = max_norm / (grad_norm + 1e-6);
  return scale < 1.0 ? static_cast<float>(scale) : 1.0f;
}

}  // namespace moai::train
