// libFuzzer target: encode/decode of arbitrary bytes with a real tokenizer (MOAI_FUZZ_TOKENIZER,
// default the Qwen3 tokenizer under ../shared). Checks, besides memory safety, the round-trip
// invariant of a full byte-alphabet tokenizer: decode(encode(x)) == normalized(x), and that the
// word cache never changes a result (a second encode of the same text gives the same ids).
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "moai/tokenizer/tokenizer.h"
#include "moai/tokenizer/tokenizer_impl.h"

namespace {
const moai::tok::Tokenizer& tokenizer() {
  static std::unique_ptr<moai::tok::Tokenizer> tok = [] {
    const char* env = std::getenv("MOAI_FUZZ_TOKENIZER");
    return std::make_unique<moai::tok::Tokenizer>(
        moai::tok::Tokenizer::load(env ? env : "../shared/assets/qwen3/tokenizer.json"));
  }();
  return *tok;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto& tok = tokenizer();
  const auto ids = tok.encode(text, false);
  const std::string decoded = tok.decode(ids, false);
  if (decoded != tok.impl().normalized_text(text)) {
    std::fprintf(stderr, "round trip differs\n");
    std::abort();
  }
  if (tok.encode(text, false) != ids) std::abort();
  return 0;
}
