#pragma once
// Unicode helpers for the tokenizer hot path: UTF-8 decoding of already-valid text, and a
// per-code-point property table (regex class, normalization quick-check bits) built once from
// utf8proc so scanners never call into utf8proc per character.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace moai::tok {

// The classes the two pre-tokenizer patterns distinguish. Whitespace is the Unicode White_Space
// property (what Oniguruma's \s and Rust's char::is_whitespace use); letters are categories L*,
// numbers N*.
enum CharClass : uint8_t { kOther = 0, kLetter = 1, kNumber = 2, kSpace = 3 };

// Property bits of one code point.
enum CharFlag : uint8_t {
  kClassMask = 3,
  kNfcUnsafe =
      4,  // NFC of a string containing it may differ from the input (changes or may compose)
  kNfkcUnsafe = 8,  // same for NFKC
  kNfdUnsafe = 16,  // canonical decomposition or non-zero combining class
  kNfkdUnsafe = 32,
  kWord =
      64,  // Rust regex \w (letters, marks, Nd, Nl, Pc, ZWJ/ZWNJ): added-token single_word checks
};

// Flags of code point cp (0..0x10FFFF); table built on first use, thread-safe.
uint8_t char_flags(uint32_t cp);
inline CharClass char_class(uint32_t cp) {
  return static_cast<CharClass>(char_flags(cp) & kClassMask);
}

// Decodes the code point starting at s[i] (s must be valid UTF-8) and returns its byte length in
// `len`.
inline uint32_t decode_utf8(const unsigned char* s, size_t& len) {
  unsigned char c = s[0];
  if (c < 0x80) {
    len = 1;
    return c;
  }
  if (c < 0xE0) {
    len = 2;
    return ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu);
  }
  if (c < 0xF0) {
    len = 3;
    return ((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
  }
  len = 4;
  return ((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
}

void append_utf8(std::string& out, uint32_t cp);

// Length of the longest valid UTF-8 prefix of text (text.size() when all valid).
size_t valid_utf8_prefix(std::string_view text);
// Replaces every maximal invalid subsequence by U+FFFD, exactly as Rust's String::from_utf8_lossy
// (and Node's Buffer.toString) do. `replaced` (optional) receives the number of replacements.
std::string sanitize_utf8(std::string_view text, size_t* replaced = nullptr);

}  // namespace moai::tok
