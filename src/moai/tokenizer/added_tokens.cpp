#include "moai/tokenizer/added_tokens.h"

#include <algorithm>

#include "moai/tokenizer/unicode.h"

namespace moai::tok {
namespace {

// Rust regex \w at the end / start of s.
bool ends_with_word(std::string_view s) {
  if (s.empty()) return false;
  size_t i = s.size() - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
  size_t len = 1;
  uint32_t cp = decode_utf8(reinterpret_cast<const unsigned char*>(s.data()) + i, len);
  return char_flags(cp) & kWord;
}
bool starts_with_word(std::string_view s) {
  if (s.empty()) return false;
  size_t len = 1;
  uint32_t cp = decode_utf8(reinterpret_cast<const unsigned char*>(s.data()), len);
  return char_flags(cp) & kWord;
}
// Start of the trailing whitespace run of s.
size_t trailing_space_start(std::string_view s) {
  size_t i = s.size();
  while (i > 0) {
    size_t j = i - 1;
    while (j > 0 && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) --j;
    size_t len = 1;
    uint32_t cp = decode_utf8(reinterpret_cast<const unsigned char*>(s.data()) + j, len);
    if (char_class(cp) != kSpace) break;
    i = j;
  }
  return i;
}
// Length of the leading whitespace run of s.
size_t leading_space_length(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t len = 1;
    uint32_t cp = decode_utf8(reinterpret_cast<const unsigned char*>(s.data()) + i, len);
    if (char_class(cp) != kSpace) break;
    i += len;
  }
  return i;
}

}  // namespace

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens,
                                     std::vector<std::string> patterns)
    : tokens_(std::move(tokens)), patterns_(std::move(patterns)), by_first_byte_(256) {
  for (uint32_t i = 0; i < patterns_.size(); ++i) {
    if (patterns_[i].empty()) continue;
    by_first_byte_[static_cast<uint8_t>(patterns_[i][0])].push_back(i);
  }
  for (auto& list : by_first_byte_) {
    std::stable_sort(list.begin(), list.end(), [&](uint32_t a, uint32_t b) {
      return patterns_[a].size() > patterns_[b].size();
    });
  }
}

void AddedTokenMatcher::split(std::string_view text, std::vector<TextPiece>& out) const {
  const uint32_t n = static_cast<uint32_t>(text.size());
  if (n == 0) {
    out.push_back({0, 0, -1});
    return;
  }
  uint32_t start_offset = 0;
  uint32_t i = 0;
  while (i < n) {
    const auto& candidates = by_first_byte_[static_cast<uint8_t>(text[i])];
    uint32_t match = UINT32_MAX;
    for (uint32_t idx : candidates) {
      const std::string& p = patterns_[idx];
      if (text.size() - i >= p.size() && text.compare(i, p.size(), p) == 0) {
        match = idx;
        break;
      }
    }
    if (match == UINT32_MAX) {
      ++i;
      continue;
    }
    const AddedToken& tok = tokens_[match];
    uint32_t start = i, stop = i + static_cast<uint32_t>(patterns_[match].size());
    i = stop;  // matches never overlap
    if (tok.single_word) {
      const bool start_ok = start == 0 || !ends_with_word(text.substr(0, start));
      const bool stop_ok = stop == n || !starts_with_word(text.substr(stop));
      if (!start_ok || !stop_ok) continue;
    }
    if (tok.lstrip)
      start = std::max<uint32_t>(static_cast<uint32_t>(trailing_space_start(text.substr(0, start))),
                                 start_offset);
    if (tok.rstrip) stop += static_cast<uint32_t>(leading_space_length(text.substr(stop)));
    if (start_offset < start) out.push_back({start_offset, start, -1});
    out.push_back({start, stop, static_cast<int64_t>(tok.id)});
    start_offset = stop;
    i = std::max(i, stop);
  }
  if (start_offset != n) out.push_back({start_offset, n, -1});
}

}  // namespace moai::tok
