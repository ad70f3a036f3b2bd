#include "moai/data/sft_encode.h"

#include <algorithm>

namespace moai::data {

SftSample encode_sft_conversation(const tok::Tokenizer& tokenizer,
                                  const std::vector<tok::ChatMessage>& messages) {
  const std::vector<tok::ChatSegment> segments = tok::render_chatml_segments(messages, false);
  std::string text;
  for (const auto& segment : segments) text += segment.text;
  SftSample sample;
  sample.text_bytes = text.size();
  sample.tokens = tokenizer.encode(text, false);

  std::vector<uint32_t> joined;
  std::vector<uint8_t> mask;
  for (const auto& segment : segments) {
    std::vector<uint32_t> ids = tokenizer.encode(segment.text, false);
    joined.insert(joined.end(), ids.begin(), ids.end());
    mask.insert(mask.end(), ids.size(), segment.trainable ? 1 : 0);
  }
  if (joined == sample.tokens) {
    sample.loss_mask = std::move(mask);
    return sample;
  }
  // Slow path: attribute tokens to segments by prefix encodings.
  sample.loss_mask.assign(sample.tokens.size(), 0);
  size_t boundary = 0;
  size_t first_token = 0;
  for (size_t s = 0; s < segments.size(); ++s) {
    boundary += segments[s].text.size();
    size_t end_token = sample.tokens.size();
    if (s + 1 < segments.size()) {
      std::vector<uint32_t> prefix =
          tokenizer.encode(std::string_view(text).substr(0, boundary), false);
      auto mismatch =
          std::mismatch(prefix.begin(), prefix.end(), sample.tokens.begin(), sample.tokens.end());
      end_token = std::max<size_t>(first_token, mismatch.first - prefix.begin());
    }
    std::fill(sample.loss_mask.begin() + first_token, sample.loss_mask.begin() + end_token,
              segments[s].trainable ? 1 : 0);
    first_token = end_token;
  }
  return sample;
}

}  // namespace moai::data
