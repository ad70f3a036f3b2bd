// SFT: every format's conversion, bad records, and the ChatML loss mask with the real Qwen3
// tokenizer (token by token for a multi-turn conversation; ids equal to encoding the whole text on
// the FAQ data).
#include <gtest/gtest.h>

#include "data_test_util.h"
#include "moai/core/error.h"
#include "moai/data/record_reader.h"
#include "moai/data/sft_encode.h"
#include "moai/data/sft_format.h"
#include "moai/tokenizer/tokenizer.h"

namespace moai::data {
namespace {

std::string roles(const std::vector<tok::ChatMessage>& messages) {
  std::string out;
  for (const auto& m : messages) out += (out.empty() ? "" : ",") + m.role;
  return out;
}

TEST(SftFormat, DetectsAndConvertsEveryFormat) {
  struct Case {
    const char* json;
    SftFormat format;
    const char* roles;
    const char* user;
    const char* assistant;
  };
  const Case cases[] = {
      {R"({"messages":[{"role":"system","content":"S"},{"role":"user","content":"U"},)"
       R"({"role":"assistant","content":"A"}]})",
       SftFormat::kChat, "system,user,assistant", "U", "A"},
      {R"({"conversations":[{"from":"system","value":"S"},{"from":"human","value":"U"},)"
       R"({"from":"gpt","value":"A"}]})",
       SftFormat::kShareGpt, "system,user,assistant", "U", "A"},
      // Alpaca keeps its instruction even with an "input" key (the original's rule-order bug).
      {R"({"instruction":"I","input":"X","output":"A"})", SftFormat::kAlpaca, "user,assistant",
       "I\n\nX", "A"},
      {R"({"instruction":"I","input":"","output":"A"})", SftFormat::kAlpaca, "user,assistant", "I",
       "A"},
      {R"({"question":"Q","answer":"A","id":"x"})", SftFormat::kQuestionAnswer, "user,assistant",
       "Q", "A"},
      {R"({"prompt":"P","response":"A"})", SftFormat::kPromptResponse, "user,assistant", "P", "A"},
      {R"({"prompt":"P","completion":"A"})", SftFormat::kPromptCompletion, "user,assistant", "P",
       "A"},
      {R"({"input":"P","output":"A","system":"S"})", SftFormat::kInputOutput,
       "system,user,assistant", "P", "A"},
      {R"({"input":"P","content":"A","reasoning_content":"R"})", SftFormat::kR1, "user,assistant",
       "P", "A"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.json);
    EXPECT_EQ(detect_sft_format(c.json), c.format);
    auto messages = sft_record_to_messages(c.json, SftFormat::kAuto);
    EXPECT_EQ(roles(messages), c.roles);
    EXPECT_EQ(messages[messages.size() - 2].content, c.user);
    EXPECT_EQ(messages.back().content, c.assistant);
  }
  auto r1 = sft_record_to_messages(cases[8].json, SftFormat::kR1);
  EXPECT_EQ(r1.back().reasoning_content, "R");
  EXPECT_EQ(tok::render_chatml(r1, false),
            "<|im_start|>user\nP<|im_end|>\n<|im_start|>assistant\n<think>\nR\n</"
            "think>\n\nA<|im_end|>\n");
}

TEST(SftFormat, BadRecordsNameTheProblem) {
  auto message = [](const char* json, SftFormat format) -> std::string {
    try {
      sft_record_to_messages(json, format);
    } catch (const BadRecord& e) {
      return e.what();
    }
    return "(no error)";
  };
  EXPECT_NE(message(R"({"messages":"hi"})", SftFormat::kChat)
                .find("\"messages\" is a string, expected a list of {role, content}"),
            std::string::npos);
  EXPECT_NE(message(R"({"messages":[{"role":"robot","content":"x"}]})", SftFormat::kChat)
                .find("messages[0]: unknown role \"robot\""),
            std::string::npos);
  EXPECT_NE(
      message(R"({"question":"Q"})", SftFormat::kQuestionAnswer).find("missing field \"answer\""),
      std::string::npos);
  EXPECT_NE(message(R"({"question":"Q","answer":3})", SftFormat::kQuestionAnswer)
                .find("field \"answer\" is a number, expected a string"),
            std::string::npos);
  EXPECT_NE(message(R"({"messages":[{"role":"user","content":"x"}]})", SftFormat::kChat)
                .find("no non-empty assistant turn"),
            std::string::npos);
  EXPECT_NE(message(R"({"foo":"bar"})", SftFormat::kAuto).find("unknown SFT format (fields: foo)"),
            std::string::npos);
  EXPECT_NE(message("{bad json", SftFormat::kAuto).find("malformed JSON"), std::string::npos);
  EXPECT_THROW(parse_sft_format("nope"), InputError);
}

const tok::Tokenizer& qwen3() {
  static tok::Tokenizer tokenizer =
      tok::Tokenizer::load(test::assets_dir() + "/qwen3/tokenizer.json");
  return tokenizer;
}

TEST(SftEncodeSlow, MultiTurnMaskTokenByToken) {
  MOAI_REQUIRE_ASSETS();
  const tok::Tokenizer& tokenizer = qwen3();
  std::vector<tok::ChatMessage> messages = {{"system", "Be brief.", ""},
                                            {"user", "Hi", ""},
                                            {"assistant", "Hello!", ""},
                                            {"user", "2+2?", ""},
                                            {"assistant", "4", ""}};
  SftSample sample = encode_sft_conversation(tokenizer, messages);
  EXPECT_EQ(sample.tokens, tokenizer.encode(tok::render_chatml(messages, false)));
  ASSERT_EQ(sample.tokens.size(), sample.loss_mask.size());
  // Rebuild the expected mask from the pieces: only assistant content and its <|im_end|> train.
  std::string trained;
  std::string untrained;
  for (size_t i = 0; i < sample.tokens.size(); ++i) {
    std::string piece = tokenizer.decode(std::span<const uint32_t>(&sample.tokens[i], 1));
    (sample.loss_mask[i] ? trained : untrained) += piece;
  }
  EXPECT_EQ(trained, "Hello!<|im_end|>4<|im_end|>");
  EXPECT_EQ(untrained,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n\n");
  // Token by token: the two <|im_end|> after assistant turns are trained, the others are not.
  const uint32_t im_end = *tokenizer.special_ids().im_end;
  std::vector<uint8_t> im_end_mask;
  for (size_t i = 0; i < sample.tokens.size(); ++i) {
    if (sample.tokens[i] == im_end) im_end_mask.push_back(sample.loss_mask[i]);
  }
  EXPECT_EQ(im_end_mask, (std::vector<uint8_t>{0, 0, 1, 0, 1}));
}

TEST(SftEncodeSlow, BoundaryMergesStillGiveWholeTextIds) {
  MOAI_REQUIRE_ASSETS();
  const tok::Tokenizer& tokenizer = qwen3();
  // Content starting with newlines merges with the header's "\n" when the whole text is encoded.
  std::vector<tok::ChatMessage> messages = {{"user", "  spaced", ""},
                                            {"assistant", "\n\nanswer  ", ""}};
  std::vector<uint32_t> per_segment;
  for (const auto& segment : tok::render_chatml_segments(messages, false)) {
    auto ids = tokenizer.encode(segment.text);
    per_segment.insert(per_segment.end(), ids.begin(), ids.end());
  }
  const std::vector<uint32_t> whole = tokenizer.encode(tok::render_chatml(messages, false));
  ASSERT_NE(per_segment, whole) << "this case must exercise the prefix-alignment path";
  SftSample sample = encode_sft_conversation(tokenizer, messages);
  EXPECT_EQ(sample.tokens, whole);
  std::string trained;
  for (size_t i = 0; i < sample.tokens.size(); ++i) {
    if (sample.loss_mask[i])
      trained += tokenizer.decode(std::span<const uint32_t>(&sample.tokens[i], 1));
  }
  // The token straddling "assistant\n" + "\n\n" counts for the content; the answer is fully
  // trained.
  EXPECT_NE(trained.find("answer  <|im_end|>"), std::string::npos) << trained;
  EXPECT_EQ(trained.find("assistant"), std::string::npos) << trained;
}

TEST(SftEncodeSlow, FaqCorporaIdsEqualWholeTextEncoding) {
  MOAI_REQUIRE_ASSETS();
  const tok::Tokenizer& tokenizer = qwen3();
  for (const char* lang : {"en", "ko", "ja", "zh-cn"}) {
    std::string path = test::assets_dir() + "/corpora/qa_debian_faq." + lang + ".jsonl";
    size_t samples = 0;
    read_json_records(
        expand_inputs({path}), {}, [&](std::string_view json, const std::string&, long long line) {
          auto messages = sft_record_to_messages(json, SftFormat::kAuto);
          SftSample sample = encode_sft_conversation(tokenizer, messages);
          ASSERT_EQ(sample.tokens, tokenizer.encode(tok::render_chatml(messages, false)))
              << path << ":" << line;
          // Trained tokens decode to exactly the answer plus <|im_end|>.
          std::vector<uint32_t> trained;
          for (size_t i = 0; i < sample.tokens.size(); ++i) {
            if (sample.loss_mask[i]) trained.push_back(sample.tokens[i]);
          }
          ASSERT_EQ(tokenizer.decode(trained), messages.back().content + "<|im_end|>")
              << path << ":" << line;
          ++samples;
        });
    EXPECT_GE(samples, 119u) << lang;
  }
}

}  // namespace
}  // namespace moai::data
