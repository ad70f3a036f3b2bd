// The trainer against HF itself: HF tokenizers 0.22.2's BpeTrainer (defaults: vocab 30000, no
// specials, min_frequency 0, alphabet = characters seen) fed the four corpora line by line with the
// Qwen3 normalizer and pre-tokenizer wrote
// ../shared/assets/oracles/hf_bpe30k_samples.tokenizer.json. Our file must be byte-identical: same
// vocab ids, same merges in the same order, same serialization.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "moai/core/file_util.h"
#include "moai/core/mmap_file.h"
#include "moai/tokenizer/bpe_trainer.h"
#include "moai/tokenizer/train_tokenizer.h"
#include "moai/tokenizer/word_counter.h"
#include "test_paths.h"

namespace moai::tok {
namespace {

std::vector<WordCount> count_corpora(size_t num_threads) {
  const TokenizerRecipe recipe;
  const Normalizer normalizer = make_recipe_normalizer(recipe);
  const auto pre_tokenizer = make_recipe_pre_tokenizer(recipe);
  WordCounter counter(normalizer, *pre_tokenizer);
  for (const char* lang : {"en", "ko", "ja", "zh"}) {
    const MappedFile file(test::assets_dir() + "/corpora/" + lang + ".txt");
    counter.count_lines(file.text(), num_threads);
  }
  return counter.byte_level_words();
}

TEST(BpeTrainerOracleSlow, ReproducesHfBpe30kByteForByte) {
  MOAI_REQUIRE_ASSETS();
  const std::vector<WordCount> words = count_corpora(2);
  BpeTrainerOptions options;  // HF defaults
  options.vocab_size = 30000;
  const BpeTrainResult result = train_bpe(words, options);
  EXPECT_EQ(result.alphabet_size, 179u);
  EXPECT_EQ(result.merges.size(), 29821u);
  const std::string expected =
      read_file(test::assets_dir() + "/oracles/hf_bpe30k_samples.tokenizer.json");
  const std::string actual = tokenizer_json_text(result, TokenizerRecipe{});
  ASSERT_EQ(actual.size(), expected.size());
  // Report the first differing merge rather than two megabyte strings.
  if (actual != expected) {
    size_t at = 0;
    while (at < actual.size() && actual[at] == expected[at]) ++at;
    FAIL() << "first difference at byte " << at << ": ours ..."
           << actual.substr(at > 40 ? at - 40 : 0, 80) << "... HF ..."
           << expected.substr(at > 40 ? at - 40 : 0, 80);
  }
}

// Counting on one thread or several gives the same words and counts.
TEST(BpeTrainerOracleSlow, WordCountsIndependentOfThreads) {
  MOAI_REQUIRE_ASSETS();
  const std::vector<WordCount> one = count_corpora(1);
  const std::vector<WordCount> two = count_corpora(3);
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i) {
    ASSERT_EQ(one[i].word, two[i].word);
    ASSERT_EQ(one[i].count, two[i].count);
  }
}

}  // namespace
}  // namespace moai::tok
