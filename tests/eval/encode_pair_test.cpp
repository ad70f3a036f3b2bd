// _encode_pair pinned on the Qwen3 tokenizer (../shared/assets/qwen3) with ids from HF tokenizers
// (tests/peers/hf_encode.mjs): strings where encoding the whole and splitting at the context's
// length differs from encoding context and continuation apart, and trailing context spaces that
// move to the continuation.
#include <gtest/gtest.h>

#include "moai/eval/loglikelihood.h"
#include "test_paths.h"

namespace moai::eval {
namespace {

class EncodePairTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (test::assets_dir().empty()) return;
    tokenizer_ = new tok::Tokenizer(tok::Tokenizer::load(test::assets_dir() + "/qwen3"));
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    tokenizer_ = nullptr;
  }
  void SetUp() override { MOAI_REQUIRE_ASSETS(); }
  static tok::Tokenizer* tokenizer_;
};

tok::Tokenizer* EncodePairTest::tokenizer_ = nullptr;

using Ids = std::vector<int32_t>;

TEST_F(EncodePairTest, SplitsTheWholeEncoding) {
  // whole "The cats sat" = [The, cats, sat]: the continuation is whole[2:] = [" sat"], not
  // encode("s sat") = ["s", " sat"].
  const TokenRequest r = encode_pair(*tokenizer_, "The cat", "s sat", 151643);
  EXPECT_EQ(r.context, (Ids{785, 8251}));
  EXPECT_EQ(r.continuation, (Ids{7578}));
}

TEST_F(EncodePairTest, TrailingSpaceMovesToContinuation) {
  TokenRequest r = encode_pair(*tokenizer_, "Question: 2+2?\nAnswer: ", "4", 151643);
  EXPECT_EQ(r.context, (Ids{14582, 25, 220, 17, 10, 17, 5267, 16141, 25}));
  EXPECT_EQ(r.continuation, (Ids{220, 19}));
  r = encode_pair(*tokenizer_, "문장: 고양이가 답변: ", "예", 151643);
  EXPECT_EQ(r.context, (Ids{51588, 40853, 25, 126429, 126345, 12802, 19969, 143604, 25}));
  EXPECT_EQ(r.continuation, (Ids{95617}));  // " 예"; encode("예") would differ
}

TEST_F(EncodePairTest, EmptyContextUsesThePrefixToken) {
  // HFLM.prefix_token_id: BOS, else eos_token_id. This tokenizer_config.json (Qwen3's chat
  // tokenizer) has no BOS and eos_token <|im_end|>; Qwen3 base models' says <|endoftext|>.
  const int32_t prefix = prefix_token_id(*tokenizer_);
  EXPECT_EQ(prefix, 151645);
  const TokenRequest r = encode_pair(*tokenizer_, "", "The cat", prefix);
  EXPECT_EQ(r.context, (Ids{151645}));
  EXPECT_EQ(r.continuation, (Ids{785, 8251}));
  // A continuation that starts with the prefix token keeps it as the context instead.
  const TokenRequest own = encode_pair(*tokenizer_, "", "<|im_end|>The cat", prefix);
  EXPECT_EQ(own.context, (Ids{151645}));
  EXPECT_EQ(own.continuation, (Ids{785, 8251}));
}

}  // namespace
}  // namespace moai::eval
