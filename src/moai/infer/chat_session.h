#pragma once
// A multi-turn ChatML conversation: system prompt + turns, rendered with the shared chat template
// (moai/tokenizer/chat_template.h) and trimmed to a token budget by dropping the oldest turns (the
// system prompt and the newest user message are always kept).
#include <cstdint>
#include <string>
#include <vector>

#include "moai/tokenizer/chat_template.h"
#include "moai/tokenizer/tokenizer.h"

namespace moai::infer {

class ChatHistory {
 public:
  explicit ChatHistory(std::string system_prompt = "") : system_(std::move(system_prompt)) {}
  void set_system(std::string system_prompt) { system_ = std::move(system_prompt); }
  const std::string& system() const { return system_; }
  void add_user(std::string text) { turns_.push_back({"user", std::move(text), ""}); }
  void add_assistant(std::string text) { turns_.push_back({"assistant", std::move(text), ""}); }
  void pop_last() {
    if (!turns_.empty()) turns_.pop_back();
  }
  void reset() { turns_.clear(); }
  size_t turns() const { return turns_.size(); }

  // Prompt ids for the next assistant reply, at most max_tokens long: the oldest turns go first.
  // Returns the number of turns dropped in dropped (may be null). InputError when even the system
  // prompt plus the last user message do not fit.
  std::vector<uint32_t> prompt_ids(const tok::Tokenizer& tokenizer, int64_t max_tokens,
                                   size_t* dropped) const;

 private:
  std::string system_;
  std::vector<tok::ChatMessage> turns_;
};

}  // namespace moai::infer
