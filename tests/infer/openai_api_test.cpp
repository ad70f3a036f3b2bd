#include "moai/infer/openai_api.h"

#include <gtest/gtest.h>

namespace moai::infer {
namespace {

using nlohmann::json;

ApiError expect_error(const std::string& body, bool chat = true) {
  try {
    if (chat) {
      parse_chat_request(body, 128);
    } else {
      parse_completion_request(body, 128);
    }
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted: " << body;
  return {};
}

TEST(OpenAiApi, ParsesChatRequestWithAllSamplingFields) {
  const ApiRequest r = parse_chat_request(R"({"model": "m", "messages": [
      {"role": "system", "content": "be brief"},
      {"role": "user", "content": [{"type": "text", "text": "hi "}, {"type": "text", "text": "there"}]}],
      "temperature": 0.5, "top_p": 0.8, "top_k": 20, "min_p": 0.05, "presence_penalty": 0.5,
      "frequency_penalty": -0.5, "repetition_penalty": 1.1, "seed": 7, "max_tokens": 12, "stop": ["\n\n", "END"],
      "stream": true, "stream_options": {"include_usage": true}})",
                                          128);
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].role, "system");
  EXPECT_EQ(r.messages[1].content, "hi there");
  EXPECT_FLOAT_EQ(r.options.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.options.sampling.top_p, 0.8f);
  EXPECT_EQ(r.options.sampling.top_k, 20);
  EXPECT_FLOAT_EQ(r.options.sampling.min_p, 0.05f);
  EXPECT_FLOAT_EQ(r.options.sampling.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(r.options.sampling.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(r.options.sampling.repetition_penalty, 1.1f);
  EXPECT_EQ(r.options.sampling.seed, 7u);
  EXPECT_EQ(r.options.max_new_tokens, 12);
  EXPECT_EQ(r.options.stop_strings, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST(OpenAiApi, DefaultsFollowOpenAi) {
  const ApiRequest chat =
      parse_chat_request(R"({"messages": [{"role": "user", "content": "x"}]})", 128);
  EXPECT_FLOAT_EQ(chat.options.sampling.temperature, 1.0f);
  EXPECT_FLOAT_EQ(chat.options.sampling.top_p, 1.0f);
  EXPECT_EQ(chat.options.max_new_tokens, 128);  // as many as fit
  EXPECT_FALSE(chat.stream);
  const ApiRequest comp =
      parse_completion_request(R"({"prompt": "x", "max_completion_tokens": 3})", 128);
  EXPECT_EQ(comp.options.max_new_tokens, 3);
  EXPECT_EQ(parse_completion_request(R"({"prompt": ["x"]})", 128).options.max_new_tokens, 16);
}

TEST(OpenAiApi, BadBodiesNameTheField) {
  EXPECT_NE(expect_error("{not json").message.find("malformed JSON"), std::string::npos);
  EXPECT_EQ(expect_error("[1, 2]").status, 400);
  EXPECT_EQ(expect_error("{}").param, "messages");
  EXPECT_EQ(expect_error(R"({"messages": "hi"})").param, "messages");
  EXPECT_EQ(expect_error(R"({"messages": []})").param, "messages");
  EXPECT_EQ(expect_error(R"({"messages": [{"role": "wizard", "content": "x"}]})").param,
            "messages[0].role");
  EXPECT_EQ(expect_error(R"({"messages": [{"role": "user", "content": 5}]})").param,
            "messages[0].content");
  EXPECT_EQ(
      expect_error(R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})").param,
      "messages[0].content");
  const std::string ok = R"("messages": [{"role": "user", "content": "x"}])";
  EXPECT_EQ(expect_error("{" + ok + R"(, "temperature": "hot"})").param, "temperature");
  EXPECT_EQ(expect_error("{" + ok + R"(, "temperature": 3})").param, "temperature");
  EXPECT_EQ(expect_error("{" + ok + R"(, "top_p": 1.5})").param, "top_p");
  EXPECT_EQ(expect_error("{" + ok + R"(, "max_tokens": 1e12})").param, "max_tokens");
  EXPECT_EQ(expect_error("{" + ok + R"(, "max_tokens": 129})").param, "max_tokens");
  EXPECT_EQ(expect_error("{" + ok + R"(, "max_tokens": 0})").param, "max_tokens");
  EXPECT_EQ(expect_error("{" + ok + R"(, "max_tokens": 2.5})").param, "max_tokens");
  EXPECT_EQ(expect_error("{" + ok + R"(, "n": 2})").param, "n");
  EXPECT_EQ(expect_error("{" + ok + R"(, "stream": "yes"})").param, "stream");
  EXPECT_EQ(expect_error("{" + ok + R"(, "stop": [1]})").param, "stop");
  EXPECT_EQ(expect_error("{" + ok + R"(, "stop": ["a","b","c","d","e"]})").param, "stop");
  EXPECT_EQ(expect_error("{" + ok + R"(, "model": 3})").param, "model");
  EXPECT_EQ(expect_error("{" + ok + R"(, "seed": "x"})").param, "seed");
  EXPECT_EQ(expect_error("{" + ok + R"(, "tools": [{"type": "function"}]})").param, "tools");
  EXPECT_EQ(expect_error(R"({"prompt": 5})", false).param, "prompt");
  EXPECT_EQ(expect_error(R"({"prompt": ""})", false).param, "prompt");
  EXPECT_EQ(expect_error(R"({"max_tokens": 5})", false).param, "prompt");
}

TEST(OpenAiApi, ResponsesAndChunksHaveTheOpenAiShape) {
  GenerateResult r;
  r.text = "안녕";
  r.tokens = {1, 2, 3};
  r.prompt_tokens = 5;
  r.finish_reason = FinishReason::kLength;
  const ResponseIds ids{"chatcmpl-1", 1700000000, "tiny"};
  const json c = chat_response(ids, r);
  EXPECT_EQ(c["object"], "chat.completion");
  EXPECT_EQ(c["choices"][0]["message"]["content"], "안녕");
  EXPECT_EQ(c["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(c["usage"]["total_tokens"], 8);
  const json t = completion_response(ids, r, "p: ");
  EXPECT_EQ(t["choices"][0]["text"], "p: 안녕");
  const std::string role = "assistant";
  const std::string first = chat_chunk(ids, &role, "", nullptr);
  ASSERT_EQ(first.rfind("data: ", 0), 0u);
  ASSERT_EQ(first.substr(first.size() - 2), "\n\n");
  const json j = json::parse(first.substr(6));
  EXPECT_EQ(j["choices"][0]["delta"]["role"], "assistant");
  EXPECT_TRUE(j["choices"][0]["finish_reason"].is_null());
  const json last = json::parse(chat_chunk(ids, nullptr, "", "stop").substr(6));
  EXPECT_TRUE(last["choices"][0]["delta"].empty());
  EXPECT_EQ(last["choices"][0]["finish_reason"], "stop");
  const json usage = json::parse(usage_chunk(ids, true, r).substr(6));
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], 3);
  const json err = error_body({429, "busy", "server_busy", "", "queue_full"});
  EXPECT_EQ(err["error"]["message"], "busy");
  EXPECT_TRUE(err["error"]["param"].is_null());
  EXPECT_EQ(err["error"]["code"], "queue_full");
}

}  // namespace
}  // namespace moai::infer
