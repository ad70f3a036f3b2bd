// The tokenizer pipeline on small hand-made tokenizer.json files: BPE merge order (both merge paths
// against a naive reference), dropped and unknown bytes, added-token flags, post-processor, decode,
// errors for unsupported or malformed files, and thread safety.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>

#include "moai/core/error.h"
#include "moai/tokenizer/byte_level.h"
#include "moai/tokenizer/tokenizer.h"
#include "moai/tokenizer/tokenizer_impl.h"
#include "tok_test_util.h"

namespace moai::tok {
namespace {

using nlohmann::json;

// A byte-level BPE tokenizer.json: the 256 byte symbols (ids 0..255 in byte order, minus
// `missing`), then one id per merge result, in merge order.
json tiny_tokenizer(const std::vector<std::pair<std::string, std::string>>& merges,
                    const std::string& missing_bytes = "") {
  json vocab = json::object();
  uint32_t next = 0;
  for (int b = 0; b < 256; ++b) {
    if (missing_bytes.find(static_cast<char>(b)) != std::string::npos) continue;
    vocab[byte_to_unicode(static_cast<uint8_t>(b))] = next++;
  }
  json merge_list = json::array();
  for (const auto& [a, b] : merges) {
    const std::string ma = byte_level_encode(a), mb = byte_level_encode(b);
    if (!vocab.contains(ma + mb)) vocab[ma + mb] = next++;
    merge_list.push_back(json::array({ma, mb}));
  }
  return json{{"version", "1.0"},
              {"truncation", nullptr},
              {"padding", nullptr},
              {"added_tokens", json::array()},
              {"normalizer", nullptr},
              {"pre_tokenizer",
               {{"type", "ByteLevel"},
                {"add_prefix_space", false},
                {"trim_offsets", true},
                {"use_regex", true}}},
              {"post_processor", nullptr},
              {"decoder", {{"type", "ByteLevel"}}},
              {"model",
               {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"vocab", vocab},
                {"merges", merge_list}}}};
}

Tokenizer build(const json& j) {
  return Tokenizer::from_json(j.dump(), "tiny.json");
}

std::vector<std::string> pieces(const Tokenizer& t, const std::vector<TokenId>& ids) {
  std::vector<std::string> out;
  for (TokenId id : ids) out.push_back(t.decode(std::span(&id, 1)));
  return out;
}

using P = std::vector<std::string>;

TEST(TokenizerModel, MergesApplyLowestRankFirstLeftmostOnTies) {
  const Tokenizer only_aa = build(tiny_tokenizer({{"a", "a"}}));
  EXPECT_EQ(pieces(only_aa, only_aa.encode("aaa")), (P{"aa", "a"}));  // (a,a) at 0 beats (a,a) at 1
  const Tokenizer t = build(tiny_tokenizer({{"a", "a"}, {"b", "c"}, {"aa", "a"}, {"a", "bc"}}));
  EXPECT_EQ(pieces(t, t.encode("aaa")), (P{"aaa"}));
  EXPECT_EQ(pieces(t, t.encode("abc")), (P{"abc"}));        // (b,c) ranks before (a,b)-less a+bc
  EXPECT_EQ(pieces(t, t.encode("aaaa")), (P{"aa", "aa"}));  // both (a,a) first; no (aa,aa) merge
}

// Naive BPE over token strings, the definition HF's merge loop implements.
std::vector<std::string> naive_bpe(const std::string& word,
                                   const std::vector<std::pair<std::string, std::string>>& merges) {
  std::vector<std::string> sym;
  for (char c : word) sym.emplace_back(1, c);
  while (sym.size() > 1) {
    size_t best_rank = SIZE_MAX, best_pos = 0;
    for (size_t i = 0; i + 1 < sym.size(); ++i) {
      for (size_t r = 0; r < merges.size() && r < best_rank; ++r) {
        if (merges[r].first == sym[i] && merges[r].second == sym[i + 1]) {
          best_rank = r;
          best_pos = i;
          break;
        }
      }
    }
    if (best_rank == SIZE_MAX) break;
    sym[best_pos] += sym[best_pos + 1];
    sym.erase(sym.begin() + static_cast<long>(best_pos) + 1);
  }
  return sym;
}

TEST(TokenizerModel, ShortAndLongWordPathsEqualNaiveBpe) {
  const std::vector<std::pair<std::string, std::string>> merges = {
      {"a", "b"},  {"b", "a"},   {"ab", "a"},    {"a", "a"},  {"ab", "ab"}, {"c", "a"},
      {"aa", "b"}, {"ba", "ba"}, {"abab", "ab"}, {"ca", "b"}, {"b", "b"},   {"cab", "cab"}};
  const Tokenizer t = build(tiny_tokenizer(merges));
  std::mt19937 rng(3);
  for (int iter = 0; iter < 400; ++iter) {
    const size_t len = 1 + rng() % 200;  // words beyond 64 bytes take the heap path
    std::string word;
    for (size_t k = 0; k < len; ++k) word.push_back("abc"[rng() % 3]);
    ASSERT_EQ(pieces(t, t.encode(word)), naive_bpe(word, merges)) << word;
  }
}

TEST(TokenizerModel, BytesMissingFromVocabAreDroppedAndNeighboursMerge) {
  // Like hf_bpe30k (which has no TAB): here no 'z' in the vocabulary and no unk token.
  const Tokenizer t = build(tiny_tokenizer({{"a", "b"}}, "z"));
  EXPECT_EQ(pieces(t, t.encode("azb")), (P{"ab"}));
  EXPECT_EQ(pieces(t, t.encode("zzaz bz")), (P{"a", " ", "b"}));  // no (" ", b) merge
  EXPECT_TRUE(t.encode("z").empty());
}

TEST(TokenizerModel, UnknownBytesBecomeUnkAndFuseWhenAsked) {
  json j = tiny_tokenizer({}, "z");
  j["model"]["vocab"]["<unk>"] = 300;
  j["model"]["unk_token"] = "<unk>";
  EXPECT_EQ(build(j).encode("azzb"), (std::vector<TokenId>{'a', 300, 300, 'b'}));
  j["model"]["fuse_unk"] = true;
  EXPECT_EQ(build(j).encode("azzb"), (std::vector<TokenId>{'a', 300, 'b'}));
  EXPECT_EQ(build(j).special_ids().unk, std::optional<TokenId>(300));
}

json with_added(json j, const json& token) {
  j["added_tokens"].push_back(token);
  return j;
}
json added(uint32_t id, const std::string& content, bool special = true) {
  return {{"id", id},        {"content", content},  {"single_word", false}, {"lstrip", false},
          {"rstrip", false}, {"normalized", false}, {"special", special}};
}

TEST(TokenizerModel, AddedTokenFlags) {
  const json base = tiny_tokenizer({});
  {
    const Tokenizer t = build(with_added(base, added(500, "<x>")));
    EXPECT_EQ(t.encode("a<x>b"), (std::vector<TokenId>{'a', 500, 'b'}));
    EXPECT_EQ(t.decode(t.encode("a<x>b"), true), "ab");
    EXPECT_EQ(t.decode(t.encode("a<x>b"), false), "a<x>b");
  }
  {
    json tok = added(500, "<x>");
    tok["lstrip"] = true;
    tok["rstrip"] = true;
    const Tokenizer t = build(with_added(base, tok));
    EXPECT_EQ(t.encode("a  <x>  b"), (std::vector<TokenId>{'a', 500, 'b'}));
  }
  {
    json tok = added(500, "ab", false);
    tok["single_word"] = true;
    const Tokenizer t = build(with_added(base, tok));
    EXPECT_EQ(t.encode("ab"), (std::vector<TokenId>{500}));
    EXPECT_EQ(t.encode("x ab."), (std::vector<TokenId>{'x', ' ', 500, '.'}));
    EXPECT_EQ(t.encode("cab"), (std::vector<TokenId>{'c', 'a', 'b'}));
  }
  {
    // normalized=true tokens match the normalized text: U+FB01 becomes "fi" under NFKC.
    json j = base;
    j["normalizer"] = {{"type", "NFKC"}};
    json tok = added(500, "fi", false);
    tok["normalized"] = true;
    const Tokenizer t = build(with_added(j, tok));
    EXPECT_EQ(t.encode("\xEF\xAC\x81"), (std::vector<TokenId>{500}));
  }
}

TEST(TokenizerModel, TemplatePostProcessorOnlyWithAddSpecialTokens) {
  json j = with_added(with_added(tiny_tokenizer({}), added(400, "<s>")), added(401, "</s>"));
  j["post_processor"] = {
      {"type", "TemplateProcessing"},
      {"single", json::array({{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                              {{"SpecialToken", {{"id", "</s>"}, {"type_id", 0}}}}})},
      {"pair", json::array()},
      {"special_tokens",
       {{"<s>", {{"id", "<s>"}, {"ids", {400}}, {"tokens", {"<s>"}}}},
        {"</s>", {{"id", "</s>"}, {"ids", {401}}, {"tokens", {"</s>"}}}}}}};
  const Tokenizer t = build(j);
  EXPECT_EQ(t.encode("a", false), (std::vector<TokenId>{'a'}));
  EXPECT_EQ(t.encode("a", true), (std::vector<TokenId>{400, 'a', 401}));
  EXPECT_EQ(t.encode("", true), (std::vector<TokenId>{400, 401}));
}

void expect_input_error(const std::string& text, const std::string& needle) {
  try {
    Tokenizer::from_json(text, "bad.json");
    ADD_FAILURE() << "no error for " << needle;
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.json"), std::string::npos) << e.what();
  }
}

TEST(TokenizerModel, UnsupportedOrMalformedFilesAreInputErrors) {
  const json base = tiny_tokenizer({{"a", "b"}});
  expect_input_error("{\"model\": ", "invalid JSON");
  expect_input_error("[]", "expected a JSON object");
  expect_input_error("{\"model\": 6e666}", "invalid JSON");  // number overflow (found by fuzz_load)
  json j = base;
  j["normalizer"] = {{"type", "Lowercase"}};
  expect_input_error(j.dump(), "normalizer 'Lowercase' is not supported");
  j = base;
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers", json::array({{{"type", "Split"},
                                      {"pattern", {{"Regex", "\\w+"}}},
                                      {"behavior", "Isolated"},
                                      {"invert", false}},
                                     {{"type", "ByteLevel"}, {"use_regex", false}}})}};
  expect_input_error(j.dump(), "unknown split pattern '\\w+'");
  j = base;
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  expect_input_error(j.dump(), "pre-tokenizer 'Whitespace' is not supported");
  j = base;
  j["model"]["type"] = "WordPiece";
  expect_input_error(j.dump(), "model type 'WordPiece'");
  j = base;
  j["model"]["byte_fallback"] = true;
  expect_input_error(j.dump(), "model.byte_fallback");
  j = base;
  j["model"]["merges"].push_back(json::array({"a", "zz"}));
  expect_input_error(j.dump(), "model.merges[1]");
  j = base;
  j["model"]["merges"] = json::array({"a b c"});
  expect_input_error(j.dump(), "model.merges[0]");
  j = base;
  j["truncation"] = {{"max_length", 5}};
  expect_input_error(j.dump(), "truncation");
  j = base;
  j["decoder"] = {{"type", "WordPiece"}};
  expect_input_error(j.dump(), "decoder 'WordPiece'");
  j = base;
  j["post_processor"] = {{"type", "BertProcessing"}};
  expect_input_error(j.dump(), "post-processor 'BertProcessing'");
  j = base;
  j["model"].erase("vocab");
  expect_input_error(j.dump(), "model.vocab: missing field");
  j = base;
  j["added_tokens"] = json::array({{{"id", -1}, {"content", "x"}}});
  expect_input_error(j.dump(), "added_tokens[0].id");
}

TEST(TokenizerModel, LoadErrorsNameThePath) {
  EXPECT_THROW(Tokenizer::load("/nonexistent/tokenizer.json"), InputError);
  const std::string dir = test::temp_dir("tok_empty_dir");
  try {
    Tokenizer::load(dir);
    ADD_FAILURE();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no tokenizer.json"), std::string::npos);
  }
}

TEST(TokenizerModel, TruncatedRealFileIsAnInputError) {
  MOAI_REQUIRE_ASSETS();
  const std::string text = read_file(test::reference_tokenizer_path("moai_kor_eng"));
  for (size_t cut : {size_t{0}, size_t{10}, text.size() / 2, text.size() - 3})
    EXPECT_THROW(Tokenizer::from_json(text.substr(0, cut), "cut.json"), InputError) << cut;
}

TEST(TokenizerModel, BatchEqualsSequentialAcrossThreads) {
  MOAI_REQUIRE_ASSETS();
  const Tokenizer& t = test::reference_tokenizer("qwen3");
  std::vector<std::string> docs;
  std::mt19937 rng(11);
  const std::vector<std::string> parts = {
      "hello", " world",     "\n\n", "가나다", " 東京",
      "123",   "<|im_end|>", "  ",   "don't",  "\xF0\x9F\x98\x80"};
  for (int d = 0; d < 300; ++d) {
    std::string s;
    for (int k = 0; k < 40; ++k) s += parts[rng() % parts.size()];
    docs.push_back(s);
  }
  std::vector<std::vector<TokenId>> sequential;
  t.impl().model().clear_cache();
  for (const auto& d : docs) sequential.push_back(t.encode(d));
  t.impl().model().clear_cache();
  EXPECT_EQ(t.encode_batch(docs, false, 4), sequential);
  EXPECT_EQ(t.encode_batch(docs, false, 1), sequential);
}

TEST(TokenizerModel, InvalidUtf8IsReplacedNotDropped) {
  MOAI_REQUIRE_ASSETS();
  const Tokenizer& t = test::reference_tokenizer("qwen3");
  EXPECT_EQ(t.encode("a\xFF"
                     "b"),
            t.encode("a\xEF\xBF\xBD"
                     "b"));
  EXPECT_EQ(t.decode(t.encode("a\xFF"
                              "b")),
            "a\xEF\xBF\xBD"
            "b");
}

TEST(TokenizerModel, SpecialIdsOfTheReferenceTokenizers) {
  MOAI_REQUIRE_ASSETS();
  const Tokenizer qwen = Tokenizer::load(test::assets_dir() + "/qwen3");
  EXPECT_EQ(qwen.special_ids().eos,
            std::optional<TokenId>(151645));  // tokenizer_config: <|im_end|>
  EXPECT_EQ(qwen.special_ids().pad, std::optional<TokenId>(151643));
  EXPECT_FALSE(qwen.special_ids().bos.has_value());
  EXPECT_EQ(qwen.special_ids().im_start, std::optional<TokenId>(151644));
  EXPECT_FALSE(qwen.chat_template_source().empty());
  EXPECT_EQ(qwen.vocab_size(), 151669u);
  EXPECT_TRUE(qwen.is_special(151643));
  EXPECT_FALSE(qwen.is_special(151667));  // <think> is special=false
  const Tokenizer& moai = test::reference_tokenizer("moai_kor_eng");
  EXPECT_EQ(moai.special_ids().bos, std::optional<TokenId>(1));
  EXPECT_EQ(moai.special_ids().eos, std::optional<TokenId>(2));
  EXPECT_EQ(moai.special_ids().pad, std::optional<TokenId>(0));
  EXPECT_EQ(moai.special_ids().unk, std::optional<TokenId>(3));
  EXPECT_EQ(moai.token_to_id("<|im_end|>"), std::optional<TokenId>(6));
  EXPECT_EQ(moai.id_to_token(7), std::optional<std::string>("!"));
  EXPECT_FALSE(moai.id_to_token(50000).has_value());
}

}  // namespace
}  // namespace moai::tok
