#pragma once
// Per-token loss of the fused classifier (ops::Backend::classifier_loss). With p = softmax(logits)
// and y the label, the row loss is
//   ce_weight * CE + focal_weight * FL + smooth_weight * LS
//   CE = -log p_y
//   FL = (1 - p_y)^focal_gamma * (-log p_y)                       (focal loss, no alpha)
//   LS = -sum_k q_k log p_k, q_y = 1 - smoothing, q_k = smoothing / (V - 1) for k != y
// (the original project's definitions, inventory 3.8). Rows whose label is ignore_index contribute
// 0. Plain cross-entropy is {1, 0, 0}; the original's multi-objective mix is multi_objective().
#include <algorithm>
#include <cstdint>
#include <string>

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

// Rows of [rows, V] logits the CPU classifier materialises at a time (about 16M values, 16..1024
// rows): its scratch is min(this, B*T) x V values, which the memory model counts.
inline int64_t classifier_chunk_rows(int64_t vocab) {
  return std::clamp<int64_t>((int64_t(1) << 24) / std::max<int64_t>(vocab, 1), 16, 1024);
}

// The loss names of `moai train --loss_type` and `moai model verify --loss`.
enum class LossKind { kCrossEntropy, kFocal, kLabelSmoothing, kMultiObjective };

// "cross_entropy" | "focal" | "label_smoothing" | "multi_objective"; InputError naming `field`.
LossKind parse_loss_kind(const std::string& name, const std::string& field);
const char* loss_kind_name(LossKind kind);

// A loss kind with its parameters (the original's defaults). The weights apply to multi_objective
// only and must sum to 1 (InputError otherwise); gamma and smoothing are kept for every kind.
struct LossSettings {
  LossKind kind = LossKind::kCrossEntropy;
  double focal_gamma = 2.0;
  double smoothing = 0.1;
  double ce_weight = 0.6;
  double focal_weight = 0.3;
  double smooth_weight = 0.1;
};

// The one mapping from loss settings to the classifier's LossConfig.
LossConfig loss_config_for(const LossSettings& settings);

}  // namespace moai::ops
