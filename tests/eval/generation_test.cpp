// generate_until against the reference twin (tests/eval/make_reference.py generation_reference ->
// tests/eval/data/generation.json): the left-cut context tokens, the greedy tokens of the tiny
// random model (PyTorch, full forward per step) and the text after lm-eval's stop-string cut.
#include <gtest/gtest.h>

#include "eval_test_util.h"
#include "moai/core/error.h"
#include "moai/eval/eval_model.h"
#include "moai/eval/generation.h"

namespace moai::eval {
namespace {

class GenerationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    EvalModelOptions options;
    options.threads = 1;
    model_ = new EvalModel(load_eval_model(test::eval_data_dir() + "/tiny_model", options));
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  static EvalModel* model_;
};

EvalModel* GenerationTest::model_ = nullptr;

TEST_F(GenerationTest, GreedyTokensAndStopCutMatchTheTwin) {
  const nlohmann::json ref = test::read_json(test::eval_data_dir() + "/generation.json");
  ASSERT_GE(ref["requests"].size(), 8u);
  int cut = 0;
  for (const auto& r : ref["requests"]) {
    GenerationRequest req;
    req.context = r["context"].get<std::string>();
    req.until = r["until"].get<std::vector<std::string>>();
    req.max_gen_toks = r["max_gen_toks"].get<int64_t>();
    const std::vector<GenerationResult> got =
        generate_until(*model_->scorer, *model_->tokenizer, std::span(&req, 1));
    const std::vector<int32_t> want = r["tokens"].get<std::vector<int32_t>>();
    const std::string where = req.context.substr(0, 40) + " until " + r["until"].dump();
    EXPECT_EQ(got[0].text, r["text"].get<std::string>()) << where;
    if (req.until.empty()) {
      EXPECT_EQ(got[0].tokens, want) << where;
    } else {
      // Decoding stopped once the stop string appeared: a prefix of the twin's tokens.
      ASSERT_LE(got[0].tokens.size(), want.size()) << where;
      EXPECT_TRUE(std::equal(got[0].tokens.begin(), got[0].tokens.end(), want.begin())) << where;
      if (got[0].tokens.size() < want.size()) ++cut;
    }
  }
  EXPECT_GT(cut, 0);  // some stop string ended decoding early
}

TEST_F(GenerationTest, MaxGenToksMustLeaveRoomForContext) {
  GenerationRequest req;
  req.context = "a";
  req.max_gen_toks = model_->scorer->max_length();
  EXPECT_THROW(generate_until(*model_->scorer, *model_->tokenizer, std::span(&req, 1)), InputError);
}

}  // namespace
}  // namespace moai::eval
