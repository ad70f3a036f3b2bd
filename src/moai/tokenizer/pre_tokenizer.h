#pragma once
// Pre-tokenizers: split normalized text into words before the ByteLevel mapping and BPE. These are
// hand-written scanners, each equal to one regex that HF tokenizer.json files use (no regex
// engine):
//  - Qwen2 / GPT-4 style, Split(behavior Isolated):
//    (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|
//    ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//  - GPT-2, ByteLevel(use_regex=true):
//    's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Both patterns match every character, so the words tile the text with no gaps.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moai::tok {

// The exact pattern strings as they appear in tokenizer.json.
extern const char* const kQwen2SplitPattern;
extern const char* const kGpt2SplitPattern;

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Appends the [begin, end) byte offsets of each word of `text` (valid UTF-8) to `out`.
  virtual void split(std::string_view text,
                     std::vector<std::pair<uint32_t, uint32_t>>& out) const = 0;
  // ByteLevel(add_prefix_space=true): HF prepends ' ' to each piece of text that does not start
  // with one, before splitting. split() does not do it; prepare() does (returns text itself or a
  // copy in `buf`).
  virtual bool add_prefix_space() const { return false; }
  std::string_view prepare(std::string_view text, std::string& buf) const;
};

std::unique_ptr<PreTokenizer> make_qwen2_split();  // Split(Qwen2 pattern, Isolated)
std::unique_ptr<PreTokenizer> make_gpt2_split(bool add_prefix_space);  // ByteLevel(use_regex=true)
// ByteLevel(use_regex=false) alone: the whole text is one word.
std::unique_ptr<PreTokenizer> make_whole_text(bool add_prefix_space);

// Convenience for trainers: prepare + split + byte_level_encode of each word.
void pre_tokenize_byte_level(const PreTokenizer& pre, std::string_view text,
                             std::vector<std::string>& words);

}  // namespace moai::tok
