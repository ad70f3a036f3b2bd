#include "moai/eval/text_util.h"

#include <utf8proc.h>

namespace moai::eval {

char32_t utf8_decode(std::string_view text, size_t pos, size_t* length) {
  utf8proc_int32_t cp = 0;
  const utf8proc_ssize_t n =
      utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(text.data() + pos),
                       utf8proc_ssize_t(text.size() - pos), &cp);
  if (n <= 0) {  // invalid UTF-8 (the readers reject it): one byte, never whitespace
    *length = 1;
    return kInvalidCodePoint;
  }
  *length = size_t(n);
  return char32_t(cp);
}

namespace {

void append_utf8(std::string& out, utf8proc_int32_t cp) {
  utf8proc_uint8_t buf[4];
  const utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
  out.append(reinterpret_cast<const char*>(buf), size_t(n));
}

// Byte offset where the last code point before `end` starts.
size_t previous_start(std::string_view text, size_t end) {
  size_t pos = end - 1;
  while (pos > 0 && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80 && end - pos < 4) --pos;
  return pos;
}

}  // namespace

bool py_isspace(char32_t cp) {
  // CPython's _PyUnicode_IsWhitespace: bidirectional class WS/B/S or category Zs.
  switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x1C:
    case 0x1D:
    case 0x1E:
    case 0x1F:
    case 0x20:
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

std::string_view py_rstrip(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    const size_t start = previous_start(text, end);
    size_t len = 0;
    const char32_t cp = utf8_decode(text, start, &len);
    if (start + len != end || !py_isspace(cp)) break;
    end = start;
  }
  return text.substr(0, end);
}

std::string_view py_lstrip(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t len = 0;
    if (!py_isspace(utf8_decode(text, pos, &len))) break;
    pos += len;
  }
  return text.substr(pos);
}

std::string_view py_strip(std::string_view text) {
  return py_lstrip(py_rstrip(text));
}

std::string py_capitalize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    size_t len = 0;
    const char32_t cp = utf8_decode(text, pos, &len);
    if (cp == kInvalidCodePoint) {
      out.append(text.substr(pos, len));  // kept as is
    } else {
      append_utf8(out, first ? utf8proc_totitle(utf8proc_int32_t(cp))
                             : utf8proc_tolower(utf8proc_int32_t(cp)));
    }
    first = false;
    pos += len;
  }
  return out;
}

size_t py_len(std::string_view text) {
  size_t count = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t len = 0;
    utf8_decode(text, pos, &len);
    pos += len;
    ++count;
  }
  return count;
}

std::string py_replace(std::string_view text, std::string_view from, std::string_view to) {
  if (from.empty()) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (true) {
    const size_t hit = text.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(text.substr(pos));
  return out;
}

size_t py_split_whitespace_count(std::string_view text) {
  size_t pieces = 1;
  bool in_run = false;
  for (size_t pos = 0; pos < text.size();) {
    size_t len = 0;
    const bool space = py_isspace(utf8_decode(text, pos, &len));
    if (space && !in_run) ++pieces;
    in_run = space;
    pos += len;
  }
  return pieces;
}

}  // namespace moai::eval
