#pragma once
// Per-token loss of the fused classifier (ops::Backend::classifier_loss). With p = softmax(logits)
// and y the label, the row loss is
//   ce_weight * CE + focal_weight * FL + smooth_weight * LS
//   CE = -log p_y
//   FL = (1 - p_y)^focal_gamma * (-log p_y)                       (focal loss, no alpha)
//   LS = -sum_k q_k log p_k, q_y = 1 - smoothing, q_k = smoothing / (V - 1) for k != y
// (the original project's definitions, inventory 3.8). Rows whose label is ignore_index contribute
// 0. Plain cross-entropy is {1, 0, 0}; the original's multi-objective mix is multi_objective().
namespace moai::ops {

struct LossConfig {
  float ce_weight = 1.0f;
  float focal_weight = 0.0f;
  float smooth_weight = 0.0f;
  float focal_gamma = 2.0f;
  float smoothing = 0.1f;
  int ignore_index = -100;

  static LossConfig cross_entropy() { return {}; }
  static LossConfig focal(float gamma) { return {0.0f, 1.0f, 0.0f, gamma, 0.1f, -100}; }
  static LossConfig label_smoothing(float smoothing) {
    return {0.0f, 0.0f, 1.0f, 2.0f, smoothing, -100};
  }
  // 0.6 CE + 0.3 focal(gamma 2) + 0.1 label smoothing(0.1): the README/yaml defaults of the
  // original.
  static LossConfig multi_objective() { return {0.6f, 0.3f, 0.1f, 2.0f, 0.1f, -100}; }
};

}  // namespace moai::ops
