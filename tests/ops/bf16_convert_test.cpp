// fp32 <-> bf16 conversions: hand-checked bit patterns for the rounding rules, and the vector paths
// (AVX512-BF16 on this machine) bit-identical to the portable scalar code on random bit patterns.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "moai/ops/cpu/bf16.h"

namespace moai::ops::cpu {
namespace {

uint16_t to_bits(float value) {
  return to_bf16(value).bits;
}
float from_bits(uint32_t bits) {
  return std::bit_cast<float>(bits);
}

TEST(Bf16Convert, RoundsToNearestEven) {
  EXPECT_EQ(to_bits(1.0f), 0x3F80);
  EXPECT_EQ(to_bits(-2.0f), 0xC000);
  // 1 + 2^-8 is exactly half way between 1 and 1 + 2^-7: ties go to the even mantissa (1.0).
  EXPECT_EQ(to_bits(from_bits(0x3F808000u)), 0x3F80);
  // 1 + 3 * 2^-8 is half way between 1 + 2^-7 (odd) and 1 + 2^-6: rounds up to even.
  EXPECT_EQ(to_bits(from_bits(0x3F818000u)), 0x3F82);
  // Just above / below the half way point.
  EXPECT_EQ(to_bits(from_bits(0x3F808001u)), 0x3F81);
  EXPECT_EQ(to_bits(from_bits(0x3F807FFFu)), 0x3F80);
  // The largest finite values round to infinity only above the last half way point.
  EXPECT_EQ(to_bits(from_bits(0x7F7F7FFFu)), 0x7F7F);
  EXPECT_EQ(to_bits(from_bits(0x7F7F8000u)), 0x7F80);
  EXPECT_EQ(to_bits(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_EQ(to_bits(-std::numeric_limits<float>::infinity()), 0xFF80);
}

TEST(Bf16Convert, KeepsNanAndFlushesSubnormals) {
  // A NaN whose payload lives only in the low 16 bits must not become infinity.
  const uint16_t nan = to_bits(from_bits(0x7F800001u));
  EXPECT_TRUE(std::isnan(to_f32(bf16{nan})));
  EXPECT_EQ(nan & 0x8000, 0);
  EXPECT_TRUE(std::isnan(to_f32(to_bf16(-std::nanf("")))));
  EXPECT_EQ(to_bits(from_bits(0x00000001u)), 0x0000);
  EXPECT_EQ(to_bits(from_bits(0x807FFFFFu)), 0x8000);
  EXPECT_EQ(to_bits(from_bits(0x00800000u)), 0x0080);  // the smallest normal survives
  EXPECT_EQ(to_f32(bf16{0x4049}), 3.140625f);
}

TEST(Bf16Convert, VectorPathsMatchPortableBitForBit) {
  if (!cpu_has_avx512_bf16())
    GTEST_SKIP() << "no AVX512-BF16 on this CPU: only the portable path runs";
  std::mt19937 rng(7);
  for (const int64_t n : {0, 1, 15, 16, 17, 31, 32, 33, 100, 4099}) {
    const size_t count = static_cast<size_t>(n);
    std::vector<float> src(count);
    for (float& value : src) value = from_bits(rng());  // every class: NaN, inf, subnormal, normal
    std::vector<bf16> fast(size_t(n) + 1, bf16{0xABCD}), slow(size_t(n) + 1, bf16{0xABCD});
    to_bf16(fast.data(), src.data(), n);
    to_bf16_portable(slow.data(), src.data(), n);
    for (int64_t i = 0; i <= n; ++i)
      ASSERT_EQ(fast[size_t(i)].bits, slow[size_t(i)].bits) << n << " " << i;
    std::vector<float> back_fast(size_t(n) + 1, -7.0f), back_slow(size_t(n) + 1, -7.0f);
    to_float(back_fast.data(), fast.data(), n);
    to_float_portable(back_slow.data(), slow.data(), n);
    for (int64_t i = 0; i <= n; ++i)
      ASSERT_EQ(std::bit_cast<uint32_t>(back_fast[size_t(i)]),
                std::bit_cast<uint32_t>(back_slow[size_t(i)]));
    if (n > 0) {
      EXPECT_EQ(back_fast[size_t(n)], -7.0f);  // nothing written past the end
    }
  }
}

TEST(Bf16Convert, RoundTripErrorIsHalfAnUlp) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 10.0f);
  for (int i = 0; i < 10000; ++i) {
    const float x = normal(rng);
    EXPECT_LE(std::fabs(round_to_bf16(x) - x), std::fabs(x) * 0x1p-8f) << x;
  }
}

}  // namespace
}  // namespace moai::ops::cpu
