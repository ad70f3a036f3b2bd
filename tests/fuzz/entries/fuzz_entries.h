#pragma once
// Fuzz entry points: one function per parser of outside input. Each takes arbitrary bytes and must
// either accept them or throw what the parser documents for bad input (moai::InputError, an
// IoError for the temporary file, infer::ApiError for request bodies), which the entry catches.
// Anything else escaping (InternalError, std::exception, a sanitizer report, a crash, a hang) is a
// bug. The same functions run under libFuzzer (libfuzzer_main.cpp, `make fuzz`) and over the
// committed corpora in the normal test build (replay_test.cpp).
#include <cstddef>
#include <cstdint>
#include <vector>

namespace moai::fuzz {

using EntryFn = int (*)(const uint8_t* data, size_t size);

int safetensors_one(const uint8_t* data, size_t size);
int qwen3_config_one(const uint8_t* data, size_t size);
int records_one(const uint8_t* data, size_t size);  // first byte: format, compression, options
int sft_record_one(const uint8_t* data, size_t size);
int train_config_one(const uint8_t* data, size_t size);    // first byte: YAML file or JSON text
int openai_request_one(const uint8_t* data, size_t size);  // first byte: chat or completions
int gguf_one(const uint8_t* data, size_t size);
int manifest_one(const uint8_t* data, size_t size);
int token_shard_one(const uint8_t* data, size_t size);
int trainer_state_one(const uint8_t* data, size_t size);
int tokenizer_json_one(const uint8_t* data, size_t size);
int hub_api_one(const uint8_t* data, size_t size);  // first byte: which API answer
int hub_card_one(const uint8_t* data, size_t size);

struct Entry {
  const char* name;  // the corpus folder tests/fuzz/corpus/<name> and the binary fuzz_<name>
  EntryFn fn;
};
const std::vector<Entry>& entries();

}  // namespace moai::fuzz
