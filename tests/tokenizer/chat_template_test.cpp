#include "moai/tokenizer/chat_template.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>

#include "moai/core/file_util.h"
#include "test_paths.h"

namespace moai::tok {
namespace {

TEST(ChatTemplate, RendersChatMl) {
  const std::vector<ChatMessage> messages = {
      {"system", "Be brief.", ""}, {"user", "Hi", ""}, {"assistant", "Hello!", ""}};
  EXPECT_EQ(render_chatml(messages, false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello!<|im_end|>\n");
  EXPECT_EQ(render_chatml({{"user", "Q", ""}}, true),
            "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(render_chatml({}, true), "<|im_start|>assistant\n");
}

TEST(ChatTemplate, SegmentsMarkOnlyAssistantOutputTrainable) {
  const std::vector<ChatMessage> messages = {{"user", "2+2?", ""}, {"assistant", "4", "add"}};
  const auto segments = render_chatml_segments(messages, false);
  std::string all, trainable;
  for (const auto& s : segments) {
    all += s.text;
    if (s.trainable) trainable += s.text;
  }
  EXPECT_EQ(all, render_chatml(messages, false));
  EXPECT_EQ(trainable, "<think>\nadd\n</think>\n\n4<|im_end|>");
  EXPECT_FALSE(segments.back().trainable);  // the "\n" after <|im_end|>
  EXPECT_EQ(segments.back().text, "\n");
}

TEST(ChatTemplate, JinjaTemplateSpellsTheSameFormat) {
  const std::string& t = chatml_jinja_template();
  EXPECT_NE(t.find("'<|im_start|>' + message['role'] + '\\n'"), std::string::npos);
  EXPECT_NE(t.find("'<think>\\n' + message['reasoning_content'] + '\\n</think>\\n\\n'"),
            std::string::npos);
  EXPECT_NE(t.find("message['content'] + '<|im_end|>\\n'"), std::string::npos);
  EXPECT_NE(t.find("add_generation_prompt"), std::string::npos);
}

// Renders chatml_jinja_template() with real Jinja2 the way transformers' apply_chat_template does
// (sandboxed environment, trim_blocks, lstrip_blocks) and compares with render_chatml. Skips when
// no python3 with jinja2 is installed.
TEST(ChatTemplate, Jinja2RendersExactlyWhatRenderChatmlDoes) {
  if (std::system("python3 -c 'import jinja2' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with jinja2 not found";
  const std::vector<std::vector<ChatMessage>> conversations = {
      {{"system", "You are moai.", ""}, {"user", "Hi\nthere", ""}, {"assistant", "Hello!", ""}},
      {{"user", "2+2?", ""}, {"assistant", "4", "2 plus 2 is 4"}, {"user", "thanks", ""}},
      {{"user", "  spaces  ", ""}},
  };
  const std::string dir = test::temp_dir("chat_template_jinja");
  for (size_t c = 0; c < conversations.size(); ++c) {
    for (bool prompt : {false, true}) {
      nlohmann::json messages = nlohmann::json::array();
      for (const auto& m : conversations[c]) {
        nlohmann::json j = {{"role", m.role}, {"content", m.content}};
        if (!m.reasoning_content.empty()) j["reasoning_content"] = m.reasoning_content;
        messages.push_back(j);
      }
      write_file_atomic(dir + "/in.json", nlohmann::json{{"template", chatml_jinja_template()},
                                                         {"messages", messages},
                                                         {"add_generation_prompt", prompt}}
                                              .dump());
      const std::string script =
          "import json,sys\n"
          "from jinja2.sandbox import ImmutableSandboxedEnvironment\n"
          "r=json.load(open(sys.argv[1]))\n"
          "env=ImmutableSandboxedEnvironment(trim_blocks=True,lstrip_blocks=True)\n"
          "out=env.from_string(r['template']).render(messages=r['messages'],"
          "add_generation_prompt=r['add_generation_prompt'])\n"
          "open(sys.argv[2],'w',encoding='utf-8').write(out)\n";
      write_file_atomic(dir + "/render.py", script);
      const std::string cmd =
          "python3 '" + dir + "/render.py' '" + dir + "/in.json' '" + dir + "/out.txt'";
      ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
      EXPECT_EQ(read_file(dir + "/out.txt"), render_chatml(conversations[c], prompt))
          << "conversation " << c << " generation prompt " << prompt;
    }
  }
}

}  // namespace
}  // namespace moai::tok
