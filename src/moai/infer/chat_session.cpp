#include "moai/infer/chat_session.h"

#include "moai/core/error.h"

namespace moai::infer {

std::vector<uint32_t> ChatHistory::prompt_ids(const tok::Tokenizer& tokenizer, int64_t max_tokens,
                                              size_t* dropped) const {
  const size_t limit = turns_.empty() ? 1 : turns_.size();
  for (size_t skip = 0; skip < limit; ++skip) {
    // Never start the window with an assistant turn: drop whole exchanges.
    if (skip > 0 && turns_[skip].role == "assistant") continue;
    std::vector<tok::ChatMessage> messages;
    if (!system_.empty()) messages.push_back({"system", system_, ""});
    if (!turns_.empty())
      messages.insert(messages.end(), turns_.begin() + std::ptrdiff_t(skip), turns_.end());
    std::vector<uint32_t> ids = tokenizer.encode(tok::render_chatml(messages, true));
    if (int64_t(ids.size()) <= max_tokens) {
      if (dropped) *dropped = skip;
      return ids;
    }
  }
  throw_input_error("chat", "the system prompt and the last message do not fit in " +
                                std::to_string(max_tokens) +
                                " tokens (raise --max_context or shorten the message)");
}

}  // namespace moai::infer
