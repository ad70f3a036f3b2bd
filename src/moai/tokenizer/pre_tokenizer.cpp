#include "moai/tokenizer/pre_tokenizer.h"

#include "moai/tokenizer/byte_level.h"
#include "moai/tokenizer/unicode.h"

namespace moai::tok {

const char* const kQwen2SplitPattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char* const kGpt2SplitPattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

namespace {

// Classes of ASCII characters, so the common case needs no table lookup beyond 128 bytes.
struct AsciiClasses {
  CharClass cls[128];
  constexpr AsciiClasses() : cls() {
    for (int c = 0; c < 128; ++c) {
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        cls[c] = kLetter;
      else if (c >= '0' && c <= '9')
        cls[c] = kNumber;
      else if ((c >= 0x09 && c <= 0x0D) || c == ' ')
        cls[c] = kSpace;
      else
        cls[c] = kOther;
    }
  }
};
constexpr AsciiClasses kAscii;

// A cursor over valid UTF-8 that yields (code point, class, length) at a byte offset.
struct Scanner {
  const unsigned char* s;
  size_t n;

  struct Char {
    uint32_t cp;
    CharClass cls;
    uint32_t len;
  };
  Char at(size_t i) const {
    unsigned char b = s[i];
    if (b < 0x80) return {b, kAscii.cls[b], 1};
    size_t len = 1;
    uint32_t cp = decode_utf8(s + i, len);
    return {cp, char_class(cp), static_cast<uint32_t>(len)};
  }
  // End of the run of characters of class `cls` starting at i.
  size_t run_end(size_t i, CharClass cls) const {
    while (i < n) {
      Char c = at(i);
      if (c.cls != cls) break;
      i += c.len;
    }
    return i;
  }
  size_t newline_run_end(size_t i) const {
    while (i < n && (s[i] == '\r' || s[i] == '\n')) ++i;
    return i;
  }
};

bool is_cr_lf(uint32_t cp) {
  return cp == '\r' || cp == '\n';
}

// Length of the contraction ('s 't 're 've 'm 'll 'd) at i (s[i] == '\''), 0 when none. With
// ignore_case, letters match in either case, and 's also matches U+017F LONG S (its case fold is
// 's').
size_t contraction_length(const Scanner& sc, size_t i, bool ignore_case) {
  auto letter = [&](size_t at, char lower) -> size_t {  // byte length of a match of `lower` at `at`
    if (at >= sc.n) return 0;
    unsigned char c = sc.s[at];
    if (c == static_cast<unsigned char>(lower)) return 1;
    if (!ignore_case) return 0;
    if (c == static_cast<unsigned char>(lower - 'a' + 'A')) return 1;
    if (lower == 's' && c == 0xC5 && at + 1 < sc.n && sc.s[at + 1] == 0xBF) return 2;
    return 0;
  };
  const size_t j = i + 1;
  if (size_t k = letter(j, 's')) return 1 + k;
  if (size_t k = letter(j, 't')) return 1 + k;
  if (size_t k = letter(j, 'r')) {
    if (size_t k2 = letter(j + k, 'e')) return 1 + k + k2;
  }
  if (size_t k = letter(j, 'v')) {
    if (size_t k2 = letter(j + k, 'e')) return 1 + k + k2;
  }
  if (size_t k = letter(j, 'm')) return 1 + k;
  if (size_t k = letter(j, 'l')) {
    if (size_t k2 = letter(j + k, 'l')) return 1 + k + k2;
  }
  if (size_t k = letter(j, 'd')) return 1 + k;
  return 0;
}

// \s+(?!\S) then \s+ over the whitespace run [i, end): the whole run when it ends the text, else
// the run minus its last character when that leaves something, else the single character.
size_t whitespace_match(const Scanner& sc, size_t i, size_t run_end, size_t last_char_start) {
  if (run_end == sc.n) return run_end;
  if (last_char_start > i) return last_char_start;
  return run_end;
}

// Cuts text into consecutive pieces; next(scanner, i) returns where the piece starting at i ends.
template <typename NextPieceEnd>
void split_into_pieces(std::string_view text, std::vector<std::pair<uint32_t, uint32_t>>& out,
                       NextPieceEnd next) {
  Scanner sc{reinterpret_cast<const unsigned char*>(text.data()), text.size()};
  size_t i = 0;
  while (i < sc.n) {
    const size_t end = next(sc, i);
    out.emplace_back(static_cast<uint32_t>(i), static_cast<uint32_t>(end));
    i = end;
  }
}

class Qwen2Split final : public PreTokenizer {
 public:
  void split(std::string_view text,
             std::vector<std::pair<uint32_t, uint32_t>>& out) const override {
    split_into_pieces(text, out, next);
  }

 private:
  static size_t next(const Scanner& sc, size_t i) {
    const Scanner::Char c0 = sc.at(i);
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if (c0.cp == '\'') {
      if (size_t len = contraction_length(sc, i, true)) return i + len;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (c0.cls == kLetter) return sc.run_end(i, kLetter);
    // \p{N}
    if (c0.cls == kNumber) return i + c0.len;
    const size_t i1 = i + c0.len;
    const bool has_next = i1 < sc.n;
    const Scanner::Char c1 = has_next ? sc.at(i1) : Scanner::Char{0, kOther, 0};
    if (!is_cr_lf(c0.cp) && has_next && c1.cls == kLetter) return sc.run_end(i1, kLetter);
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    if (c0.cp == ' ' && has_next && c1.cls == kOther)
      return sc.newline_run_end(sc.run_end(i1, kOther));
    if (c0.cls == kOther) return sc.newline_run_end(sc.run_end(i, kOther));
    // c0 is whitespace. \s*[\r\n]+ : up to the last \r or \n of the whitespace run.
    size_t j = i, last_start = i, after_newline = 0;
    while (j < sc.n) {
      Scanner::Char c = sc.at(j);
      if (c.cls != kSpace) break;
      last_start = j;
      j += c.len;
      if (is_cr_lf(c.cp)) after_newline = j;
    }
    if (after_newline != 0) return after_newline;
    return whitespace_match(sc, i, j, last_start);
  }
};

class Gpt2Split final : public PreTokenizer {
 public:
  explicit Gpt2Split(bool add_prefix_space) : add_prefix_space_(add_prefix_space) {}
  bool add_prefix_space() const override { return add_prefix_space_; }

  void split(std::string_view text,
             std::vector<std::pair<uint32_t, uint32_t>>& out) const override {
    split_into_pieces(text, out, next);
  }

 private:
  static size_t next(const Scanner& sc, size_t i) {
    const Scanner::Char c0 = sc.at(i);
    if (c0.cp == '\'') {
      if (size_t len = contraction_length(sc, i, false)) return i + len;
    }
    // ' ?\p{L}+' | ' ?\p{N}+' | ' ?[^\s\p{L}\p{N}]+'
    if (c0.cp == ' ' && i + 1 < sc.n) {
      const Scanner::Char c1 = sc.at(i + 1);
      if (c1.cls != kSpace) return sc.run_end(i + 1, c1.cls);
    }
    if (c0.cls != kSpace) return sc.run_end(i, c0.cls);
    // \s+(?!\S) | \s+
    size_t j = i, last_start = i;
    while (j < sc.n) {
      Scanner::Char c = sc.at(j);
      if (c.cls != kSpace) break;
      last_start = j;
      j += c.len;
    }
    return whitespace_match(sc, i, j, last_start);
  }

  bool add_prefix_space_;
};

class WholeText final : public PreTokenizer {
 public:
  explicit WholeText(bool add_prefix_space) : add_prefix_space_(add_prefix_space) {}
  bool add_prefix_space() const override { return add_prefix_space_; }
  void split(std::string_view text,
             std::vector<std::pair<uint32_t, uint32_t>>& out) const override {
    if (!text.empty()) out.emplace_back(0u, static_cast<uint32_t>(text.size()));
  }

 private:
  bool add_prefix_space_;
};

}  // namespace

std::string_view PreTokenizer::prepare(std::string_view text, std::string& buf) const {
  if (!add_prefix_space() || text.empty() || text.front() == ' ') return text;
  buf.clear();
  buf.reserve(text.size() + 1);
  buf.push_back(' ');
  buf.append(text);
  return buf;
}

std::unique_ptr<PreTokenizer> make_qwen2_split() {
  return std::make_unique<Qwen2Split>();
}
std::unique_ptr<PreTokenizer> make_gpt2_split(bool add_prefix_space) {
  return std::make_unique<Gpt2Split>(add_prefix_space);
}
std::unique_ptr<PreTokenizer> make_whole_text(bool add_prefix_space) {
  return std::make_unique<WholeText>(add_prefix_space);
}

void pre_tokenize_byte_level(const PreTokenizer& pre, std::string_view text,
                             std::vector<std::string>& words) {
  std::string buf;
  std::string_view prepared = pre.prepare(text, buf);
  std::vector<std::pair<uint32_t, uint32_t>> spans;
  pre.split(prepared, spans);
  for (auto [b, e] : spans) words.push_back(byte_level_encode(prepared.substr(b, e - b)));
}

}  // namespace moai::tok
