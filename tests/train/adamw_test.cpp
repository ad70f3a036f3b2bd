// train::AdamW against torch (the golden step), against a scalar re-statement of torch's update
// over several steps, and global-norm clipping as torch.nn.utils.clip_grad_norm_.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "moai/core/safetensors.h"
#include "moai/model/param_layout.h"
#include "moai/train/adamw.h"
#include "moai/train/grad_clip.h"
#include "test_paths.h"

namespace moai::train {
namespace {

TEST(AdamW, OneStepFromGoldenGradsMatchesTorch) {
  MOAI_REQUIRE_GOLDEN();
  for (const char* name : {"tiny_tied", "small_untied"}) {
    const std::string dir = test::golden_dir() + "/model/" + name;
    const model::ParamLayout layout(model::load_qwen3_config(dir + "/config.json"));
    std::vector<float> params(size_t(layout.total_floats()), 0.0f), grads(params.size(), 0.0f);
    SafetensorsFile weights(dir + "/weights.safetensors"), grad_file(dir + "/grads.safetensors");
    for (const model::ParamInfo& info : layout.params()) {
      weights.get(info.name).to_f32(params.data() + info.offset, dir);
      grad_file.get(info.name).to_f32(grads.data() + info.offset, dir);
    }
    auto backend = ops::make_cpu_backend(2);
    AdamW adamw(*backend, layout, {0.9f, 0.95f, 1e-8f, 0.1f});
    adamw.step(params.data(), grads.data(), 1e-3f);
    EXPECT_EQ(adamw.step_count(), 1);
    SafetensorsFile after(dir + "/weights_after_1_adamw.safetensors");
    double worst = 0;
    for (const model::ParamInfo& info : layout.params()) {
      std::vector<float> expected(size_t(info.numel));
      after.get(info.name).to_f32(expected.data(), dir);
      for (int64_t i = 0; i < info.numel; ++i)
        worst = std::max(worst,
                         std::fabs(double(params[size_t(info.offset + i)]) - expected[size_t(i)]));
    }
    std::printf("[%s] AdamW max abs error %.3g\n", name, worst);
    EXPECT_LE(worst, 1e-6) << name;
  }
}

// ZeRO-1: three optimizers owning slices cut through the middle of tensors (weight-decayed 2-D and
// undecayed 1-D ones) give the same bits as one optimizer over the whole buffer, step after step.
TEST(AdamW, ShardedStepsEqualTheWholeBuffer) {
  model::Qwen3Config config;
  config.vocab_size = 8;
  config.hidden_size = 4;
  config.intermediate_size = 4;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 2;
  config.num_key_value_heads = 1;
  config.head_dim = 2;
  config.max_position_embeddings = 8;
  const model::ParamLayout layout(config);
  const int64_t n = layout.total_floats();
  std::vector<float> whole(static_cast<size_t>(n)), sharded(whole.size()), grads(whole.size());
  for (size_t i = 0; i < whole.size(); ++i) whole[i] = sharded[i] = 0.3f - 0.007f * float(i % 41);
  auto backend = ops::make_cpu_backend(1);
  const AdamWConfig settings{0.9f, 0.95f, 1e-8f, 0.1f};
  AdamW reference(*backend, layout, settings);
  const int64_t cuts[] = {0, n / 3 + 1, 2 * n / 3 - 1, n};  // not on tensor boundaries
  std::vector<std::unique_ptr<AdamW>> shards;
  for (int s = 0; s < 3; ++s)
    shards.push_back(std::make_unique<AdamW>(*backend, layout, settings, cuts[s], cuts[s + 1]));
  for (int step = 0; step < 3; ++step) {
    for (size_t i = 0; i < grads.size(); ++i) grads[i] = 0.01f * float(int((i + step) % 13) - 6);
    reference.step(whole.data(), grads.data(), 1e-2f, 0.7f);
    for (auto& shard : shards) shard->step(sharded.data(), grads.data(), 1e-2f, 0.7f);
  }
  EXPECT_EQ(shards[1]->size(), cuts[2] - cuts[1]);
  for (size_t i = 0; i < whole.size(); ++i) ASSERT_EQ(whole[i], sharded[i]) << "float " << i;
  EXPECT_NE(whole[0], 0.3f);  // it moved
}

TEST(AdamW, ThreeStepsFollowTorchsFormulaAndDecayOnly2D) {
  model::Qwen3Config config;
  config.vocab_size = 8;
  config.hidden_size = 4;
  config.intermediate_size = 4;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 2;
  config.num_key_value_heads = 1;
  config.head_dim = 2;
  config.max_position_embeddings = 8;
  const model::ParamLayout layout(config);
  std::vector<float> params(size_t(layout.total_floats())), grads(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    params[i] = 0.5f - 0.01f * float(i % 37);
    grads[i] = 0.02f * float(int(i % 11) - 5);
  }
  std::vector<double> p(params.begin(), params.end()), m(p.size(), 0.0), v(p.size(), 0.0);
  auto backend = ops::make_cpu_backend(1);
  AdamW adamw(*backend, layout, {0.9f, 0.95f, 1e-8f, 0.1f});
  const float lr = 0.01f, scale = 0.5f;
  for (int step = 1; step <= 3; ++step) {
    adamw.step(params.data(), grads.data(), lr, scale);
    for (const model::ParamInfo& info : layout.params()) {
      const double wd = info.shape.size() >= 2 ? 0.1 : 0.0;
      for (int64_t j = info.offset; j < info.offset + info.numel; ++j) {
        const double g = double(grads[size_t(j)]) * scale;
        p[size_t(j)] *= 1 - lr * wd;
        m[size_t(j)] = 0.9 * m[size_t(j)] + 0.1 * g;
        v[size_t(j)] = 0.95 * v[size_t(j)] + 0.05 * g * g;
        const double denom = std::sqrt(v[size_t(j)]) / std::sqrt(1 - std::pow(0.95, step)) + 1e-8;
        p[size_t(j)] -= lr / (1 - std::pow(0.9, step)) * m[size_t(j)] / denom;
      }
    }
  }
  for (const model::ParamInfo& info : layout.params())
    for (int64_t j = info.offset; j < info.offset + info.numel; ++j)
      EXPECT_NEAR(params[size_t(j)], p[size_t(j)], 2e-6) << info.name;
}

TEST(GradClip, MatchesTorchClipGradNorm) {
  std::vector<float> grads = {3.0f, 4.0f, 0.0f, 12.0f};  // norm 13
  auto backend = ops::make_cpu_backend(1);
  const double norm = global_grad_norm(*backend, grads.data(), int64_t(grads.size()));
  EXPECT_DOUBLE_EQ(norm, 13.0);
  EXPECT_FLOAT_EQ(clip_scale(norm, 1.0), float(1.0 / (13.0 + 1e-6)));
  EXPECT_EQ(clip_scale(norm, 100.0), 1.0f);
  EXPECT_EQ(clip_scale(norm, 0.0), 1.0f);  // clipping off
}

}  // namespace
}  // namespace moai::train
