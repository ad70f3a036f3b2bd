#include "moai/infer/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "moai/core/error.h"

namespace moai::infer {
namespace {

std::vector<float> logits_from_probs(const std::vector<double>& p) {
  std::vector<float> out;
  for (double v : p) out.push_back(static_cast<float>(std::log(v)));
  return out;
}

// Empirical distribution of n draws.
std::map<uint32_t, double> histogram(Sampler& s, const std::vector<float>& logits, int n) {
  std::map<uint32_t, double> h;
  for (int i = 0; i < n; ++i) h[s.sample(logits, {})] += 1.0 / n;
  return h;
}

TEST(Sampler, GreedyPicksArgmaxLowestIdOnTies) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p);
  EXPECT_EQ(s.sample(std::vector<float>{0.1f, 3.0f, -1.0f, 3.0f}, {}), 1u);
  EXPECT_EQ(argmax(std::vector<float>{-5, -5, -4}), 2u);
}

// The vectorised argmax against the plain loop (first index of the largest value) on
// vocabulary-sized rows: random values, the maximum repeated (also across -0/+0 and in the last,
// partial block), at the first and last index, and a NaN row (the plain loop's answer).
TEST(Sampler, ArgmaxMatchesPlainLoopOnLongRows) {
  const auto plain = [](const std::vector<float>& v) {
    uint32_t best = 0;
    for (uint32_t i = 1; i < v.size(); ++i)
      if (v[i] > v[best]) best = i;
    return best;
  };
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (const size_t size : {size_t(1), size_t(63), size_t(64), size_t(65), size_t(151669)}) {
    std::vector<float> row(size);
    for (float& v : row) v = std::round(normal(rng) * 4.0f) / 4.0f;  // many equal values
    EXPECT_EQ(argmax(row), plain(row)) << size;
    const uint32_t tie = uint32_t(size / 3), last = uint32_t(size - 1);
    row[last] = row[tie] = 100.0f;
    EXPECT_EQ(argmax(row), plain(row)) << size;
    row[tie] = row[last] = 0.0f;
    row[0] = 200.0f;
    EXPECT_EQ(argmax(row), 0u) << size;
    for (float& v : row) v = -std::fabs(v) - 1.0f;
    row[last] = 0.0f;
    if (size > 2) row[size / 2] = -0.0f;  // ties with +0 as in the plain loop
    EXPECT_EQ(argmax(row), plain(row)) << size;
    row[size / 2] = NAN;
    EXPECT_EQ(argmax(row), plain(row)) << size << " with a NaN";
  }
}

TEST(Sampler, TemperatureOneFollowsSoftmax) {
  const std::vector<double> probs{0.5, 0.3, 0.15, 0.05};
  SamplingParams p;
  p.seed = 7;
  Sampler s(p);
  auto h = histogram(s, logits_from_probs(probs), 40000);
  for (size_t i = 0; i < probs.size(); ++i) EXPECT_NEAR(h[i], probs[i], 0.01) << "token " << i;
}

TEST(Sampler, LowTemperatureSharpens) {
  SamplingParams p;
  p.temperature = 0.5f;  // p_i^2 renormalised: 0.25/0.34, 0.09/0.34
  p.seed = 3;
  Sampler s(p);
  auto h = histogram(s, logits_from_probs({0.5, 0.3, 0.2}), 40000);
  const double z = 0.25 + 0.09 + 0.04;
  EXPECT_NEAR(h[0], 0.25 / z, 0.01);
  EXPECT_NEAR(h[1], 0.09 / z, 0.01);
  EXPECT_NEAR(h[2], 0.04 / z, 0.01);
}

TEST(Sampler, TopKRestrictsAndRenormalises) {
  SamplingParams p;
  p.top_k = 2;
  p.seed = 1;
  Sampler s(p);
  auto h = histogram(s, logits_from_probs({0.1, 0.4, 0.2, 0.3}), 40000);
  EXPECT_EQ(h.count(0), 0u);
  EXPECT_EQ(h.count(2), 0u);
  EXPECT_NEAR(h[1], 0.4 / 0.7, 0.01);
  EXPECT_NEAR(h[3], 0.3 / 0.7, 0.01);
}

TEST(Sampler, TopPKeepsSmallestNucleus) {
  SamplingParams p;
  p.top_p = 0.75f;  // 0.4 + 0.3 = 0.7 < 0.75, so the 0.2 token is included too
  p.seed = 2;
  Sampler s(p);
  auto h = histogram(s, logits_from_probs({0.1, 0.4, 0.2, 0.3}), 40000);
  EXPECT_EQ(h.count(0), 0u);
  EXPECT_NEAR(h[1], 0.4 / 0.9, 0.01);
  EXPECT_NEAR(h[3], 0.3 / 0.9, 0.01);
  EXPECT_NEAR(h[2], 0.2 / 0.9, 0.01);
}

TEST(Sampler, TopPOverLargeVocabularySortsLazily) {
  // 5000 tokens: one with most of the mass, the rest tiny: the nucleus needs more than the first
  // block.
  std::vector<double> probs(5000, 0.5 / 4999);
  probs[4321] = 0.5;
  SamplingParams p;
  p.top_p = 0.6f;
  p.seed = 9;
  Sampler s(p);
  auto logits = logits_from_probs(probs);
  auto h = histogram(s, logits, 2000);
  EXPECT_NEAR(h[4321], 0.5 / 0.6, 0.03);
  EXPECT_GT(h.size(), 150u);  // ~1000 tail tokens are in the nucleus, ~1/6 of draws hit one
}

TEST(Sampler, MinPDropsTokensBelowFractionOfBest) {
  SamplingParams p;
  p.min_p = 0.5f;  // threshold 0.25: keeps 0.5 and 0.3
  p.seed = 4;
  Sampler s(p);
  auto h = histogram(s, logits_from_probs({0.5, 0.3, 0.15, 0.05}), 40000);
  EXPECT_EQ(h.count(2), 0u);
  EXPECT_EQ(h.count(3), 0u);
  EXPECT_NEAR(h[0], 0.5 / 0.8, 0.01);
}

TEST(Sampler, SameSeedSameSequenceDifferentSeedDifferent) {
  auto logits = logits_from_probs({0.2, 0.2, 0.2, 0.2, 0.2});
  auto run = [&](uint64_t seed) {
    SamplingParams p;
    p.seed = seed;
    p.top_p = 0.95f;
    Sampler s(p);
    std::vector<uint32_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(s.sample(logits, {}));
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampler, RngIsPinned) {
  // xoshiro256** seeded by splitmix64(0): a change here changes every seeded generation.
  Rng a(0), b(0);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next_u64(), b.next_u64());
  Rng c(0);
  const double d = c.next_double();
  EXPECT_GE(d, 0.0);
  EXPECT_LT(d, 1.0);
}

TEST(Penalties, RepetitionDividesPositiveMultipliesNegative) {
  std::vector<float> l{2.0f, -2.0f, 1.0f};
  const std::vector<uint32_t> hist{0, 1, 0};
  apply_penalties(l, hist, 2.0f, 0.0f, 0.0f);
  EXPECT_FLOAT_EQ(l[0], 1.0f);  // applied once, not per occurrence
  EXPECT_FLOAT_EQ(l[1], -4.0f);
  EXPECT_FLOAT_EQ(l[2], 1.0f);
}

TEST(Penalties, PresenceOnceFrequencyPerCount) {
  std::vector<float> l{0.0f, 0.0f, 0.0f};
  const std::vector<uint32_t> hist{0, 0, 0, 1, 99};  // 99 is outside the vocabulary: ignored
  apply_penalties(l, hist, 1.0f, 0.5f, 0.25f);
  EXPECT_FLOAT_EQ(l[0], -(0.5f + 0.75f));
  EXPECT_FLOAT_EQ(l[1], -(0.5f + 0.25f));
  EXPECT_FLOAT_EQ(l[2], 0.0f);
}

TEST(Penalties, ChangeGreedyChoice) {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 3.0f;
  Sampler s(p);
  const std::vector<float> logits{3.0f, 2.0f};
  EXPECT_EQ(s.sample(logits, {}), 0u);
  const std::vector<uint32_t> hist{0};
  EXPECT_EQ(s.sample(logits, hist), 1u);  // 3/3 = 1 < 2
}

TEST(Sampler, ValidationNamesTheField) {
  auto expect_bad = [](SamplingParams p, const std::string& field) {
    try {
      validate_sampling_params(p, "request");
      FAIL() << "accepted bad " << field;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  SamplingParams p;
  p.temperature = -1;
  expect_bad(p, "temperature");
  p = {};
  p.top_p = 0;
  expect_bad(p, "top_p");
  p = {};
  p.top_p = 1.5f;
  expect_bad(p, "top_p");
  p = {};
  p.top_k = -3;
  expect_bad(p, "top_k");
  p = {};
  p.min_p = 2;
  expect_bad(p, "min_p");
  p = {};
  p.repetition_penalty = 0;
  expect_bad(p, "repetition_penalty");
  p = {};
  p.presence_penalty = NAN;
  expect_bad(p, "presence_penalty");
  p = {};
  p.frequency_penalty = 5;
  expect_bad(p, "frequency_penalty");
  EXPECT_NO_THROW(validate_sampling_params(SamplingParams{}, "x"));
}

}  // namespace
}  // namespace moai::infer
