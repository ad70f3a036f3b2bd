// Loss values of the fused classifier against the definitions written out naively (full logits,
// double), the fast exp against libm, and the KV-cache attention shape against full attention.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "moai/ops/cpu/kernels.h"
#include "moai/ops/ops.h"

namespace moai::ops {
namespace {

template <class T>
TensorView flat(const std::vector<T>& values) {
  return view(values.data(), {int64_t(values.size())});
}

struct Reference {
  double ce, focal, smooth;
};

// The original project's definitions (inventory 3.8): focal (1-p)^g * CE; smoothing eps/(V-1)
// off-label.
Reference reference_losses(const std::vector<double>& logits, int label, double gamma, double eps) {
  const size_t V = logits.size();
  double max_logit = logits[0];
  for (double z : logits) max_logit = std::max(max_logit, z);
  double sum = 0;
  for (double z : logits) sum += std::exp(z - max_logit);
  const double lse = max_logit + std::log(sum);
  const double ce = lse - logits[size_t(label)];
  const double p = std::exp(-ce);
  double smooth = 0;
  for (size_t k = 0; k < V; ++k) {
    const double q = int(k) == label ? 1 - eps : eps / double(V - 1);
    smooth -= q * (logits[k] - lse);
  }
  return {ce, std::pow(1 - p, gamma) * ce, smooth};
}

TEST(ClassifierLoss, ValuesMatchTheDefinitions) {
  const int64_t N = 6, C = 8, V = 50;
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(N * C), w(V * C);
  for (float& value : x) value = normal(rng);
  for (float& value : w) value = normal(rng);
  std::vector<int32_t> labels = {1, 49, -100, 0, 7, 7};
  auto backend = make_cpu_backend(2);
  const LossConfig configs[] = {LossConfig::cross_entropy(), LossConfig::focal(2.0f),
                                LossConfig::label_smoothing(0.1f), LossConfig::multi_objective(),
                                LossConfig{0.2f, 0.5f, 0.3f, 1.5f, 0.2f, -100}};
  for (const LossConfig& config : configs) {
    std::vector<float> losses(N, -1.0f);
    backend->classifier_loss(view(losses.data(), {N}), absent<float>(), absent<float>(),
                             view(x.data(), {N, C}), view(w.data(), {V, C}),
                             view(labels.data(), {N}), config, 1.0f);
    for (int64_t row = 0; row < N; ++row) {
      if (labels[size_t(row)] == -100) {
        EXPECT_EQ(losses[size_t(row)], 0.0f);
        continue;
      }
      std::vector<double> logits(V);
      for (int64_t v = 0; v < V; ++v) {
        double sum = 0;
        for (int64_t c = 0; c < C; ++c)
          sum += double(x[size_t(row * C + c)]) * double(w[size_t(v * C + c)]);
        logits[size_t(v)] = sum;
      }
      const Reference ref =
          reference_losses(logits, labels[size_t(row)], config.focal_gamma, config.smoothing);
      const double expected = config.ce_weight * ref.ce + config.focal_weight * ref.focal +
                              config.smooth_weight * ref.smooth;
      EXPECT_NEAR(losses[size_t(row)], expected, 2e-5 * std::max(1.0, std::fabs(expected)))
          << "row " << row << " weights " << config.ce_weight << "/" << config.focal_weight << "/"
          << config.smooth_weight;
    }
  }
}

TEST(ClassifierLoss, ChunkingDoesNotChangeResults) {
  // V large enough that rows are processed in several chunks (chunk = 2^24 / V rows).
  const int64_t N = 80, C = 4, V = 400000;
  std::vector<float> x(N * C), w(size_t(V * C));
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  for (float& value : x) value = normal(rng);
  for (float& value : w) value = normal(rng);
  std::vector<int32_t> labels(N);
  for (int64_t i = 0; i < N; ++i) labels[size_t(i)] = int32_t((i * 7919) % V);
  std::vector<float> losses(N);
  auto backend = make_cpu_backend(2);
  backend->classifier_loss(view(losses.data(), {N}), absent<float>(), absent<float>(),
                           view(x.data(), {N, C}), view(w.data(), {V, C}), view(labels.data(), {N}),
                           LossConfig::cross_entropy(), 1.0f);
  for (int64_t row : {0, 41, 79}) {
    std::vector<float> one(1);
    backend->classifier_loss(view(one.data(), {1}), absent<float>(), absent<float>(),
                             view(x.data() + row * C, {1, C}), view(w.data(), {V, C}),
                             view(labels.data() + row, {1}), LossConfig::cross_entropy(), 1.0f);
    EXPECT_NEAR(one[0], losses[size_t(row)], 1e-5f * std::fabs(losses[size_t(row)]));
  }
}

TEST(FastExp, MatchesLibmToFloatPrecision) {
  double worst = 0;
  for (float x = -87.0f; x <= 0.0f; x += 0.0137f) {
    const double exact = std::exp(double(x));
    worst = std::max(worst, std::fabs(cpu::exp_nonpositive(x) - exact) / exact);
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(cpu::exp_nonpositive(-200.0f), 0.0f);
  EXPECT_EQ(cpu::exp_nonpositive(0.0f), 1.0f);
}

TEST(Attention, KvCacheShapeMatchesFullAttention) {
  // The last 3 queries against a 10-row cache (stored in a 16-row buffer) equal rows 7..9 of full
  // attention.
  const int64_t B = 2, T = 10, H = 4, KV = 2, D = 8, cache_rows = 16;
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> q(B * T * H * D), k(B * T * KV * D), v(B * T * KV * D);
  for (float& value : q) value = normal(rng);
  for (float& value : k) value = normal(rng);
  for (float& value : v) value = normal(rng);
  auto backend = make_cpu_backend(2);
  std::vector<float> full(q.size()), lse(B * H * T);
  backend->attention_forward(flat(full), flat(lse), flat(q), flat(k), flat(v), absent<int32_t>(),
                             {B, T, T, H, KV, D, 0, 0.35f});
  std::vector<float> k_cache(B * cache_rows * KV * D, 0.0f), v_cache(k_cache.size(), 0.0f);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < T * KV * D; ++i) {
      k_cache[size_t(b * cache_rows * KV * D + i)] = k[size_t(b * T * KV * D + i)];
      v_cache[size_t(b * cache_rows * KV * D + i)] = v[size_t(b * T * KV * D + i)];
    }
  const int64_t new_rows = 3;
  std::vector<float> q_new(B * new_rows * H * D), out(q_new.size());
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < new_rows * H * D; ++i)
      q_new[size_t(b * new_rows * H * D + i)] = q[size_t((b * T + T - new_rows) * H * D + i)];
  backend->attention_forward(flat(out), absent<float>(), flat(q_new), flat(k_cache), flat(v_cache),
                             absent<int32_t>(),
                             {B, new_rows, T, H, KV, D, cache_rows * KV * D, 0.35f});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < new_rows * H * D; ++i)
      EXPECT_NEAR(out[size_t(b * new_rows * H * D + i)],
                  full[size_t((b * T + T - new_rows) * H * D + i)], 1e-6);
}

TEST(Attention, DocumentMasksEqualSeparateSequences) {
  // Two documents packed in one row attend exactly as if they were two rows.
  const int64_t T = 8, H = 2, KV = 1, D = 4, first = 3;
  std::mt19937_64 rng(9);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> q(T * H * D), k(T * KV * D), v(T * KV * D);
  for (float& value : q) value = normal(rng);
  for (float& value : k) value = normal(rng);
  for (float& value : v) value = normal(rng);
  std::vector<int32_t> segments = {0, 0, 0, 1, 1, 1, 1, 1};
  auto backend = make_cpu_backend(2);
  std::vector<float> packed(q.size()), lse(H * T);
  backend->attention_forward(flat(packed), flat(lse), flat(q), flat(k), flat(v), flat(segments),
                             {1, T, T, H, KV, D, 0, 0.5f});
  std::vector<float> second(size_t((T - first) * H * D)), lse2(size_t(H * (T - first)));
  const int64_t rest = T - first;
  backend->attention_forward(flat(second), flat(lse2),
                             view(q.data() + first * H * D, {rest * H * D}),
                             view(k.data() + first * KV * D, {rest * KV * D}),
                             view(v.data() + first * KV * D, {rest * KV * D}), absent<int32_t>(),
                             {1, rest, rest, H, KV, D, 0, 0.5f});
  // Equal up to summation order (the softmax sums group keys in 8-lane blocks that start at other
  // offsets).
  for (size_t i = 0; i < second.size(); ++i)
    EXPECT_NEAR(packed[size_t(first * H * D) + i], second[i], 1e-6);
}

TEST(AdamW, SumSquaresIsExactAndIndependentOfThreads) {
  std::vector<float> x(100003);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(i % 17) * 0.25f;
  double expected = 0;
  for (float value : x) expected += double(value) * double(value);
  auto one = make_cpu_backend(1);
  const double a = one->sum_squares(flat(x));
  auto two = make_cpu_backend(2);
  const double b = two->sum_squares(flat(x));
  EXPECT_EQ(a, b);
  EXPECT_NEAR(a, expected, 1e-9 * expected);
}

}  // namespace
}  // namespace moai::ops
