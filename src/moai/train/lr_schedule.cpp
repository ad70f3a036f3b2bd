#include "moai/train/lr_schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "moai/core/error.h"

namespace moai::train {

ScheduleKind parse_schedule_kind(const std::string& name, const std::string& where) {
  if (name == "linear") return ScheduleKind::kLinear;
  if (name == "cosine") return ScheduleKind::kCosine;
  if (name == "constant" || name == "constant_with_warmup") return ScheduleKind::kConstant;
  if (name == "wsd" || name == "warmup_stable_decay") return ScheduleKind::kWsd;
  throw_input_error(where,
                    "\"" + name + "\" is not a schedule; expected linear, cosine, constant or wsd");
}

DecayShape parse_decay_shape(const std::string& name, const std::string& where) {
  if (name == "linear") return DecayShape::kLinear;
  if (name == "cosine") return DecayShape::kCosine;
  if (name == "1-sqrt" || name == "1_sqrt" || name == "sqrt") return DecayShape::kOneMinusSqrt;
  throw_input_error(where,
                    "\"" + name + "\" is not a decay shape; expected linear, cosine or 1-sqrt");
}

std::string schedule_kind_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::kLinear:
      return "linear";
    case ScheduleKind::kCosine:
      return "cosine";
    case ScheduleKind::kConstant:
      return "constant";
    case ScheduleKind::kWsd:
      return "wsd";
  }
  throw_internal_error(__FILE__, __LINE__, "unknown schedule kind");
}

std::string decay_shape_name(DecayShape shape) {
  switch (shape) {
    case DecayShape::kLinear:
      return "linear";
    case DecayShape::kCosine:
      return "cosine";
    case DecayShape::kOneMinusSqrt:
      return "1-sqrt";
  }
  throw_internal_error(__FILE__, __LINE__, "unknown decay shape");
}

int64_t resolve_warmup(int64_t explicit_steps, double fraction, int64_t total_steps) {
  if (explicit_steps >= 0) return explicit_steps;
  return static_cast<int64_t>(std::llround(fraction * static_cast<double>(total_steps)));
}

namespace {

double decay_factor(DecayShape shape, double progress) {
  switch (shape) {
    case DecayShape::kLinear:
      return 1.0 - progress;
    case DecayShape::kCosine:
      return 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
    case DecayShape::kOneMinusSqrt:
      return 1.0 - std::sqrt(progress);
  }
  throw_internal_error(__FILE__, __LINE__, "unknown decay shape");
}

int64_t wsd_decay_steps(const ScheduleConfig& config) {
  return static_cast<int64_t>(
      std::llround(config.decay_fraction * static_cast<double>(config.total_steps)));
}

}  // namespace

double learning_rate_at(const ScheduleConfig& config, int64_t step) {
  const double peak = config.peak_lr;
  const double floor = config.min_lr_ratio * peak;
  const int64_t total = config.total_steps;
  const int64_t warmup = config.warmup_steps;
  if (step < warmup) return peak * static_cast<double>(step) / static_cast<double>(warmup);
  const auto blend = [&](double factor) { return floor + (peak - floor) * std::max(0.0, factor); };
  switch (config.kind) {
    case ScheduleKind::kConstant:
      return peak;
    case ScheduleKind::kLinear: {
      const double span = static_cast<double>(std::max<int64_t>(1, total - warmup));
      return blend(static_cast<double>(total - step) / span);
    }
    case ScheduleKind::kCosine: {
      const double span = static_cast<double>(std::max<int64_t>(1, total - warmup));
      const double progress = std::min(1.0, static_cast<double>(step - warmup) / span);
      return blend(decay_factor(DecayShape::kCosine, progress));
    }
    case ScheduleKind::kWsd: {
      const int64_t decay = wsd_decay_steps(config);
      const int64_t decay_start = total - decay;
      if (step < decay_start) return peak;
      if (step >= total || decay == 0) return floor;
      const double progress = static_cast<double>(step - decay_start) / static_cast<double>(decay);
      return blend(decay_factor(config.decay_shape, progress));
    }
  }
  throw_internal_error(__FILE__, __LINE__, "unknown schedule kind");
}

void validate_schedule(const ScheduleConfig& config) {
  if (config.total_steps <= 0)
    throw_input_error("schedule", "the run has " + std::to_string(config.total_steps) +
                                      " optimizer steps; expected at least 1 (check --max_steps, "
                                      "--num_epochs and the dataset size)");
  if (!(config.peak_lr > 0.0) || !std::isfinite(config.peak_lr))
    throw_input_error("learning_rate", "expected a positive finite number");
  if (config.warmup_steps < 0 || config.warmup_steps > config.total_steps)
    throw_input_error("warmup_steps",
                      std::to_string(config.warmup_steps) + " warmup steps for a run of " +
                          std::to_string(config.total_steps) + " steps; expected 0..total steps");
  if (config.min_lr_ratio < 0.0 || config.min_lr_ratio > 1.0)
    throw_input_error("min_lr_ratio", "expected a value in [0, 1]");
  if (config.kind == ScheduleKind::kWsd) {
    if (config.decay_fraction < 0.0 || config.decay_fraction > 1.0)
      throw_input_error("decay_ratio", "expected a value in [0, 1]");
    if (config.warmup_steps + wsd_decay_steps(config) > config.total_steps)
      throw_input_error(
          "warmup_ratio/decay_ratio",
          "warmup + decay exceed the run's " + std::to_string(config.total_steps) + " steps");
  }
}

}  // namespace moai::train
