// libFuzzer target: tokenizer.json loading. Any input must either load or throw moai::Error
// (InputError for bad files); crashes, sanitizer reports and other exception types are bugs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "moai/core/error.h"
#include "moai/tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto tok = moai::tok::Tokenizer::from_json(
        std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json");
    auto ids = tok.encode("Hello, 세계! <|im_start|>", true);
    (void)tok.decode(ids, true);
  } catch (const moai::Error&) {
  }
  return 0;
}
