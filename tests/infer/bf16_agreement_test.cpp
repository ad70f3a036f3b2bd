// Generation in bf16 mixed precision against fp32 on a trained model: a small byte-level Qwen3 is
// trained here for a few seconds on English text (the shared corpus), then both precisions read a
// fixed held-out 200-byte text teacher-forced and their next-token argmaxes must agree at >= 90% of
// the positions (the bar; the agreement is printed).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "moai/infer/kv_model.h"
#include "moai/model/qwen3_model.h"
#include "test_paths.h"

namespace moai::infer {
namespace {

model::Qwen3Config byte_config() {
  model::Qwen3Config c;
  c.vocab_size = 256;
  c.hidden_size = 64;
  c.intermediate_size = 192;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 16;
  c.max_position_embeddings = 256;
  c.rope_theta = 10000;
  c.tie_word_embeddings = false;
  return c;
}

std::vector<int32_t> bytes_of(const std::string& text) {
  std::vector<int32_t> ids;
  for (unsigned char ch : text) ids.push_back(int32_t(ch));
  return ids;
}

// Trains on random windows of `text` and returns the host parameters and the last loss.
std::vector<float> train_bytes(const model::Qwen3Config& c, const std::vector<int32_t>& text,
                               double* last_loss) {
  auto backend = ops::make_cpu_backend(2);
  const int64_t B = 2, T = 128, steps = 80;
  model::ModelOptions options;
  options.max_batch = B;
  options.max_seq = T;
  model::Qwen3Model m(c, *backend, options);
  m.init_weights(11);
  const int64_t P = m.layout().total_floats();
  std::vector<float> moment1(size_t(P), 0.0f), moment2(size_t(P), 0.0f);
  std::vector<int32_t> ids(size_t(B * T)), labels(size_t(B * T));
  std::mt19937 gen(2);
  std::uniform_int_distribution<size_t> start(0, text.size() - size_t(T) - 2);
  for (int64_t step = 1; step <= steps; ++step) {
    for (int64_t b = 0; b < B; ++b) {
      const size_t s = start(gen);
      for (int64_t t = 0; t < T; ++t) {
        ids[size_t(b * T + t)] = text[s + size_t(t)];
        labels[size_t(b * T + t)] = text[s + size_t(t) + 1];
      }
    }
    m.zero_grads();
    *last_loss = m.forward({B, T, ids, labels, {}, {}}, ops::LossConfig::cross_entropy(), 0, true);
    m.backward();
    ops::AdamWStep adam;
    adam.lr = 1e-2f;
    adam.step = step;
    backend->adamw_update(ops::view(m.params(), {P}), ops::view(moment1.data(), {P}),
                          ops::view(moment2.data(), {P}), ops::view(m.grads(), {P}), adam);
    m.weights_updated();
  }
  std::vector<float> params(static_cast<size_t>(P));
  m.get_params(params.data());
  return params;
}

std::vector<float> teacher_forced_logits(InferenceModel& model, const std::vector<int32_t>& text) {
  const std::vector<uint32_t> tokens(text.begin(), text.end());
  std::vector<float> all(tokens.size() * size_t(model.vocab_size())),
      last(size_t(model.vocab_size()));
  KvCache cache = model.new_cache();
  model.forward(cache, tokens, last.data(), all.data());
  return all;
}

TEST(Bf16Generation, ArgmaxAgreesWithFp32OnATrainedModel) {
  MOAI_REQUIRE_ASSETS();
  std::ifstream in(test::assets_dir() + "/corpora/en.txt", std::ios::binary);
  ASSERT_TRUE(in) << "corpora/en.txt";
  std::string corpus(1 << 16, '\0');
  in.read(corpus.data(), std::streamsize(corpus.size()));
  ASSERT_EQ(in.gcount(), std::streamsize(corpus.size()));
  const std::string train_text = corpus.substr(0, 60000), held_out = corpus.substr(62000, 200);
  const model::Qwen3Config c = byte_config();
  double loss = 0;
  const std::vector<float> params = train_bytes(c, bytes_of(train_text), &loss);
  ASSERT_LT(loss, 3.0) << "the model did not learn (ln 256 = 5.55)";

  InferenceModel fp32(c, params, 0, 2, nullptr, ops::Precision::kFp32);
  InferenceModel bf16(c, params, 0, 2, nullptr, ops::Precision::kBf16);
  const std::vector<int32_t> text = bytes_of(held_out);
  const std::vector<float> a = teacher_forced_logits(fp32, text);
  const std::vector<float> b = teacher_forced_logits(bf16, text);
  const int64_t V = c.vocab_size, n = int64_t(text.size());
  int64_t agree = 0;
  double max_diff = 0;
  for (int64_t row = 0; row < n; ++row) {
    const float* x = a.data() + row * V;
    const float* y = b.data() + row * V;
    agree += std::max_element(x, x + V) - x == std::max_element(y, y + V) - y;
    for (int64_t i = 0; i < V; ++i) max_diff = std::max(max_diff, double(std::fabs(x[i] - y[i])));
  }
  std::printf(
      "bf16 vs fp32 next-token argmax agreement: %lld/%lld (%.1f%%), train loss %.3f, "
      "max |logit diff| %.3g\n",
      static_cast<long long>(agree), static_cast<long long>(n), 100.0 * double(agree) / double(n),
      loss, max_diff);
  EXPECT_GE(double(agree), 0.9 * double(n));
  EXPECT_GT(max_diff, 1e-4) << "bf16 logits equal fp32: the bf16 path did not run";
}

}  // namespace
}  // namespace moai::infer
