#pragma once
// HF tokenizers normalizers. The Unicode normal forms come from utf8proc; a per-code-point quick
// check skips the conversion for text that is already normalized (all ASCII, most CJK), which is
// the common case.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace moai::tok {

std::string normalize_nfc(std::string_view text);
std::string normalize_nfkc(std::string_view text);
std::string normalize_nfd(std::string_view text);
std::string normalize_nfkd(std::string_view text);

enum class NormalForm { kNone, kNfc, kNfkc, kNfd, kNfkd };

// A normalizer pipeline as read from tokenizer.json ("normalizer": NFC | NFKC | NFD | NFKD |
// Sequence | null).
class Normalizer {
 public:
  Normalizer() = default;
  explicit Normalizer(const std::vector<NormalForm>& steps);
  bool empty() const { return steps_.empty(); }
  // Returns true and fills `out` when normalization changes the text; false (out untouched) when
  // the text is already normal, so callers can keep a view of the input.
  bool apply(std::string_view text, std::string& out) const;

 private:
  std::vector<NormalForm> steps_;
};

}  // namespace moai::tok
