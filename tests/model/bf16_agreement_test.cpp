// Issue 10's agreement check: a model trained in fp32 on real English text (bytes of the shared
// corpus as tokens), then run teacher-forced on a fixed held-out 200-token passage in fp32 and in
// bf16 mixed precision from the same weights: the next-token argmax must agree at >= 90% of the
// positions. The model must have learnt something first (its loss on the passage well below the
// uniform ln 256), so that agreement is not the trivial one of an untrained model.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include "moai/model/qwen3_model.h"
#include "moai/ops/ops.h"
#include "test_paths.h"

namespace moai::model {
namespace {

constexpr int64_t kVocab = 256;  // bytes
constexpr int64_t kSeq = 64, kBatch = 8, kSteps = 200, kPassage = 200;

Qwen3Config byte_config() {
  Qwen3Config c;
  c.vocab_size = kVocab;
  c.hidden_size = 96;
  c.intermediate_size = 256;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 24;
  c.max_position_embeddings = 256;
  c.tie_word_embeddings = false;
  c.initializer_range = 0.05;
  return c;
}

std::vector<int32_t> corpus_bytes(size_t count) {
  std::ifstream in(test::assets_dir() + "/corpora/en.txt", std::ios::binary);
  std::vector<int32_t> out;
  char ch;
  while (out.size() < count && in.get(ch)) out.push_back(int32_t(static_cast<unsigned char>(ch)));
  return out;
}

// kSteps AdamW steps of next-byte prediction on windows of text[0 .. train_end).
void train_fp32(Qwen3Model& model, ops::Backend& backend, const std::vector<int32_t>& text,
                size_t train_end) {
  const int64_t n = model.layout().total_floats();
  std::vector<float> m(size_t(n), 0.0f), v(size_t(n), 0.0f);
  std::vector<int32_t> ids(size_t(kBatch * kSeq)), labels(ids.size());
  for (int64_t step = 1; step <= kSteps; ++step) {
    for (int64_t b = 0; b < kBatch; ++b) {
      const size_t start = size_t((step * 7919 + b * 104729) % int64_t(train_end - kSeq - 1));
      for (int64_t t = 0; t < kSeq; ++t) {
        ids[size_t(b * kSeq + t)] = text[start + size_t(t)];
        labels[size_t(b * kSeq + t)] = text[start + size_t(t) + 1];
      }
    }
    model.zero_grads();
    model.forward(Batch{kBatch, kSeq, ids, labels, {}, {}}, ops::LossConfig::cross_entropy(), 0,
                  true);
    model.backward();
    ops::AdamWStep adamw;
    adamw.lr = 3e-3f;
    adamw.step = step;
    backend.adamw_update(ops::view(model.params(), {n}), ops::view(m.data(), {n}),
                         ops::view(v.data(), {n}), ops::view(model.grads(), {n}), adamw);
    model.weights_updated();
  }
}

// Logits of every position of `ids` (teacher-forced) under `precision`, from `params`.
std::vector<float> passage_logits(ops::Backend& backend, const std::vector<float>& params,
                                  const std::vector<int32_t>& ids, ops::Precision precision) {
  const int64_t t = int64_t(ids.size());
  Qwen3Model model(byte_config(), backend, {1, t, false, false, precision});
  model.set_params(params.data());
  std::vector<int64_t> rows(static_cast<size_t>(t));
  std::iota(rows.begin(), rows.end(), int64_t{0});
  std::vector<float> logits(size_t(t * kVocab));
  model.forward_logits(Batch{1, t, ids, {}, {}, {}}, rows, logits.data());
  return logits;
}

int64_t argmax(const float* row) {
  return int64_t(std::max_element(row, row + kVocab) - row);
}

TEST(Bf16Agreement, NextTokenArgmaxMatchesFp32OnTrainedModel) {
  MOAI_REQUIRE_ASSETS();
  const size_t train_end = 32768;
  const std::vector<int32_t> text = corpus_bytes(train_end + kPassage + 1);
  ASSERT_EQ(text.size(), train_end + kPassage + 1) << "corpora/en.txt is too short";
  auto backend = ops::make_cpu_backend(1);
  std::vector<float> params;
  {
    Qwen3Model model(byte_config(), *backend, {kBatch, kSeq, true, false});
    model.init_weights(17);
    train_fp32(model, *backend, text, train_end);
    params.resize(size_t(model.layout().total_floats()));
    model.get_params(params.data());
  }
  // The passage: 200 held-out bytes; position i predicts byte i + 1.
  const std::vector<int32_t> ids(text.begin() + std::ptrdiff_t(train_end),
                                 text.begin() + std::ptrdiff_t(train_end + kPassage));
  const std::vector<float> fp32 = passage_logits(*backend, params, ids, ops::Precision::kFp32);
  const std::vector<float> bf16 = passage_logits(*backend, params, ids, ops::Precision::kBf16);
  int64_t agree = 0;
  double loss = 0;
  for (int64_t i = 0; i < kPassage; ++i) {
    const float* row = fp32.data() + i * kVocab;
    agree += argmax(row) == argmax(bf16.data() + i * kVocab);
    const float top = row[argmax(row)];
    double sum = 0;
    for (int64_t j = 0; j < kVocab; ++j) sum += std::exp(double(row[j] - top));
    loss += std::log(sum) + top - row[text[train_end + size_t(i) + 1]];
  }
  loss /= double(kPassage);
  const double agreement = double(agree) / double(kPassage);
  std::printf(
      "bf16 vs fp32 next-token argmax agreement: %lld/%lld = %.1f%% (fp32 passage loss %.3f)\n",
      static_cast<long long>(agree), static_cast<long long>(kPassage), 100 * agreement, loss);
  EXPECT_LT(loss, 0.5 * std::log(double(kVocab))) << "the model did not learn the text";
  EXPECT_GE(agreement, 0.9);
}

}  // namespace
}  // namespace moai::model
