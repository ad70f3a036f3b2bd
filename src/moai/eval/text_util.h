#pragma once
// Python str semantics the harness's prompt code relies on, on UTF-8 strings: whitespace is
// str.isspace() (the set `\s` matches in a str regex), strip/rstrip, capitalize (first character
// title-cased, the rest lower-cased), len() in code points, str.replace.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace moai::eval {

bool py_isspace(char32_t cp);
std::string_view py_rstrip(std::string_view text);
std::string_view py_lstrip(std::string_view text);
std::string_view py_strip(std::string_view text);
std::string py_capitalize(std::string_view text);
size_t py_len(std::string_view text);  // code points
std::string py_replace(std::string_view text, std::string_view from, std::string_view to);
// len(re.split(r"\s+", text)): the number of pieces, empty leading/trailing ones included.
size_t py_split_whitespace_count(std::string_view text);

// Decodes the code point at text[pos]; an invalid byte gives kInvalidCodePoint with length 1.
inline constexpr char32_t kInvalidCodePoint = 0x110000;
char32_t utf8_decode(std::string_view text, size_t pos, size_t* length);

}  // namespace moai::eval
