// The libFuzzer side of one fuzz target: MOAI_FUZZ_ENTRY names the entry point (fuzz_entries.h).
// Built only in the fuzz build (`make fuzz`, -DMOAI_FUZZ=ON with clang).
#include "entries/fuzz_entries.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return moai::fuzz::MOAI_FUZZ_ENTRY(data, size);
}
