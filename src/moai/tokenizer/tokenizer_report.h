#pragma once
// What `moai tokenizer test` reports: a summary of a tokenizer and compression / round-trip
// statistics of texts encoded with it. Kept in the library so tests can check the numbers the CLI
// prints.
#include <string>
#include <utility>
#include <vector>

#include "moai/tokenizer/documents.h"
#include "moai/tokenizer/tokenizer.h"

namespace moai::tok {

struct TokenizerSummary {
  std::string path;
  size_t vocab_size = 0;
  size_t merges = 0;
  size_t added_tokens = 0;
  std::string normalizer;     // e.g. "NFC", "Sequence[NFKC]", "none"
  std::string pre_tokenizer;  // e.g. "Split(Qwen2) + ByteLevel"
  std::vector<std::pair<std::string, TokenId>> special_tokens;  // added tokens with special=true
};
TokenizerSummary summarize(const Tokenizer& tokenizer, const std::string& path);

struct TextStats {
  std::string label;
  size_t docs = 0;
  size_t chars = 0;  // Unicode code points
  size_t bytes = 0;  // UTF-8 bytes
  size_t tokens = 0;
  // Documents where decode(encode(doc)) differs from the normalized document (e.g. characters
  // missing from a vocabulary without byte fallback or unk token).
  size_t round_trip_failures = 0;
  double chars_per_token() const { return tokens ? double(chars) / tokens : 0.0; }
  double bytes_per_token() const { return tokens ? double(bytes) / tokens : 0.0; }
};
TextStats measure_text(const Tokenizer& tokenizer, const std::string& label, std::string_view text,
                       DocSplit split, size_t threads = 0);

// Built-in sample sentences (English, Korean, Japanese, Chinese, code, finance, numbers, mixed), as
// the original test_tokenizer.py printed.
const std::vector<std::pair<std::string, std::string>>& sample_texts();

size_t count_code_points(std::string_view text);

}  // namespace moai::tok
