#include "moai/tokenizer/byte_level.h"

#include <array>

#include "moai/tokenizer/unicode.h"

namespace moai::tok {
namespace {

struct ByteMap {
  std::array<uint32_t, 256> code_point{};
  std::array<std::string, 256> utf8;
  std::array<int16_t, 0x144> byte_of{};  // mapped code points are all below U+0144
  ByteMap() {
    byte_of.fill(-1);
    uint32_t next_extra = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      code_point[b] = printable ? b : next_extra++;
    }
    for (uint32_t b = 0; b < 256; ++b) {
      append_utf8(utf8[b], code_point[b]);
      byte_of[code_point[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap map;
  return map;
}

}  // namespace

const std::string& byte_to_unicode(uint8_t byte) {
  return byte_map().utf8[byte];
}
uint32_t byte_to_codepoint(uint8_t byte) {
  return byte_map().code_point[byte];
}

std::optional<uint8_t> codepoint_to_byte(uint32_t cp) {
  const ByteMap& map = byte_map();
  if (cp >= map.byte_of.size() || map.byte_of[cp] < 0) return std::nullopt;
  return static_cast<uint8_t>(map.byte_of[cp]);
}

std::string byte_level_encode(std::string_view raw_bytes) {
  const ByteMap& map = byte_map();
  std::string out;
  out.reserve(raw_bytes.size() * 2);
  for (char c : raw_bytes) out += map.utf8[static_cast<uint8_t>(c)];
  return out;
}

bool byte_level_decode_token(std::string_view token, std::string& out) {
  const size_t start = out.size();
  const auto* s = reinterpret_cast<const unsigned char*>(token.data());
  size_t i = 0;
  while (i < token.size()) {
    size_t len = 1;
    uint32_t cp = decode_utf8(s + i, len);
    std::optional<uint8_t> b = codepoint_to_byte(cp);
    if (!b) {
      out.resize(start);
      return false;
    }
    out.push_back(static_cast<char>(*b));
    i += len;
  }
  return true;
}

}  // namespace moai::tok
