// Unicode building blocks: UTF-8 repair, the GPT-2 byte map, normalizers (checked against utf8proc
// directly, so the quick-check shortcut can never change a result) and the two pre-tokenizer
// scanners.
#include <gtest/gtest.h>
#include <utf8proc.h>

#include <random>

#include "moai/tokenizer/byte_level.h"
#include "moai/tokenizer/normalizer.h"
#include "moai/tokenizer/pre_tokenizer.h"
#include "moai/tokenizer/unicode.h"

namespace moai::tok {
namespace {

std::string reference_normalize(const std::string& s, int options) {
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                                    static_cast<utf8proc_ssize_t>(s.size()), &out,
                                    static_cast<utf8proc_option_t>(options | UTF8PROC_STABLE));
  EXPECT_GE(n, 0);
  std::string r(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  free(out);
  return r;
}

std::string cp(uint32_t c) {
  std::string s;
  append_utf8(s, c);
  return s;
}

TEST(TokenizerUnicode, SanitizeReplacesMaximalInvalidSubpartsLikeRust) {
  size_t n = 0;
  EXPECT_EQ(sanitize_utf8("ok \xC3\xA9", &n), "ok \xC3\xA9");
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(sanitize_utf8("a\xF0\x9F\x98", &n), "a\xEF\xBF\xBD");  // truncated 4-byte sequence: one
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(sanitize_utf8("\xC0\x80", &n), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong: each byte
  EXPECT_EQ(n, 2u);
  EXPECT_EQ(sanitize_utf8("\xED\xA0\x80x", &n),
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDx");  // surrogate
  EXPECT_EQ(n, 3u);
  EXPECT_EQ(sanitize_utf8("\xE2\x82"
                          "A",
                          &n),
            "\xEF\xBF\xBD"
            "A");
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(valid_utf8_prefix("abc\xFFz"), 3u);
}

TEST(TokenizerUnicode, ByteMapIsTheGpt2Table) {
  EXPECT_EQ(byte_to_unicode(' '), "\xC4\xA0");   // U+0120 Ġ
  EXPECT_EQ(byte_to_unicode('\n'), "\xC4\x8A");  // U+010A Ċ
  EXPECT_EQ(byte_to_unicode('A'), "A");
  EXPECT_EQ(byte_to_codepoint(0xAD), 0x143u);  // the last of the 68 remapped bytes
  EXPECT_EQ(byte_to_codepoint(0xFF), 0xFFu);
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string back;
  ASSERT_TRUE(byte_level_decode_token(byte_level_encode(all), back));
  EXPECT_EQ(back, all);
  std::string out = "x";
  EXPECT_FALSE(byte_level_decode_token("a b", out));  // ' ' is not a mapped character
  EXPECT_EQ(out, "x");
}

TEST(TokenizerUnicode, NormalizersMatchUtf8procOnEveryBmpCodePoint) {
  for (uint32_t c = 0; c < 0x10000; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    const std::string s = cp(c);
    ASSERT_EQ(normalize_nfc(s), reference_normalize(s, UTF8PROC_COMPOSE)) << "U+" << std::hex << c;
    ASSERT_EQ(normalize_nfkc(s), reference_normalize(s, UTF8PROC_COMPOSE | UTF8PROC_COMPAT))
        << "U+" << std::hex << c;
  }
}

TEST(TokenizerUnicode, NormalizersMatchUtf8procOnRandomMixes) {
  // Characters that compose, decompose or reorder, mixed with ones that never change.
  const std::vector<uint32_t> pool = {'a',    'e',    'A',     ' ',    0x301,  0x308,
                                      0x323,  0x1100, 0x1161,  0x11A8, 0xAC00, 0xFB01,
                                      0xFF21, 0x3131, 0xF9D1,  0x212B, 0x4E00, 0x3042,
                                      0x30AB, 0x3099, 0x1F600, 0x2460, 0x0F73};
  std::mt19937 rng(7);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s;
    const int len = 1 + static_cast<int>(rng() % 8);
    for (int k = 0; k < len; ++k) s += cp(pool[rng() % pool.size()]);
    ASSERT_EQ(normalize_nfc(s), reference_normalize(s, UTF8PROC_COMPOSE));
    ASSERT_EQ(normalize_nfkc(s), reference_normalize(s, UTF8PROC_COMPOSE | UTF8PROC_COMPAT));
    ASSERT_EQ(normalize_nfd(s), reference_normalize(s, UTF8PROC_DECOMPOSE));
  }
  EXPECT_EQ(normalize_nfc("e\xCC\x81"), "\xC3\xA9");                     // e + U+0301 -> é
  EXPECT_EQ(normalize_nfkc("\xEF\xAC\x81"), "fi");                       // U+FB01 ligature
  EXPECT_EQ(normalize_nfc("\xEA\xB0\x80\xE1\x86\xA8"), "\xEA\xB0\x81");  // 가 + ᆨ -> 각
}

std::vector<std::string> words(const PreTokenizer& pre, const std::string& text) {
  std::vector<std::pair<uint32_t, uint32_t>> spans;
  pre.split(text, spans);
  std::vector<std::string> out;
  uint32_t expected_begin = 0;
  for (auto [b, e] : spans) {
    EXPECT_EQ(b, expected_begin) << "words must tile the text";
    EXPECT_LT(b, e);
    expected_begin = e;
    out.push_back(text.substr(b, e - b));
  }
  EXPECT_EQ(expected_begin, text.size());
  return out;
}

using W = std::vector<std::string>;

TEST(TokenizerPreTokenizer, Qwen2PatternCases) {
  auto pre = make_qwen2_split();
  EXPECT_EQ(words(*pre, "Hello world"), (W{"Hello", " world"}));
  EXPECT_EQ(words(*pre, "  hi"), (W{" ", " hi"}));
  EXPECT_EQ(words(*pre, "a\n\n b"), (W{"a", "\n\n", " b"}));
  EXPECT_EQ(words(*pre, "x  \n  y"), (W{"x", "  \n", " ", " y"}));
  EXPECT_EQ(words(*pre, "1234"), (W{"1", "2", "3", "4"}));
  EXPECT_EQ(words(*pre, "it's IT'S We'Re"), (W{"it", "'s", " IT", "'S", " We", "'Re"}));
  EXPECT_EQ(words(*pre, "...!?\n\nok"), (W{"...!?\n\n", "ok"}));
  EXPECT_EQ(words(*pre, " (x)"), (W{" (", "x", ")"}));
  EXPECT_EQ(words(*pre, "\tfoo"), (W{"\tfoo"}));
  EXPECT_EQ(words(*pre, "end  "), (W{"end", "  "}));
  EXPECT_EQ(words(*pre, "'hello"), (W{"'hello"}));
  EXPECT_EQ(words(*pre, "\xEA\xB0\x80\xEB\x82\x98 \xE4\xB8\x80"),  // 가나 一
            (W{"\xEA\xB0\x80\xEB\x82\x98", " \xE4\xB8\x80"}));
  EXPECT_EQ(words(*pre,
                  "a\xC2\xA0"
                  "b"),
            (W{"a",
               "\xC2\xA0"
               "b"}));  // NBSP is whitespace
}

TEST(TokenizerPreTokenizer, Gpt2PatternCases) {
  auto pre = make_gpt2_split(false);
  EXPECT_EQ(words(*pre, "Hello  world"), (W{"Hello", " ", " world"}));
  EXPECT_EQ(words(*pre, "a1234 567"), (W{"a", "1234", " 567"}));
  EXPECT_EQ(words(*pre, "it's IT'S"), (W{"it", "'s", " IT", "'", "S"}));
  EXPECT_EQ(words(*pre, "x\n\n y"), (W{"x", "\n\n", " y"}));
  EXPECT_EQ(words(*pre, " !!"), (W{" !!"}));
  EXPECT_EQ(words(*pre, "a  "), (W{"a", "  "}));
  std::string buf;
  auto prefixed = make_gpt2_split(true);
  EXPECT_EQ(prefixed->prepare("hi", buf), " hi");
  EXPECT_EQ(prefixed->prepare(" hi", buf), " hi");
  EXPECT_EQ(prefixed->prepare("", buf), "");
}

TEST(TokenizerPreTokenizer, ByteLevelWordsForTrainers) {
  std::vector<std::string> out;
  pre_tokenize_byte_level(*make_qwen2_split(), "Hi there\n", out);
  EXPECT_EQ(out, (W{"Hi", "\xC4\xA0there", "\xC4\x8A"}));
}

}  // namespace
}  // namespace moai::tok
