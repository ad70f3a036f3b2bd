#pragma once
// Added tokens (HF "added_tokens"): strings matched as single tokens before the model sees the
// text. Tokens with normalized=false are matched in the raw input, the others in the normalized
// pieces; both use leftmost-longest matching, then apply single_word / lstrip / rstrip like HF's
// AddedVocabulary.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "moai/tokenizer/tokenizer.h"

namespace moai::tok {

struct AddedToken {
  TokenId id = 0;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
  bool special = false;
};

// One piece of a split: [begin, end) of the text, and the matched token's id when token >= 0.
struct TextPiece {
  uint32_t begin;
  uint32_t end;
  int64_t token;  // -1: ordinary text
};

class AddedTokenMatcher {
 public:
  AddedTokenMatcher() = default;
  // patterns[i] is matched as tokens[i] (for normalized tokens, the pattern is the normalized
  // content).
  AddedTokenMatcher(std::vector<AddedToken> tokens, std::vector<std::string> patterns);
  bool empty() const { return tokens_.empty(); }
  // Splits text into pieces covering it entirely (an empty text gives one empty piece, as HF does).
  void split(std::string_view text, std::vector<TextPiece>& out) const;

 private:
  std::vector<AddedToken> tokens_;
  std::vector<std::string> patterns_;
  std::vector<std::vector<uint32_t>> by_first_byte_;  // pattern indices, longest first
};

}  // namespace moai::tok
