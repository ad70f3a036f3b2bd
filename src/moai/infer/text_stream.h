#pragma once
// Turning generated tokens into printable text, piece by piece.
//
// TokenTextStream decodes incrementally and never emits a broken UTF-8 sequence: a Korean syllable
// or an emoji split over several byte-level tokens is held back until its last byte arrives (the
// tokenizer may decode an incomplete tail as raw bytes or as U+FFFD; both are held). Bytes that can
// never form a character are emitted as U+FFFD, so the output is always valid UTF-8.
//
// StopStringMatcher cuts the text at the first stop string, holding back any tail that could still
// grow into one, so a stop string is never printed, not even partly.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moai::infer {

class TokenTextStream {
 public:
  // decode(ids) -> text; moai passes Tokenizer::decode (tests pass a byte-level fake).
  using DecodeFn = std::function<std::string(std::span<const uint32_t>)>;
  explicit TokenTextStream(DecodeFn decode);
  // Adds a token and returns the text that became complete (possibly empty).
  std::string push(uint32_t token);
  // Returns whatever is still held (invalid bytes as U+FFFD) and resets.
  std::string flush();

 private:
  std::string decode_range(size_t begin, size_t end) const;

  DecodeFn decode_;
  std::vector<uint32_t> ids_;
  size_t prefix_offset_ =
      0;  // decode starts here, so merges across token boundaries decode correctly
  size_t read_offset_ = 0;  // text of ids_[prefix_offset_, read_offset_) was already emitted
};

// Length of the longest prefix of `bytes` that ends on a character boundary, treating a trailing
// sequence that is a valid but unfinished UTF-8 prefix as not yet complete.
size_t utf8_complete_prefix(std::string_view bytes);
// Replaces every invalid UTF-8 sequence with U+FFFD (one per maximal invalid subpart).
std::string utf8_sanitize(std::string_view bytes);

class StopStringMatcher {
 public:
  explicit StopStringMatcher(std::vector<std::string> stops);
  // Adds text; returns what may be shown now. After a stop string is seen, stopped() is true and
  // the returned text ends right before it.
  std::string push(std::string_view text);
  std::string flush();  // the held tail at the end of generation
  bool stopped() const { return stopped_; }
  const std::string& matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
  std::string matched_;
};

}  // namespace moai::infer
