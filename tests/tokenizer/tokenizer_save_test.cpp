// save(): load -> save -> load gives identical ids, the written files are stable, and HF tokenizers
// itself (npm @anush008/tokenizers, tests/peers/install.sh) loads the saved tokenizer.json and
// encodes and decodes exactly as we do.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "moai/core/file_util.h"
#include "moai/tokenizer/chat_template.h"
#include "tok_test_util.h"

namespace moai::test {
namespace {

using tok::TokenId;
using tok::Tokenizer;

// Edge-case texts plus the first documents of every corpus (a few hundred kB in all).
std::vector<std::string> sample_documents() {
  std::vector<std::string> texts;
  std::istringstream in(read_file(golden_dir() + "/tokenizer/edge_cases.jsonl"));
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) texts.push_back(nlohmann::json::parse(line)["text"].get<std::string>());
  for (const char* lang : {"en", "ko", "ja", "zh"}) {
    const std::string corpus = read_file(assets_dir() + "/corpora/" + lang + ".txt");
    auto docs = split_golden_docs(corpus.substr(0, 60000));
    docs.pop_back();  // the cut may end inside a document
    texts.insert(texts.end(), docs.begin(), docs.end());
  }
  return texts;
}

class TokenizerSave : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerSave, RoundTripKeepsEveryIdAndIsStable) {
  MOAI_REQUIRE_GOLDEN();
  MOAI_REQUIRE_ASSETS();
  const std::string name = GetParam();
  const Tokenizer& original = reference_tokenizer(name);
  const std::string dir = temp_dir("tok_save_" + name);
  original.save(dir);
  const Tokenizer reloaded = Tokenizer::load(dir);
  EXPECT_EQ(reloaded.vocab_size(), original.vocab_size());
  for (const std::string& text : sample_documents()) {
    for (bool special : {false, true}) {
      const auto ids = original.encode(text, special);
      ASSERT_EQ(reloaded.encode(text, special), ids) << name << " text " << text.substr(0, 60);
      ASSERT_EQ(reloaded.decode(ids, true), original.decode(ids, true));
    }
  }
  EXPECT_EQ(reloaded.special_ids().eos, original.special_ids().eos);
  EXPECT_EQ(reloaded.special_ids().pad, original.special_ids().pad);
  // Saving the reloaded tokenizer writes the same bytes again.
  const std::string dir2 = temp_dir("tok_save2_" + name);
  reloaded.save(dir2);
  for (const char* file : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"})
    EXPECT_EQ(read_file(dir + "/" + file), read_file(dir2 + "/" + file)) << file;
  const auto config = nlohmann::json::parse(read_file(dir + "/tokenizer_config.json"));
  EXPECT_EQ(config["tokenizer_class"], "PreTrainedTokenizerFast");
  EXPECT_EQ(config["chat_template"].get<std::string>(), tok::chatml_jinja_template());
}

INSTANTIATE_TEST_SUITE_P(References, TokenizerSave,
                         ::testing::Values("qwen3", "moai_kor_eng", "hf_bpe30k"));

TEST(TokenizerSaveConfig, DirectoryWithConfigKeepsRolesAndTemplate) {
  MOAI_REQUIRE_ASSETS();
  const Tokenizer qwen = Tokenizer::load(assets_dir() + "/qwen3");
  const std::string dir = temp_dir("tok_save_qwen_dir");
  qwen.save(dir);
  const auto config = nlohmann::json::parse(read_file(dir + "/tokenizer_config.json"));
  EXPECT_EQ(config["eos_token"], "<|im_end|>");
  EXPECT_EQ(config["pad_token"], "<|endoftext|>");
  EXPECT_TRUE(config["bos_token"].is_null());
  EXPECT_EQ(config["chat_template"].get<std::string>(), qwen.chat_template_source());
  const auto map = nlohmann::json::parse(read_file(dir + "/special_tokens_map.json"));
  EXPECT_EQ(map["eos_token"], "<|im_end|>");
  EXPECT_FALSE(map.contains("bos_token"));
}

// ---- HF peer
// ----------------------------------------------------------------------------------------

// The node command prefix that runs tests/peers/hf_encode.mjs, or empty (with the reason) when node
// or the npm package is missing.
std::string hf_peer_command(std::string& why_not) {
  if (std::system("node --version > /dev/null 2>&1") != 0) {
    why_not = "node not found";
    return "";
  }
  const std::string script = source_dir() + "/tests/peers/hf_encode.mjs";
  std::string node_path;
  if (file_exists(source_dir() + "/tests/peers/node_modules/@anush008/tokenizers/package.json")) {
    node_path = "";
  } else if (!shared_dir().empty() &&
             file_exists(shared_dir() + "/peers/node_modules/@anush008/tokenizers/package.json")) {
    node_path = "NODE_PATH='" + shared_dir() + "/peers/node_modules' ";
  } else {
    why_not = "npm package @anush008/tokenizers not installed (run tests/peers/install.sh)";
    return "";
  }
  return node_path + "node '" + script + "'";
}

class TokenizerHfPeer : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerHfPeer, HfLoadsOurSavedFileAndAgrees) {
  MOAI_REQUIRE_GOLDEN();
  MOAI_REQUIRE_ASSETS();
  std::string why_not;
  const std::string node = hf_peer_command(why_not);
  if (node.empty()) GTEST_SKIP() << "HF peer check skipped: " << why_not;
  const std::string name = GetParam();
  const Tokenizer& original = reference_tokenizer(name);
  const std::string dir = temp_dir("tok_peer_" + name);
  original.save(dir);
  const std::vector<std::string> texts = sample_documents();
  for (bool special : {false, true}) {
    nlohmann::json request = {{"texts", texts}, {"add_special_tokens", special}};
    write_file_atomic(dir + "/request.json", request.dump());
    const std::string cmd = node + " '" + dir + "/tokenizer.json' '" + dir + "/request.json' > '" +
                            dir + "/response.json'";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const auto response = nlohmann::json::parse(read_file(dir + "/response.json"));
    ASSERT_EQ(response["ids"].size(), texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
      const auto ours = original.encode(texts[i], special);
      ASSERT_EQ(response["ids"][i].get<std::vector<TokenId>>(), ours)
          << name << " text #" << i << ": " << texts[i].substr(0, 80);
      ASSERT_EQ(response["decoded"][i].get<std::string>(), original.decode(ours, false))
          << name << " text #" << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(References, TokenizerHfPeer,
                         ::testing::Values("qwen3", "moai_kor_eng", "hf_bpe30k"));

}  // namespace
}  // namespace moai::test
