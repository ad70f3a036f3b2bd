#pragma once
// Learning-rate schedules: the learning rate of each optimizer update as a pure function of the
// update's index, so a resumed run recomputes exactly the same values (nothing to save but the
// step).
//
// Convention (HF transformers' LambdaLR, which the original train.py ran): `step` is the 0-based
// index of the update about to happen, and warmup starts from 0, i.e. lr(0) = 0 when there is
// warmup.
//   linear:   warmup peak*s/W, then peak * max(0, (T-s)/(T-W))          (HF
//   get_linear_schedule_with_warmup) cosine:   warmup, then peak * 0.5*(1+cos(pi*(s-W)/(T-W))) (HF
//   get_cosine_schedule_with_warmup) constant: warmup, then peak wsd:      warmup W =
//   round(warmup_fraction*T), decay D = round(decay_fraction*T), stable = T-W-D;
//             after warmup peak until T-D, then min + (peak-min)*shape(p) with p = (s-(T-D))/D and
//             shape(p) = 1-p (linear), 0.5*(1+cos(pi p)) (cosine) or 1-sqrt(p) (1-sqrt); min =
//             min_ratio*peak; clamped to min at s >= T (the original's unused WSD rose again after
//             T).
// linear/cosine decay towards min_ratio*peak as well (HF: min_ratio 0); values never go below that
// floor.
#include <cstdint>
#include <string>

namespace moai::train {

enum class ScheduleKind { kLinear, kCosine, kConstant, kWsd };
enum class DecayShape { kLinear, kCosine, kOneMinusSqrt };

// "linear" | "cosine" | "constant" (also "constant_with_warmup") | "wsd"; InputError naming
// `where`.
ScheduleKind parse_schedule_kind(const std::string& name, const std::string& where);
// "linear" | "cosine" | "1-sqrt" (also "1_sqrt", "sqrt").
DecayShape parse_decay_shape(const std::string& name, const std::string& where);
std::string schedule_kind_name(ScheduleKind kind);
std::string decay_shape_name(DecayShape shape);

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::kLinear;
  double peak_lr = 3e-4;
  int64_t total_steps = 0;      // T: optimizer updates in the run
  int64_t warmup_steps = 0;     // W (for wsd too, resolved by resolve_warmup below)
  double min_lr_ratio = 0.0;    // floor as a fraction of peak_lr
  double decay_fraction = 0.2;  // wsd only
  DecayShape decay_shape = DecayShape::kLinear;  // wsd only
};

// Learning rate of update `step` (0-based).
double learning_rate_at(const ScheduleConfig& config, int64_t step);

// Warmup length: explicit_steps when >= 0, else round(fraction * total_steps).
int64_t resolve_warmup(int64_t explicit_steps, double fraction, int64_t total_steps);

// Checks the schedule makes sense (positive T, W <= T, fractions in [0,1], wsd warmup + decay <=
// T); InputError naming the offending setting.
void validate_schedule(const ScheduleConfig& config);

}  // namespace moai::train
