#pragma once
// Tokenizes a conversation for SFT: ChatML-rendered text (chat_template.h) and a loss mask that is
// 1 on assistant content and each assistant <|im_end|>, 0 elsewhere (role headers, system and user
// turns, the newline after <|im_end|>).
//
// The ids are always exactly encode(rendered text): segments are encoded one by one and compared
// with the whole-text encoding; where they differ (a merge across a segment boundary, e.g. content
// starting with a newline), the mask is recovered from the longest common prefix of encode(text up
// to each boundary) with the whole encoding, a token straddling a boundary counting for the later
// segment.
#include <cstdint>
#include <vector>

#include "moai/tokenizer/chat_template.h"
#include "moai/tokenizer/tokenizer.h"

namespace moai::data {

struct SftSample {
  std::vector<uint32_t> tokens;
  std::vector<uint8_t> loss_mask;  // same length; 1 = train on predicting this token
  uint64_t text_bytes = 0;
};

SftSample encode_sft_conversation(const tok::Tokenizer& tokenizer,
                                  const std::vector<tok::ChatMessage>& messages);

}  // namespace moai::data
