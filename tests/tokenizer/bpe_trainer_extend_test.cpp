// Extension (--base_tokenizer): old ids and merges are kept, new merges rank after them, and every
// new token is reachable: encoding its own text gives its id (the original's extension broke this).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "moai/core/error.h"
#include "moai/core/mmap_file.h"
#include "moai/tokenizer/bpe_model.h"
#include "moai/tokenizer/tokenizer.h"
#include "moai/tokenizer/tokenizer_impl.h"
#include "moai/tokenizer/train_extend.h"
#include "moai/tokenizer/train_tokenizer.h"
#include "moai/tokenizer/word_counter.h"
#include "test_paths.h"

namespace moai::tok {
namespace {

// The first `bytes` of a corpus, cut after a newline, so the tests stay fast.
std::string corpus_prefix(const std::string& lang, size_t bytes) {
  const MappedFile file(test::assets_dir() + "/corpora/" + lang + ".txt");
  std::string text(file.text().substr(0, std::min(bytes, file.size())));
  text.resize(text.rfind('\n') + 1);
  return text;
}

void expect_extension_keeps_base(const std::string& base_path, const std::string& out_dir,
                                 const ExtendReport& report, size_t target) {
  const Tokenizer base = Tokenizer::load(base_path);
  const Tokenizer extended = Tokenizer::load(out_dir);
  EXPECT_EQ(report.final_vocab_size, target);
  EXPECT_EQ(extended.vocab_size(), target);
  EXPECT_EQ(report.new_token_ids.size(), target - base.vocab_size());
  for (TokenId id = 0; id < base.vocab_size(); ++id) {
    ASSERT_EQ(base.id_to_token(id), extended.id_to_token(id)) << "id " << id;
  }
  const auto& old_merges = base.impl().model().merges();
  const auto& new_merges = extended.impl().model().merges();
  ASSERT_EQ(new_merges.size(), old_merges.size() + report.new_merges);
  for (size_t rank = 0; rank < old_merges.size(); ++rank) {
    ASSERT_EQ(old_merges[rank], new_merges[rank]) << "merge rank " << rank;
  }
  EXPECT_TRUE(report.unreachable_ids.empty()) << report.unreachable_ids.size() << " unreachable";
  // Independently of extend()'s own report. Most new tokens are whole characters or more, and for
  // those the check is literally encode(decode(id)) == [id]; count them so the test cannot pass
  // vacuously.
  size_t whole_text_tokens = 0;
  for (const TokenId id : report.new_token_ids) {
    EXPECT_TRUE(is_reachable(extended, id)) << "token id " << id;
    const std::vector<TokenId> single{id};
    const std::string text = extended.decode(single);
    if (text.find("\xEF\xBF\xBD") == std::string::npos) {
      ++whole_text_tokens;
      ASSERT_EQ(extended.encode(text), single) << "token id " << id << " text '" << text << "'";
    }
  }
  EXPECT_GT(whole_text_tokens, report.new_token_ids.size() / 2);
}

// The original project's tokenizer (NFKC, GPT-2 ByteLevel split, 7 specials) extended with
// Japanese.
TEST(BpeTrainerExtendSlow, MoaiKorEngWithJapaneseKeepsBaseAndReachesNewTokens) {
  MOAI_REQUIRE_ASSETS();
  const std::string base_path = test::assets_dir() + "/moai_kor_eng/tokenizer.json";
  const BaseTokenizer base = BaseTokenizer::load(base_path);
  WordCounter counter(base.normalizer(), base.pre_tokenizer());
  counter.count_lines(corpus_prefix("ja", 400000), 2);
  BpeTrainerOptions options;
  options.vocab_size = base.vocab_size() + 400;
  const std::string out_dir = test::temp_dir("bpe_extend_moai");
  const ExtendReport report = base.extend(counter, options, out_dir);
  expect_extension_keeps_base(base_path, out_dir, report, options.vocab_size);
  // Japanese text now takes fewer tokens than with the base.
  const std::string sample = corpus_prefix("ja", 20000);
  EXPECT_LT(Tokenizer::load(out_dir).encode(sample).size(),
            Tokenizer::load(base_path).encode(sample).size());
}

// A Qwen3-style tokenizer trained here on English, extended with Korean.
TEST(BpeTrainerExtend, QwenStyleBaseWithKorean) {
  MOAI_REQUIRE_ASSETS();
  const TokenizerRecipe recipe;
  const Normalizer normalizer = make_recipe_normalizer(recipe);
  const auto pre_tokenizer = make_recipe_pre_tokenizer(recipe);
  WordCounter english(normalizer, *pre_tokenizer);
  english.count_lines(corpus_prefix("en", 300000), 2);
  BpeTrainerOptions options;
  options.vocab_size = 1500;
  options.special_tokens = kDefaultSpecialTokens;
  options.initial_alphabet = byte_level_alphabet();
  const std::vector<WordCount> words = english.byte_level_words();
  const std::string base_dir = test::temp_dir("bpe_extend_base");
  save_trained_tokenizer(base_dir, train_bpe(words, options), recipe);

  const BaseTokenizer base = BaseTokenizer::load(base_dir);
  WordCounter korean(base.normalizer(), base.pre_tokenizer());
  korean.count_lines(corpus_prefix("ko", 300000), 2);
  options.vocab_size = 2300;
  const std::string out_dir = test::temp_dir("bpe_extend_qwen");
  const ExtendReport report = base.extend(korean, options, out_dir);
  expect_extension_keeps_base(base_dir, out_dir, report, options.vocab_size);
  // The special-token roles survive the extension.
  const Tokenizer extended = Tokenizer::load(out_dir);
  EXPECT_EQ(extended.special_ids().bos, TokenId{1});
  EXPECT_EQ(extended.special_ids().eos, TokenId{2});
}

TEST(BpeTrainerExtend, RejectsTargetNotAboveBase) {
  const std::string base_dir = test::temp_dir("bpe_extend_tiny_base");
  BpeTrainerOptions base_options;
  base_options.vocab_size = 300;
  base_options.special_tokens = kDefaultSpecialTokens;
  base_options.initial_alphabet = byte_level_alphabet();
  const std::vector<WordCount> words = {{"hello", 3}};
  save_trained_tokenizer(base_dir, train_bpe(words, base_options), TokenizerRecipe{});
  const BaseTokenizer base = BaseTokenizer::load(base_dir);
  WordCounter counter(base.normalizer(), base.pre_tokenizer());
  counter.add_sequence("some text\n");
  BpeTrainerOptions options;
  options.vocab_size = base.vocab_size();
  EXPECT_THROW(base.extend(counter, options, test::temp_dir("bpe_extend_small")), InputError);
}

}  // namespace
}  // namespace moai::tok
