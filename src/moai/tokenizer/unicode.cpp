#include "moai/tokenizer/unicode.h"

#include <utf8proc.h>

#include <memory>
#include <mutex>

namespace moai::tok {
namespace {

bool is_white_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

// Full decomposition of one code point (canonical, or compatibility when compat), as utf8proc gives
// it.
int decompose(uint32_t cp, bool compat, utf8proc_int32_t* buf, int cap) {
  int last_boundclass = 0;
  auto options =
      static_cast<utf8proc_option_t>(UTF8PROC_DECOMPOSE | (compat ? UTF8PROC_COMPAT : 0));
  return static_cast<int>(utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, cap,
                                                  options, &last_boundclass));
}

std::string utf8_of(uint32_t cp) {
  std::string s;
  append_utf8(s, cp);
  return s;
}

std::string map_string(const std::string& s, utf8proc_option_t options) {
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                    static_cast<utf8proc_ssize_t>(s.size()), &out, options);
  if (n < 0) return s;
  std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  free(out);
  return r;
}

constexpr uint32_t kMaxCodePoint = 0x110000;

std::unique_ptr<uint8_t[]> build_table() {
  auto table = std::make_unique<uint8_t[]>(kMaxCodePoint);
  const auto nfc = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  const auto nfkc =
      static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
  utf8proc_int32_t buf[32];
  for (uint32_t cp = 0; cp < kMaxCodePoint; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;  // surrogates never occur in valid UTF-8
    const utf8proc_property_t* prop = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
    uint8_t flags = 0;
    switch (prop->category) {
      case UTF8PROC_CATEGORY_LU:
      case UTF8PROC_CATEGORY_LL:
      case UTF8PROC_CATEGORY_LT:
      case UTF8PROC_CATEGORY_LM:
      case UTF8PROC_CATEGORY_LO:
        flags = uint8_t{kLetter} | uint8_t{kWord};
        break;
      case UTF8PROC_CATEGORY_ND:
      case UTF8PROC_CATEGORY_NL:
        flags = uint8_t{kNumber} | uint8_t{kWord};
        break;
      case UTF8PROC_CATEGORY_NO:
        flags = kNumber;
        break;
      case UTF8PROC_CATEGORY_MN:
      case UTF8PROC_CATEGORY_MC:
      case UTF8PROC_CATEGORY_ME:
      case UTF8PROC_CATEGORY_PC:
        flags = kWord;
        break;
      default:
        flags = kOther;
    }
    if (is_white_space(cp)) flags = kSpace;
    if (cp == 0x200C || cp == 0x200D) flags |= kWord;
    if (prop->combining_class != 0) flags |= kNfcUnsafe | kNfkcUnsafe | kNfdUnsafe | kNfkdUnsafe;
    if (prop->decomp_seqindex != UINT16_MAX) {
      // Has a decomposition: decide per form whether the code point alone changes, and mark every
      // non-first element of its canonical decomposition as something that may compose with what
      // precedes.
      const bool canonical = prop->decomp_type == 0;
      flags |= kNfkdUnsafe;
      if (canonical) flags |= kNfdUnsafe;
      const std::string s = utf8_of(cp);
      if (map_string(s, nfc) != s) flags |= kNfcUnsafe;
      if (map_string(s, nfkc) != s) flags |= kNfkcUnsafe;
    }
    table[cp] |= flags;
    int n = decompose(cp, false, buf, 32);
    for (int k = 1; k < n && k < 32; ++k) {
      if (buf[k] >= 0 && static_cast<uint32_t>(buf[k]) < kMaxCodePoint)
        table[static_cast<uint32_t>(buf[k])] |= kNfcUnsafe | kNfkcUnsafe;
    }
  }
  // Hangul: syllables decompose algorithmically (no table entry); medial vowels and final
  // consonants compose with what precedes them.
  for (uint32_t cp = 0xAC00; cp <= 0xD7A3; ++cp) table[cp] |= kNfdUnsafe | kNfkdUnsafe;
  for (uint32_t cp = 0x1161; cp <= 0x1175; ++cp) table[cp] |= kNfcUnsafe | kNfkcUnsafe;
  for (uint32_t cp = 0x11A8; cp <= 0x11C2; ++cp) table[cp] |= kNfcUnsafe | kNfkcUnsafe;
  return table;
}

const uint8_t* flag_table() {
  static std::once_flag once;
  static std::unique_ptr<uint8_t[]> table;
  std::call_once(once, [] { table = build_table(); });
  return table.get();
}

// Length of the valid UTF-8 sequence at s[i], or -(length of the maximal invalid subpart).
int utf8_sequence(const unsigned char* s, size_t n, size_t i) {
  unsigned char b = s[i];
  if (b < 0x80) return 1;
  int need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    need = 1;
  } else if (b >= 0xE0 && b <= 0xEF) {
    need = 2;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    need = 3;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return -1;
  }
  for (int k = 1; k <= need; ++k) {
    if (i + k >= n) return -k;
    unsigned char c = s[i + k];
    if (c < lo || c > hi) return -k;
    lo = 0x80;
    hi = 0xBF;
  }
  return need + 1;
}

}  // namespace

uint8_t char_flags(uint32_t cp) {
  static const uint8_t* table = flag_table();
  return cp < kMaxCodePoint ? table[cp] : 0;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

size_t valid_utf8_prefix(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= n) {
      uint64_t w;
      __builtin_memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    int len = utf8_sequence(s, n, i);
    if (len < 0) return i;
    i += static_cast<size_t>(len);
  }
  return n;
}

std::string sanitize_utf8(std::string_view text, size_t* replaced) {
  size_t count = 0;
  size_t valid = valid_utf8_prefix(text);
  std::string out;
  if (valid == text.size()) {
    out.assign(text);
  } else {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    out.reserve(n + 16);
    out.append(text.substr(0, valid));
    size_t i = valid;
    while (i < n) {
      int len = utf8_sequence(s, n, i);
      if (len > 0) {
        out.append(text.substr(i, static_cast<size_t>(len)));
        i += static_cast<size_t>(len);
      } else {
        out.append("\xEF\xBF\xBD");
        ++count;
        i += static_cast<size_t>(-len);
      }
    }
  }
  if (replaced) *replaced = count;
  return out;
}

}  // namespace moai::tok
