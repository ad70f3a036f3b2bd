// Byte-exactness against HF tokenizers 0.22.2: the encode goldens of three tokenizers on four
// corpora (slow: ~15 MB of text each), and the 177 edge-case strings with and without special
// tokens, plus their decodes (fast).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "moai/core/hash.h"
#include "tok_test_util.h"

namespace moai::test {
namespace {

using tok::TokenId;

std::vector<uint32_t> read_u32_file(const std::string& path) {
  std::string bytes = read_file(path);
  std::vector<uint32_t> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

// The expected ids of document `doc` from <T>.<lang>.ids.bin.xz (decompressed with xz), or empty
// when xz is not available. Only used to explain a failure.
std::vector<uint32_t> expected_doc_ids(const std::string& xz_path, size_t doc) {
  std::vector<uint32_t> ids;
  std::string cmd = "xz -dc '" + xz_path + "' 2>/dev/null";
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return ids;
  for (size_t d = 0;; ++d) {
    uint32_t count;
    if (fread(&count, 4, 1, f) != 1) break;
    std::vector<uint32_t> doc_ids(count);
    if (count && fread(doc_ids.data(), 4, count, f) != count) break;
    if (d == doc) {
      ids = std::move(doc_ids);
      break;
    }
  }
  pclose(f);
  return ids;
}

std::string describe_difference(const tok::Tokenizer& tok, const std::vector<uint32_t>& expected,
                                const std::vector<TokenId>& got) {
  if (expected.empty()) return " (install xz-utils to see the expected ids)";
  size_t i = 0;
  while (i < expected.size() && i < got.size() && expected[i] == got[i]) ++i;
  std::ostringstream os;
  os << "\n first difference at token " << i << "\n expected:";
  for (size_t k = i; k < std::min(expected.size(), i + 8); ++k)
    os << " " << expected[k] << "'" << tok.id_to_token(expected[k]).value_or("?") << "'";
  os << "\n got:     ";
  for (size_t k = i; k < std::min(got.size(), i + 8); ++k)
    os << " " << got[k] << "'" << tok.id_to_token(got[k]).value_or("?") << "'";
  return os.str();
}

struct GoldenCase {
  std::string tokenizer;
  std::string lang;
};

class TokenizerGoldenSlow : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(TokenizerGoldenSlow, CorpusMatchesHf) {
  MOAI_REQUIRE_GOLDEN();
  MOAI_REQUIRE_ASSETS();
  const auto& [name, lang] = GetParam();
  const std::string base = golden_dir() + "/tokenizer/" + name + "." + lang;
  const nlohmann::json meta = nlohmann::json::parse(read_file(base + ".json"));
  const std::vector<uint32_t> per_doc = read_u32_file(base + ".docs.bin");
  const tok::Tokenizer& tok = reference_tokenizer(name);
  const std::vector<std::string> docs =
      split_golden_docs(read_file(assets_dir() + "/corpora/" + lang + ".txt"));
  ASSERT_EQ(docs.size(), meta["docs"].get<size_t>());
  ASSERT_EQ(per_doc.size(), docs.size() * 2);

  const auto encoded = tok.encode_batch(docs, false, 2);
  uint32_t hash = 0x811c9dc5u;
  size_t tokens = 0;
  for (size_t d = 0; d < docs.size(); ++d) {
    const auto& ids = encoded[d];
    const uint32_t doc_hash = fnv1a32_ids(ids);
    if (ids.size() != per_doc[2 * d] || doc_hash != per_doc[2 * d + 1]) {
      FAIL() << name << "." << lang << ": first mismatching document is #" << d << " ("
             << docs[d].size() << " bytes, starts '" << docs[d].substr(0, 80) << "'): expected "
             << per_doc[2 * d] << " tokens, got " << ids.size()
             << describe_difference(tok, expected_doc_ids(base + ".ids.bin.xz", d), ids);
    }
    hash = fnv1a32_ids(ids, hash);
    tokens += ids.size();
  }
  EXPECT_EQ(tokens, meta["tokens"].get<size_t>());
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", hash);
  EXPECT_EQ(std::string(hex), meta["fnv1a32"].get<std::string>());
}

std::vector<GoldenCase> all_golden_cases() {
  std::vector<GoldenCase> cases;
  for (const char* t : {"qwen3", "moai_kor_eng", "hf_bpe30k"})
    for (const char* l : {"en", "ko", "ja", "zh"}) cases.push_back({t, l});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(AllCorpora, TokenizerGoldenSlow, ::testing::ValuesIn(all_golden_cases()),
                         [](const auto& info) {
                           return info.param.tokenizer + "_" + info.param.lang;
                         });

// ---- Edge cases
// -------------------------------------------------------------------------------------

struct EdgeCase {
  size_t line;
  nlohmann::json j;
};

std::vector<EdgeCase> load_edge_cases() {
  std::vector<EdgeCase> cases;
  std::istringstream in(read_file(golden_dir() + "/tokenizer/edge_cases.jsonl"));
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty()) cases.push_back({n, nlohmann::json::parse(line)});
  }
  return cases;
}

std::string show(const std::string& s) {
  return nlohmann::json(s).dump();
}

void check_ids(const tok::Tokenizer& tok, const EdgeCase& c, const char* field, bool special,
               int& failures) {
  const std::string text = c.j["text"].get<std::string>();
  const auto expected = c.j[field].get<std::vector<TokenId>>();
  const auto got = tok.encode(text, special);
  if (got != expected) {
    ++failures;
    ADD_FAILURE() << "edge_cases.jsonl:" << c.line << " " << field << " text=" << show(text)
                  << "\n expected " << nlohmann::json(expected).dump() << "\n got      "
                  << nlohmann::json(got).dump();
  }
}

TEST(TokenizerEdgeCases, IdsMatchHfForAllThreeTokenizers) {
  MOAI_REQUIRE_GOLDEN();
  MOAI_REQUIRE_ASSETS();
  const auto cases = load_edge_cases();
  ASSERT_EQ(cases.size(), 177u);
  int failures = 0;
  for (const EdgeCase& c : cases) {
    check_ids(reference_tokenizer("qwen3"), c, "qwen3", false, failures);
    check_ids(reference_tokenizer("qwen3"), c, "qwen3_special", true, failures);
    check_ids(reference_tokenizer("moai_kor_eng"), c, "moai_kor_eng", false, failures);
    check_ids(reference_tokenizer("moai_kor_eng"), c, "moai_kor_eng_special", true, failures);
    check_ids(reference_tokenizer("hf_bpe30k"), c, "hf_bpe30k", false, failures);
  }
  EXPECT_EQ(failures, 0);
}

TEST(TokenizerEdgeCases, DecodesMatchHf) {
  MOAI_REQUIRE_GOLDEN();
  MOAI_REQUIRE_ASSETS();
  const auto& qwen = reference_tokenizer("qwen3");
  const auto& moai = reference_tokenizer("moai_kor_eng");
  for (const EdgeCase& c : load_edge_cases()) {
    const auto q = c.j["qwen3"].get<std::vector<TokenId>>();
    const auto m = c.j["moai_kor_eng"].get<std::vector<TokenId>>();
    EXPECT_EQ(show(qwen.decode(q, false)), show(c.j["decoded_qwen3"].get<std::string>()))
        << "edge_cases.jsonl:" << c.line;
    EXPECT_EQ(show(qwen.decode(q, true)),
              show(c.j["decoded_qwen3_skip_special"].get<std::string>()))
        << "edge_cases.jsonl:" << c.line;
    EXPECT_EQ(show(moai.decode(m, false)), show(c.j["decoded_moai_kor_eng"].get<std::string>()))
        << "edge_cases.jsonl:" << c.line;
  }
}

}  // namespace
}  // namespace moai::test
