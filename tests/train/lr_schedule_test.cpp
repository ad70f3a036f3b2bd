// Pins schedule values at phase boundaries, computed by hand from the formulas in lr_schedule.h.
#include "moai/train/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "moai/core/error.h"

namespace moai::train {
namespace {

ScheduleConfig make(ScheduleKind kind, int64_t total, int64_t warmup, double min_ratio = 0.0) {
  ScheduleConfig config;
  config.kind = kind;
  config.peak_lr = 1e-3;
  config.total_steps = total;
  config.warmup_steps = warmup;
  config.min_lr_ratio = min_ratio;
  return config;
}

TEST(LrSchedule, LinearMatchesHfFormula) {
  const ScheduleConfig config = make(ScheduleKind::kLinear, 100, 10);
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 0), 0.0);
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 5), 0.5e-3);
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 10), 1e-3);  // end of warmup = peak
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 55), 1e-3 * 45.0 / 90.0);
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 99), 1e-3 / 90.0);  // last update
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 100), 0.0);
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 150), 0.0);  // clamped, never negative
}

TEST(LrSchedule, LinearWithFloor) {
  const ScheduleConfig config = make(ScheduleKind::kLinear, 100, 0, 0.1);
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 0), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 50), 1e-4 + 9e-4 * 0.5);
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 100), 1e-4);
}

TEST(LrSchedule, CosineHalfwayIsHalfPeak) {
  const ScheduleConfig config = make(ScheduleKind::kCosine, 110, 10);
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 10), 1e-3);
  EXPECT_NEAR(learning_rate_at(config, 60), 0.5e-3, 1e-15);
  EXPECT_NEAR(learning_rate_at(config, 35), 1e-3 * 0.5 * (1 + std::cos(std::numbers::pi / 4)),
              1e-15);
  EXPECT_NEAR(learning_rate_at(config, 110), 0.0, 1e-18);
  EXPECT_NEAR(learning_rate_at(config, 200), 0.0, 1e-18);  // no rise after the end
}

TEST(LrSchedule, WsdPhasesWithDefaultFractions) {
  // T = 1000: warmup 2% = 20, decay 20% = 200, stable 78% = 780 steps; min = 0.1 * peak.
  ScheduleConfig config = make(ScheduleKind::kWsd, 1000, resolve_warmup(-1, 0.02, 1000), 0.1);
  config.decay_fraction = 0.2;
  ASSERT_EQ(config.warmup_steps, 20);
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 0), 0.0);
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 10), 0.5e-3);
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 20), 1e-3);                // first stable step
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 799), 1e-3);               // last stable step
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 800), 1e-3);               // decay starts at the peak
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 900), 1e-4 + 9e-4 * 0.5);  // linear, halfway
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 1000), 1e-4);
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 5000),
                   1e-4);  // clamped (the original's cosine rose again)
}

TEST(LrSchedule, WsdDecayShapes) {
  ScheduleConfig config = make(ScheduleKind::kWsd, 1000, 20, 0.1);
  config.decay_fraction = 0.2;
  config.decay_shape = DecayShape::kCosine;
  EXPECT_NEAR(learning_rate_at(config, 900), 1e-4 + 9e-4 * 0.5, 1e-15);
  EXPECT_NEAR(learning_rate_at(config, 850),
              1e-4 + 9e-4 * 0.5 * (1 + std::cos(std::numbers::pi / 4)), 1e-15);
  config.decay_shape = DecayShape::kOneMinusSqrt;
  EXPECT_NEAR(learning_rate_at(config, 850), 1e-4 + 9e-4 * (1 - 0.5),
              1e-15);  // p = 1/4, sqrt = 1/2
  EXPECT_NEAR(learning_rate_at(config, 899), 1e-4 + 9e-4 * (1 - std::sqrt(99.0 / 200.0)), 1e-15);
}

TEST(LrSchedule, ConstantKeepsPeakAfterWarmup) {
  const ScheduleConfig config = make(ScheduleKind::kConstant, 50, 4);
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 2), 0.5e-3);
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 4), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate_at(config, 49), 1e-3);
}

TEST(LrSchedule, ParsingAndValidation) {
  EXPECT_EQ(parse_schedule_kind("wsd", "x"), ScheduleKind::kWsd);
  EXPECT_EQ(parse_schedule_kind("constant_with_warmup", "x"), ScheduleKind::kConstant);
  EXPECT_EQ(parse_decay_shape("1-sqrt", "x"), DecayShape::kOneMinusSqrt);
  EXPECT_THROW(parse_schedule_kind("polynomial", "x"), InputError);
  EXPECT_THROW(parse_decay_shape("exp", "x"), InputError);
  EXPECT_THROW(validate_schedule(make(ScheduleKind::kLinear, 0, 0)), InputError);
  EXPECT_THROW(validate_schedule(make(ScheduleKind::kLinear, 100, 2000)), InputError);
  ScheduleConfig wsd = make(ScheduleKind::kWsd, 10, 9);
  wsd.decay_fraction = 0.2;
  EXPECT_THROW(validate_schedule(wsd), InputError);
  EXPECT_NO_THROW(validate_schedule(make(ScheduleKind::kCosine, 100, 10)));
  EXPECT_EQ(resolve_warmup(7, 0.5, 100), 7);
  EXPECT_EQ(resolve_warmup(-1, 0.02, 150), 3);
}

}  // namespace
}  // namespace moai::train
