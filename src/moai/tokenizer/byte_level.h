#pragma once
// The GPT-2 byte <-> unicode mapping that HF's ByteLevel pre-tokenizer and decoder use: printable
// Latin-1 bytes map to themselves, the 68 others to U+0100.. in byte order (space -> U+0120 'Ġ',
// '\n' -> 'Ċ').
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moai::tok {

// The UTF-8 string of the code point that byte maps to.
const std::string& byte_to_unicode(uint8_t byte);
uint32_t byte_to_codepoint(uint8_t byte);
// The byte a mapped code point stands for; nullopt for code points outside the map.
std::optional<uint8_t> codepoint_to_byte(uint32_t cp);

// Concatenation of byte_to_unicode over raw_bytes.
std::string byte_level_encode(std::string_view raw_bytes);
// Inverse for one token string: appends the bytes to `out` and returns true when every character of
// `token` is in the map; otherwise appends nothing and returns false (HF then uses the token's own
// bytes).
bool byte_level_decode_token(std::string_view token, std::string& out);

}  // namespace moai::tok
