#pragma once
// ChatML rendering shared by SFT data preparation, chat, generate and serve, so training and
// inference see the same text: "<|im_start|>{role}\n{content}<|im_end|>\n" per message, and
// "<|im_start|>assistant\n" as the generation prompt. An assistant message with reasoning_content
// renders "<think>\n{reasoning}\n</think>\n\n" before its content.
#include <string>
#include <vector>

namespace moai::tok {

struct ChatMessage {
  std::string role;  // system | user | assistant (tool later)
  std::string content;
  std::string reasoning_content;  // optional, assistant only
};

// One piece of rendered text and whether the SFT loss trains on it. Assistant content and its
// closing
// <|im_end|> are trainable; role headers, system and user turns and the newline after <|im_end|>
// are not.
struct ChatSegment {
  std::string text;
  bool trainable = false;
};

std::vector<ChatSegment> render_chatml_segments(const std::vector<ChatMessage>& messages,
                                                bool add_generation_prompt);
std::string render_chatml(const std::vector<ChatMessage>& messages, bool add_generation_prompt);

// The Jinja template string written into tokenizer_config.json: it renders exactly what
// render_chatml does (HF apply_chat_template gives the same text).
const std::string& chatml_jinja_template();

}  // namespace moai::tok
