// GGUF export checked by llama.cpp itself: a random Qwen3 (with the real Qwen3 tokenizer) exported
// by `moai export gguf` must give, in llama.cpp (npm node-llama-cpp 3.21.1, CPU, flash attention
// off, F32 KV cache), the next-token probabilities moai computes, and llama.cpp must tokenize like
// moai. Uses
// ../shared/peers/llama_cpp_oracle.mjs; skips when node-llama-cpp is not installed.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "infer_fixtures.h"
#include "moai/core/file_util.h"
#include "moai/infer/gguf.h"
#include "moai/infer/gguf_export.h"
#include "moai/infer/loaded_model.h"
#include "test_paths.h"

namespace moai::infer {
namespace {

using nlohmann::json;

// A folder holding llama_cpp_oracle.mjs next to node_modules/node-llama-cpp.
std::string oracle_dir() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("MOAI_LLAMA_PEERS")) dirs.push_back(env);
  if (!test::shared_dir().empty()) dirs.push_back(test::shared_dir() + "/peers");
  dirs.push_back("/tmp/peers");
  for (const auto& d : dirs)
    if (file_exists(d + "/llama_cpp_oracle.mjs") &&
        file_exists(d + "/node_modules/node-llama-cpp/package.json"))
      return d;
  return "";
}

class GgufExport : public ::testing::Test {
 protected:
  void SetUp() override { MOAI_REQUIRE_ASSETS(); }
  std::string make_model(const std::string& name, bool tied) {
    const std::string dir = test::temp_dir(name);
    test::TinyModelSpec spec;
    spec.tokenizer_json = test::assets_dir() + "/qwen3/tokenizer.json";
    spec.hidden = 64;
    spec.layers = 2;
    spec.heads = 4;
    spec.kv_heads = 2;
    spec.head_dim = 16;
    spec.ffn = 128;
    spec.tied = tied;
    spec.seed = 3;
    test::write_tiny_model(dir, spec);
    // The tokenizer_config.json of the real Qwen3 (eos <|im_end|>, pad <|endoftext|>, chat
    // template).
    std::filesystem::copy_file(test::assets_dir() + "/qwen3/tokenizer_config.json",
                               dir + "/tokenizer_config.json",
                               std::filesystem::copy_options::overwrite_existing);
    return dir;
  }
};

TEST_F(GgufExport, MetadataTokenizerAndTensorsAreWhatLlamaCppExpects) {
  const std::string dir = make_model("gguf_meta_model", false);
  const std::string path = dir + "/model.gguf";
  GgufExportOptions options;
  options.type = GgmlType::kBF16;
  const GgufExportSummary s = export_gguf(dir, path, options);
  EXPECT_EQ(s.tensors, 2u * 11u + 3u);  // 11 per layer + embedding, final norm, lm_head
  EXPECT_EQ(s.pre_tokenizer, "qwen2");
  GgufFile f(path);
  const auto& kv = f.metadata();
  EXPECT_EQ(std::get<std::string>(kv.at("general.architecture")), "qwen3");
  EXPECT_EQ(std::get<uint32_t>(kv.at("general.file_type")), 32u);
  EXPECT_EQ(std::get<uint32_t>(kv.at("qwen3.block_count")), 2u);
  EXPECT_EQ(std::get<uint32_t>(kv.at("qwen3.attention.head_count_kv")), 2u);
  EXPECT_EQ(std::get<uint32_t>(kv.at("qwen3.attention.key_length")), 16u);
  EXPECT_EQ(std::get<std::string>(kv.at("tokenizer.ggml.model")), "gpt2");
  const auto& tokens = std::get<std::vector<std::string>>(kv.at("tokenizer.ggml.tokens"));
  const auto& types = std::get<std::vector<int32_t>>(kv.at("tokenizer.ggml.token_type"));
  ASSERT_EQ(tokens.size(), 151669u);
  EXPECT_EQ(tokens[151645], "<|im_end|>");
  EXPECT_EQ(types[151645], 3);  // control
  EXPECT_EQ(types[151667], 4);  // <think>: added but not special -> user-defined
  EXPECT_EQ(types[9707], 1);
  EXPECT_EQ(std::get<uint32_t>(kv.at("tokenizer.ggml.eos_token_id")), 151645u);
  EXPECT_EQ(std::get<uint32_t>(kv.at("tokenizer.ggml.padding_token_id")), 151643u);
  EXPECT_EQ(std::get<std::vector<std::string>>(kv.at("tokenizer.ggml.merges"))[0], "Ġ Ġ");
  EXPECT_FALSE(std::get<std::string>(kv.at("tokenizer.chat_template")).empty());
  // Norms stay F32, matrices are BF16, shapes reversed.
  EXPECT_EQ(f.find_tensor("blk.0.attn_q_norm.weight")->type, 0u);
  const auto* q = f.find_tensor("blk.1.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->type, 30u);
  EXPECT_EQ(q->ne, (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(f.find_tensor("blk.0.ffn_down.weight")->ne, (std::vector<int64_t>{128, 64}));
  ASSERT_NE(f.find_tensor("output.weight"), nullptr);
}

TEST_F(GgufExport, LlamaCppAgreesWithMoaiOnProbabilitiesAndTokens) {
  const std::string peers = oracle_dir();
  std::string node_version;
  if (peers.empty() || test::run_command("node --version", &node_version) != 0)
    GTEST_SKIP()
        << "node-llama-cpp not installed: npm install node-llama-cpp@3.21.1 in ../shared/peers (or "
           "/tmp/peers with a copy of the peers scripts, or set MOAI_LLAMA_PEERS)";
  for (bool tied : {true, false}) {
    const std::string dir = make_model(tied ? "gguf_oracle_tied" : "gguf_oracle_untied", tied);
    export_gguf(dir, dir + "/model.gguf", {});
    LoadedModel lm = load_model(dir);
    std::mt19937 gen(7);
    std::vector<uint32_t> ids(24);
    for (auto& id : ids) id = gen() % 151643u;
    const int64_t V = lm.model->vocab_size();
    std::vector<float> all(size_t(ids.size()) * size_t(V)), last(static_cast<size_t>(V));
    KvCache cache = lm.model->new_cache();
    lm.model->forward(cache, ids, last.data(), all.data());
    json ref = {{"input_ids", ids}, {"topk_ids", json::array()}, {"topk_probs", json::array()}};
    for (size_t t = 0; t < ids.size(); ++t) {
      const float* row = all.data() + t * size_t(V);
      const double mx = *std::max_element(row, row + V);
      double z = 0;
      for (int64_t v = 0; v < V; ++v) z += std::exp(double(row[v]) - mx);
      std::vector<uint32_t> order(static_cast<size_t>(V));
      std::iota(order.begin(), order.end(), 0u);
      std::partial_sort(order.begin(), order.begin() + 20, order.end(),
                        [&](uint32_t a, uint32_t b) { return row[a] > row[b]; });
      json top_ids = json::array(), top_p = json::array();
      for (int k = 0; k < 20; ++k) {
        top_ids.push_back(order[size_t(k)]);
        top_p.push_back(std::exp(double(row[order[size_t(k)]]) - mx) / z);
      }
      ref["topk_ids"].push_back(top_ids);
      ref["topk_probs"].push_back(top_p);
    }
    write_file_atomic(dir + "/ref.json", ref.dump());
    std::string out, err;
    ASSERT_EQ(test::run_command("cd " + peers + " && node llama_cpp_oracle.mjs " + dir, &out, &err),
              0)
        << err;
    const json got = json::parse(out.substr(out.find('{')));
    std::printf("[tied=%d] llama.cpp vs moai: %s\n", int(tied), got.dump().c_str());
    EXPECT_EQ(got["argmax_agree"], 24);
    EXPECT_LT(got["max_abs_prob_diff_topk"].get<double>(), 1e-4);
    // llama.cpp's tokenizer built from our metadata tokenizes like moai (strings without
    // NFC-sensitive text).
    const std::vector<std::string> texts = {"Hello world! It's 2025.", "안녕하세요, 세계",
                                            "<|im_start|>user\nhi<|im_end|>"};
    for (size_t i = 0; i < texts.size(); ++i)
      EXPECT_EQ(got["llama_tokenize"][i].get<std::vector<uint32_t>>(),
                lm.tokenizer->encode(texts[i]))
          << texts[i];
  }
}

}  // namespace
}  // namespace moai::infer
