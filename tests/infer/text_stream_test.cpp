#include "moai/infer/text_stream.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace moai::infer {
namespace {

// A byte-level "tokenizer": token id = one byte (0..255); ids >= 256 are multi-byte pieces from a
// table.
struct FakeVocab {
  std::vector<std::string> pieces;
  uint32_t add(const std::string& s) {
    pieces.push_back(s);
    return 255 + static_cast<uint32_t>(pieces.size());
  }
  std::string decode(std::span<const uint32_t> ids, bool lossy) const {
    std::string raw;
    for (uint32_t id : ids)
      raw += id < 256 ? std::string(1, static_cast<char>(id)) : pieces[id - 256];
    return lossy ? utf8_sanitize(raw) : raw;
  }
};

bool valid_utf8(const std::string& s) {
  return utf8_sanitize(s) == s;
}

std::vector<uint32_t> bytes_of(const std::string& s) {
  std::vector<uint32_t> ids;
  for (unsigned char c : s) ids.push_back(c);
  return ids;
}

// Streams ids one at a time; every piece must be valid UTF-8 and the pieces must add up to the
// text.
void expect_streams_to(const FakeVocab& v, bool lossy, const std::vector<uint32_t>& ids,
                       const std::string& want) {
  TokenTextStream stream([&](std::span<const uint32_t> x) { return v.decode(x, lossy); });
  std::string all;
  for (uint32_t id : ids) {
    std::string piece = stream.push(id);
    EXPECT_TRUE(valid_utf8(piece)) << "broken piece after id " << id;
    all += piece;
  }
  all += stream.flush();
  EXPECT_EQ(all, want);
}

TEST(TokenTextStream, KoreanAndEmojiSplitIntoBytesAreHeldUntilComplete) {
  FakeVocab v;
  const std::string text = "안녕 😀 é!";
  for (bool lossy : {false, true}) expect_streams_to(v, lossy, bytes_of(text), text);
}

TEST(TokenTextStream, PiecesAppearAsSoonAsTheCharacterIsComplete) {
  FakeVocab v;
  TokenTextStream stream([&](std::span<const uint32_t> x) { return v.decode(x, false); });
  const std::string han = "한";  // ED 95 9C
  EXPECT_EQ(stream.push(static_cast<unsigned char>(han[0])), "");
  EXPECT_EQ(stream.push(static_cast<unsigned char>(han[1])), "");
  EXPECT_EQ(stream.push(static_cast<unsigned char>(han[2])), han);
  EXPECT_EQ(stream.push('a'), "a");
}

TEST(TokenTextStream, MultiBytePiecesMixedWithSplitOnes) {
  FakeVocab v;
  const uint32_t hello = v.add(" hello");
  const uint32_t lead =
      v.add(" \xF0\x9F");  // a space plus the first half of an emoji, like GPT-2's "Ġð"
  std::vector<uint32_t> ids{hello, lead, 0x98, 0x80, 'x'};
  expect_streams_to(v, false, ids, " hello 😀x");
  expect_streams_to(v, true, ids, " hello 😀x");
}

TEST(TokenTextStream, InvalidBytesBecomeReplacementCharacter) {
  FakeVocab v;
  // A lone continuation byte, then an unfinished sequence interrupted by ASCII, then an unfinished
  // end.
  std::vector<uint32_t> ids{'a', 0x80, 'b', 0xE4, 'c', 0xF0, 0x9F};
  const std::string want =
      "a\xEF\xBF\xBD"
      "b\xEF\xBF\xBD"
      "c\xEF\xBF\xBD";
  expect_streams_to(v, false, ids, want);
  expect_streams_to(v, true, ids, want);
}

TEST(TokenTextStream, LongStreamsStayCorrect) {
  FakeVocab v;
  std::string text;
  for (int i = 0; i < 200; ++i) text += "줄 " + std::to_string(i) + " 🎉\n";
  expect_streams_to(v, false, bytes_of(text), text);
}

TEST(Utf8, CompletePrefixAndSanitize) {
  EXPECT_EQ(utf8_complete_prefix("ab\xE4\xB8"), 2u);
  EXPECT_EQ(utf8_complete_prefix("ab\xE4\xB8\xAD"), 5u);
  EXPECT_EQ(utf8_complete_prefix("\xF0"), 0u);
  EXPECT_EQ(utf8_complete_prefix("\xC0\xAF"), 2u);  // overlong: invalid, not unfinished
  EXPECT_EQ(utf8_sanitize("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(utf8_sanitize("ok\xE4\xB8\xAD"), "ok\xE4\xB8\xAD");
}

TEST(StopStrings, CutsAtFirstStopAndNeverShowsPartOfIt) {
  StopStringMatcher m({"<|im_end|>", "\n\nUser:"});
  std::string shown;
  for (std::string piece : {"Hello", " wor", "ld<", "|im_", "end|>", "ignored"}) {
    shown += m.push(piece);
    EXPECT_EQ(shown.find('<'), std::string::npos) << "partial stop string leaked: " << shown;
    if (m.stopped()) break;
  }
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.matched(), "<|im_end|>");
  EXPECT_EQ(shown, "Hello world");
}

TEST(StopStrings, HeldTailIsReleasedWhenItDoesNotMatch) {
  StopStringMatcher m({"STOP"});
  EXPECT_EQ(m.push("abcST"), "abc");
  EXPECT_EQ(m.push("Xy"), "STXy");
  EXPECT_EQ(m.push("ST"), "");
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.flush(), "ST");
}

TEST(StopStrings, EarliestOccurrenceWins) {
  StopStringMatcher m({"cd", "b"});
  EXPECT_EQ(m.push("abcd"), "a");
  EXPECT_EQ(m.matched(), "b");
  EXPECT_EQ(m.push("more"), "");
}

TEST(StopStrings, NoStopsPassesEverythingThrough) {
  StopStringMatcher m({});
  EXPECT_EQ(m.push("x<|"), "x<|");
  EXPECT_EQ(m.flush(), "");
}

}  // namespace
}  // namespace moai::infer
