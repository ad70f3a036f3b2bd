#include "moai/ops/loss.h"

#include <cmath>

#include "moai/core/error.h"

namespace moai::ops {

namespace {

struct LossName {
  LossKind kind;
  const char* name;
};
constexpr LossName kLossNames[] = {{LossKind::kCrossEntropy, "cross_entropy"},
                                   {LossKind::kFocal, "focal"},
                                   {LossKind::kLabelSmoothing, "label_smoothing"},
                                   {LossKind::kMultiObjective, "multi_objective"}};

}  // namespace

LossKind parse_loss_kind(const std::string& name, const std::string& field) {
  for (const LossName& entry : kLossNames)
    if (name == entry.name) return entry.kind;
  throw_input_error(
      field, "\"" + name + "\": expected cross_entropy, focal, label_smoothing or multi_objective");
}

const char* loss_kind_name(LossKind kind) {
  for (const LossName& entry : kLossNames)
    if (kind == entry.kind) return entry.name;
  return "unknown";
}

LossConfig loss_config_for(const LossSettings& settings) {
  LossConfig loss;
  loss.focal_gamma = static_cast<float>(settings.focal_gamma);
  loss.smoothing = static_cast<float>(settings.smoothing);
  switch (settings.kind) {
    case LossKind::kCrossEntropy:
      loss.ce_weight = 1, loss.focal_weight = 0, loss.smooth_weight = 0;
      return loss;
    case LossKind::kFocal:
      loss.ce_weight = 0, loss.focal_weight = 1, loss.smooth_weight = 0;
      return loss;
    case LossKind::kLabelSmoothing:
      loss.ce_weight = 0, loss.focal_weight = 0, loss.smooth_weight = 1;
      return loss;
    case LossKind::kMultiObjective:
      break;
  }
  const double total = settings.ce_weight + settings.focal_weight + settings.smooth_weight;
  if (std::abs(total - 1.0) > 1e-6)
    throw_input_error("ce_weight/focal_weight/smooth_weight",
                      "must sum to 1, got " + std::to_string(total));
  loss.ce_weight = static_cast<float>(settings.ce_weight);
  loss.focal_weight = static_cast<float>(settings.focal_weight);
  loss.smooth_weight = static_cast<float>(settings.smooth_weight);
  return loss;
}

}  // namespace moai::ops
