// The KV-cache inference forward against (1) PyTorch's logits (the model goldens) and (2) itself:
// logits from prefill + incremental decode must equal a full recompute at every position.
#include "moai/infer/kv_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "moai/core/error.h"
#include "moai/core/safetensors.h"
#include "moai/model/param_layout.h"
#include "moai/model/qwen3_config.h"
#include "moai/model/qwen3_model.h"
#include "test_paths.h"

namespace moai::infer {
namespace {

using model::ParamLayout;
using model::Qwen3Config;

// max |a-b| / (max |b| over the row): logits are compared per row on the row's own scale.
double max_row_error(const float* a, const float* b, int64_t rows, int64_t cols) {
  double worst = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double scale = 1e-6, diff = 0;
    for (int64_t c = 0; c < cols; ++c) {
      scale = std::max(scale, double(std::fabs(b[r * cols + c])));
      diff = std::max(diff, double(std::fabs(a[r * cols + c] - b[r * cols + c])));
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

Qwen3Config small_config() {
  Qwen3Config c;
  c.vocab_size = 300;
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 32;  // 4 * 32 = 128 != 64: q_dim differs from hidden
  c.max_position_embeddings = 128;
  c.rope_theta = 10000;
  c.tie_word_embeddings = false;
  return c;
}

std::vector<float> random_params(const Qwen3Config& c, uint32_t seed) {
  const ParamLayout layout(c);
  std::vector<float> p(size_t(layout.total_floats()));
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (const auto& info : layout.params()) {
    const bool norm = info.shape.size() == 1;
    for (int64_t i = 0; i < info.numel; ++i)
      p[size_t(info.offset + i)] = norm ? 1.0f + 0.1f * normal(gen) : normal(gen);
  }
  return p;
}

// count token ids in [0, vocab) from seed.
std::vector<uint32_t> random_tokens(size_t count, uint32_t seed, int64_t vocab) {
  std::mt19937 gen(seed);
  std::vector<uint32_t> tokens(count);
  for (auto& t : tokens) t = gen() % uint32_t(vocab);
  return tokens;
}

// The logits [T, V] of every position of tokens, from one prefill of a fresh cache.
std::vector<float> prefill_logits(InferenceModel& m, std::span<const uint32_t> tokens) {
  const size_t V = size_t(m.config().vocab_size);
  std::vector<float> full(tokens.size() * V), last(V);
  KvCache fresh = m.new_cache();
  m.forward(fresh, tokens, last.data(), full.data());
  EXPECT_EQ(fresh.length(), int64_t(tokens.size()));
  return full;
}

TEST(KvModel, IncrementalDecodeEqualsFullRecomputeAtEveryPosition) {
  const Qwen3Config c = small_config();
  InferenceModel m(c, random_params(c, 1), 0, 2);
  const std::vector<uint32_t> tokens = random_tokens(70, 5, c.vocab_size);
  const int64_t T = int64_t(tokens.size()), V = c.vocab_size;
  const std::vector<float> full = prefill_logits(m, tokens);

  // Prefill 9, then single tokens, a chunk of 6, then single tokens again.
  KvCache cache = m.new_cache();
  std::vector<float> step(static_cast<size_t>(V));
  m.forward(cache, std::span(tokens).first(9), step.data());
  EXPECT_LE(max_row_error(step.data(), full.data() + 8 * V, 1, V), 2e-5);
  int64_t pos = 9;
  auto one = [&](int64_t count) {
    m.forward(cache, std::span(tokens).subspan(size_t(pos), size_t(count)), step.data());
    pos += count;
    const double err = max_row_error(step.data(), full.data() + (pos - 1) * V, 1, V);
    EXPECT_LE(err, 2e-5) << "position " << pos - 1;
  };
  for (int i = 0; i < 30; ++i) one(1);
  one(6);
  while (pos < T) one(1);
  EXPECT_EQ(cache.length(), T);

  // Truncating back and re-decoding gives the same logits again (chat reuses a shared prefix).
  cache.truncate(20);
  pos = 20;
  one(1);
}

// bf16: the decode steps (matrix-vector products, the decode attention kernel reading the bf16
// cache) track the full recompute (the prefill paths) within bf16 rounding of the activations.
TEST(KvModel, Bf16IncrementalDecodeTracksFullRecompute) {
  const Qwen3Config c = small_config();
  InferenceModel m(c, random_params(c, 1), 0, 2, nullptr, ops::Precision::kBf16);
  const std::vector<uint32_t> tokens = random_tokens(40, 7, c.vocab_size);
  const int64_t T = int64_t(tokens.size()), V = c.vocab_size;
  const std::vector<float> full = prefill_logits(m, tokens);
  KvCache cache = m.new_cache();
  std::vector<float> step(static_cast<size_t>(V));
  m.forward(cache, std::span(tokens).first(5), step.data());
  for (int64_t pos = 5; pos < T; ++pos) {
    m.forward(cache, std::span(tokens).subspan(size_t(pos), 1), step.data());
    EXPECT_LE(max_row_error(step.data(), full.data() + pos * V, 1, V), 3e-2) << "position " << pos;
  }
}

// A prompt longer than one forward chunk (256 rows) is prefilled in pieces; its logits equal a
// token-by-token decode, and the full-sequence model (training's forward) on the same weights.
TEST(KvModel, ChunkedPrefillEqualsDecodeAndTheTrainingForward) {
  Qwen3Config c = small_config();
  c.max_position_embeddings = 320;
  const std::vector<float> params = random_params(c, 4);
  InferenceModel m(c, params, 0, 2);
  const std::vector<uint32_t> tokens = random_tokens(300, 8, c.vocab_size);
  const int64_t T = int64_t(tokens.size()), V = c.vocab_size;
  const std::vector<float> full = prefill_logits(m, tokens);
  std::vector<float> last(static_cast<size_t>(V));
  KvCache decode = m.new_cache();
  for (int64_t t = 0; t < T; ++t) {
    m.forward(decode, std::span(tokens).subspan(size_t(t), 1), last.data());
    ASSERT_LE(max_row_error(last.data(), full.data() + t * V, 1, V), 2e-5) << "position " << t;
  }
  auto backend = ops::make_cpu_backend(2);
  model::ModelOptions options;
  options.max_seq = T;
  options.training = false;
  model::Qwen3Model reference(c, *backend, options);
  reference.set_params(params.data());
  const std::vector<int32_t> ids(tokens.begin(), tokens.end());
  std::vector<int64_t> rows(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) rows[size_t(t)] = t;
  std::vector<float> want(static_cast<size_t>(T * V));
  reference.forward_logits({1, T, ids, {}, {}, {}}, rows, want.data());
  EXPECT_LE(max_row_error(full.data(), want.data(), T, V), 2e-5);
}

TEST(KvModel, BatchedDecodeEqualsOneSequenceAtATime) {
  Qwen3Config c = small_config();
  c.max_position_embeddings = 512;
  InferenceModel m(c, random_params(c, 3), 0, 2);
  const int64_t V = c.vocab_size;
  std::mt19937 gen(11);
  auto random_tokens = [&](size_t n) {
    std::vector<uint32_t> t(n);
    for (auto& id : t) id = gen() % uint32_t(V);
    return t;
  };
  // Different lengths, one past the cache's first allocation (256 rows) so growth is covered.
  const std::vector<size_t> prompt_lengths = {3, 17, 300, 40};
  std::vector<KvCache> alone, batched;
  std::vector<float> logits(static_cast<size_t>(V));
  for (size_t length : prompt_lengths) {
    const auto prompt = random_tokens(length);
    alone.push_back(m.new_cache());
    batched.push_back(m.new_cache());
    m.forward(alone.back(), prompt, logits.data());
    m.forward(batched.back(), prompt, logits.data());
  }
  std::vector<KvCache*> caches;
  for (auto& cache : batched) caches.push_back(&cache);
  std::vector<float> batch_logits(prompt_lengths.size() * size_t(V));
  for (int step = 0; step < 6; ++step) {
    // A step may serve a subset of the sequences (requests come and go).
    const size_t count = step == 3 ? 2 : caches.size();
    const auto tokens = random_tokens(count);
    m.forward_batch(std::span(caches).first(count), tokens, batch_logits.data());
    for (size_t i = 0; i < count; ++i) {
      m.forward(alone[i], std::span(tokens).subspan(i, 1), logits.data());
      EXPECT_LE(max_row_error(batch_logits.data() + i * size_t(V), logits.data(), 1, V), 2e-5)
          << "sequence " << i << ", step " << step;
      EXPECT_EQ(batched[i].length(), alone[i].length());
    }
  }
}

TEST(KvModel, BatchedDecodeRefusesAFullContextBeforeTouchingAnyCache) {
  const Qwen3Config c = small_config();
  InferenceModel m(c, random_params(c, 4), 8, 1);
  KvCache short_cache = m.new_cache(), full_cache = m.new_cache();
  std::vector<float> logits(2 * size_t(c.vocab_size));
  m.forward(short_cache, std::vector<uint32_t>(2, 5), logits.data());
  m.forward(full_cache, std::vector<uint32_t>(8, 5), logits.data());
  KvCache* caches[2] = {&short_cache, &full_cache};
  const uint32_t tokens[2] = {1, 2};
  EXPECT_THROW(m.forward_batch(caches, tokens, logits.data()), InputError);
  EXPECT_EQ(short_cache.length(), 2);
  EXPECT_EQ(full_cache.length(), 8);
}

TEST(KvModel, ContextAndVocabularyLimitsAreInputErrors) {
  const Qwen3Config c = small_config();
  InferenceModel m(c, random_params(c, 2), 16, 1);
  KvCache cache = m.new_cache();
  std::vector<float> logits(static_cast<size_t>(c.vocab_size));
  std::vector<uint32_t> ten(10, 3);
  m.forward(cache, ten, logits.data());
  EXPECT_THROW(m.forward(cache, std::vector<uint32_t>(7, 3), logits.data()), InputError);
  EXPECT_EQ(cache.length(), 10);  // a rejected call leaves the cache alone
  EXPECT_THROW(m.forward(cache, std::vector<uint32_t>{uint32_t(c.vocab_size)}, logits.data()),
               InputError);
  EXPECT_THROW(m.forward(cache, std::vector<uint32_t>{}, logits.data()), InputError);
}

class KvModelGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(KvModelGolden, PrefillAndDecodeMatchPyTorchLogits) {
  MOAI_REQUIRE_GOLDEN();
  const std::string dir = test::golden_dir() + "/model/" + GetParam();
  const Qwen3Config c = model::load_qwen3_config(dir + "/config.json");
  const ParamLayout layout(c);
  std::vector<float> params(size_t(layout.total_floats()));
  SafetensorsFile weights(dir + "/weights.safetensors");
  for (const auto& info : layout.params())
    weights.get(info.name).to_f32(params.data() + info.offset, dir);
  SafetensorsFile io(dir + "/io.safetensors");
  const auto& ids_tensor = io.get("input_ids");
  const int64_t B = ids_tensor.shape[0], T = ids_tensor.shape[1], V = c.vocab_size;
  std::vector<int64_t> ids(static_cast<size_t>(B * T));
  ids_tensor.to_i64(ids.data(), dir);
  std::vector<float> expected(static_cast<size_t>(B * T * V));
  io.get("logits").to_f32(expected.data(), dir);

  InferenceModel m(c, std::move(params), 0, 2);
  std::vector<float> got(static_cast<size_t>(T * V)), last(static_cast<size_t>(V));
  for (int64_t b = 0; b < B; ++b) {
    std::vector<uint32_t> row(ids.begin() + b * T, ids.begin() + (b + 1) * T);
    KvCache cache = m.new_cache();
    m.forward(cache, row, last.data(), got.data());
    const double prefill_err = max_row_error(got.data(), expected.data() + b * T * V, T, V);
    EXPECT_LE(prefill_err, 1e-4) << "row " << b;
    // Half prefill, then token by token.
    KvCache inc = m.new_cache();
    const int64_t half = T / 2;
    m.forward(inc, std::span(row).first(static_cast<size_t>(half)), last.data());
    for (int64_t t = half; t < T; ++t) {
      m.forward(inc, std::span(row).subspan(size_t(t), 1), last.data());
      const double err = max_row_error(last.data(), expected.data() + (b * T + t) * V, 1, V);
      EXPECT_LE(err, 1e-4) << "row " << b << " position " << t;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Goldens, KvModelGolden,
                         ::testing::Values("tiny_tied", "small_untied", "yarn"));

}  // namespace
}  // namespace moai::infer
