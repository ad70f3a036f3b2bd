#include "moai/infer/text_stream.h"

#include <algorithm>

#include <utility>

namespace moai::infer {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// Expected total length of a sequence starting with lead byte b, 0 if b cannot start one.
int utf8_sequence_length(unsigned char b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

// Whether byte `c` may follow `lead` as the second byte (the first continuation is restricted for
// E0, ED, F0 and F4 to exclude overlong forms, surrogates and code points above U+10FFFF).
bool valid_second(unsigned char lead, unsigned char c) {
  switch (lead) {
    case 0xE0:
      return c >= 0xA0 && c <= 0xBF;
    case 0xED:
      return c >= 0x80 && c <= 0x9F;
    case 0xF0:
      return c >= 0x90 && c <= 0xBF;
    case 0xF4:
      return c >= 0x80 && c <= 0x8F;
    default:
      return c >= 0x80 && c <= 0xBF;
  }
}

// Length of the valid sequence at bytes[i] (complete), -k if the k bytes there are a valid prefix
// cut by the end of input, 0 if the byte at i starts an invalid subpart (its maximal length
// returned in bad).
int classify(std::string_view s, size_t i, size_t& bad) {
  const auto lead = static_cast<unsigned char>(s[i]);
  const int len = utf8_sequence_length(lead);
  bad = 1;
  if (len == 0) return 0;
  for (int k = 1; k < len; ++k) {
    if (i + k >= s.size()) return -k;
    const auto c = static_cast<unsigned char>(s[i + k]);
    const bool ok = k == 1 ? valid_second(lead, c) : (c >= 0x80 && c <= 0xBF);
    if (!ok) {
      bad = k;
      return 0;
    }
  }
  return len;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

size_t utf8_complete_prefix(std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    size_t bad = 0;
    const int n = classify(bytes, i, bad);
    if (n < 0) return i;  // an unfinished character at the end
    i += n > 0 ? static_cast<size_t>(n) : bad;
  }
  return i;
}

std::string utf8_sanitize(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    size_t bad = 0;
    const int n = classify(bytes, i, bad);
    if (n > 0) {
      out.append(bytes.substr(i, n));
      i += n;
    } else {
      out.append(kReplacement);
      i += n < 0 ? static_cast<size_t>(-n) : bad;
    }
  }
  return out;
}

TokenTextStream::TokenTextStream(DecodeFn decode) : decode_(std::move(decode)) {}

std::string TokenTextStream::decode_range(size_t begin, size_t end) const {
  return decode_(std::span<const uint32_t>(ids_.data() + begin, end - begin));
}

std::string TokenTextStream::push(uint32_t token) {
  ids_.push_back(token);
  // Decoding a small window that starts a little before the unemitted tokens keeps decoders that
  // look at neighbouring tokens (e.g. a leading-space rule) correct, and the cost per token
  // constant.
  const std::string before = decode_range(prefix_offset_, read_offset_);
  const std::string now = decode_range(prefix_offset_, ids_.size());
  // A character spans at most 4 byte-level tokens, so waiting longer than that cannot help.
  const bool can_wait = ids_.size() - read_offset_ < 4;
  const bool extends = now.size() >= before.size() && now.compare(0, before.size(), before) == 0;
  if (!extends && can_wait) return "";
  std::string_view fresh;
  if (now.size() > before.size()) fresh = std::string_view(now).substr(before.size());
  // A lossy decoder shows an unfinished character as U+FFFD, a byte-exact one as a cut sequence.
  if (can_wait && (ends_with(fresh, kReplacement) || utf8_complete_prefix(fresh) < fresh.size()))
    return "";
  std::string out = utf8_sanitize(fresh);
  prefix_offset_ = read_offset_;
  read_offset_ = ids_.size();
  if (prefix_offset_ > 64) {  // everything before prefix_offset_ is done for good
    ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_offset_));
    read_offset_ -= prefix_offset_;
    prefix_offset_ = 0;
  }
  return out;
}

std::string TokenTextStream::flush() {
  std::string out;
  if (read_offset_ < ids_.size()) {
    const std::string before = decode_range(prefix_offset_, read_offset_);
    const std::string now = decode_range(prefix_offset_, ids_.size());
    if (now.size() > before.size())
      out = utf8_sanitize(std::string_view(now).substr(before.size()));
  }
  ids_.clear();
  prefix_offset_ = read_offset_ = 0;
  return out;
}

StopStringMatcher::StopStringMatcher(std::vector<std::string> stops) {
  for (auto& s : stops)
    if (!s.empty()) stops_.push_back(std::move(s));
}

std::string StopStringMatcher::push(std::string_view text) {
  if (stopped_) return "";
  pending_.append(text);
  size_t first = std::string::npos;
  for (const auto& s : stops_) {
    const size_t pos = pending_.find(s);
    if (pos < first || (pos == first && pos != std::string::npos && s.size() > matched_.size())) {
      first = pos;
      matched_ = s;
    }
  }
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = pending_.substr(0, first);
    pending_.clear();
    return out;
  }
  // Hold the longest tail that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const auto& s : stops_) {
    for (size_t len = std::min(s.size() - 1, pending_.size()); len > hold; --len) {
      if (pending_.compare(pending_.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  std::string out = pending_.substr(0, pending_.size() - hold);
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StopStringMatcher::flush() {
  std::string out;
  if (!stopped_) out.swap(pending_);
  pending_.clear();
  return out;
}

}  // namespace moai::infer
