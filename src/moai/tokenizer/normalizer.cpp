#include "moai/tokenizer/normalizer.h"

#include <utf8proc.h>

#include <cstdlib>

#include "moai/tokenizer/unicode.h"

namespace moai::tok {
namespace {

uint8_t unsafe_flag(NormalForm form) {
  switch (form) {
    case NormalForm::kNfc:
      return kNfcUnsafe;
    case NormalForm::kNfkc:
      return kNfkcUnsafe;
    case NormalForm::kNfd:
      return kNfdUnsafe;
    case NormalForm::kNfkd:
      return kNfkdUnsafe;
    case NormalForm::kNone:
      break;
  }
  return 0;
}

// True when every code point of text passes the quick check of `form`, so the text is already
// normal.
bool already_normal(std::string_view text, NormalForm form) {
  const uint8_t unsafe = unsafe_flag(form);
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    if (s[i] < 0x80) {
      ++i;
      continue;
    }
    size_t len = 1;
    uint32_t cp = decode_utf8(s + i, len);
    if (char_flags(cp) & unsafe) return false;
    i += len;
  }
  return true;
}

std::string run_utf8proc(std::string_view text, NormalForm form) {
  int options = UTF8PROC_STABLE;
  switch (form) {
    case NormalForm::kNfc:
      options |= UTF8PROC_COMPOSE;
      break;
    case NormalForm::kNfkc:
      options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
      break;
    case NormalForm::kNfd:
      options |= UTF8PROC_DECOMPOSE;
      break;
    case NormalForm::kNfkd:
      options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
      break;
    case NormalForm::kNone:
      return std::string(text);
  }
  utf8proc_uint8_t* out = nullptr;
  utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                    static_cast<utf8proc_ssize_t>(text.size()), &out,
                                    static_cast<utf8proc_option_t>(options));
  // Input is valid UTF-8 (the tokenizer sanitizes it first), so utf8proc cannot fail; keep the text
  // if it ever does rather than dropping it.
  if (n < 0) return std::string(text);
  std::string result(reinterpret_cast<char*>(out), static_cast<size_t>(n));
  std::free(out);
  return result;
}

std::string normalize(std::string_view text, NormalForm form) {
  if (already_normal(text, form)) return std::string(text);
  return run_utf8proc(text, form);
}

}  // namespace

std::string normalize_nfc(std::string_view text) {
  return normalize(text, NormalForm::kNfc);
}
std::string normalize_nfkc(std::string_view text) {
  return normalize(text, NormalForm::kNfkc);
}
std::string normalize_nfd(std::string_view text) {
  return normalize(text, NormalForm::kNfd);
}
std::string normalize_nfkd(std::string_view text) {
  return normalize(text, NormalForm::kNfkd);
}

Normalizer::Normalizer(const std::vector<NormalForm>& steps) {
  for (NormalForm f : steps)
    if (f != NormalForm::kNone) steps_.push_back(f);
}

bool Normalizer::apply(std::string_view text, std::string& out) const {
  bool changed = false;
  for (NormalForm form : steps_) {
    std::string_view current = changed ? std::string_view(out) : text;
    if (already_normal(current, form)) continue;
    std::string next = run_utf8proc(current, form);
    if (next == current) continue;
    out = std::move(next);
    changed = true;
  }
  return changed;
}

}  // namespace moai::tok
