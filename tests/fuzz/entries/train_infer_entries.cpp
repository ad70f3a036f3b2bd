// Entry points for the train, infer and tokenizer parsers: the YAML/JSON training config,
// trainer_state.json, OpenAI request bodies, GGUF files and tokenizer.json.
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_entries.h"
#include "fuzz_util.h"
#include "moai/core/error.h"
#include "moai/infer/gguf.h"
#include "moai/infer/openai_api.h"
#include "moai/tokenizer/tokenizer.h"
#include "moai/train/checkpoint.h"
#include "moai/train/train_config.h"

namespace moai::fuzz {

int train_config_one(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  try {
    train::TrainConfig config;
    if (data[0] & 1) {
      config = train::train_config_from_json(std::string(as_text(data + 1, size - 1)), "fuzz");
    } else {
      std::vector<std::string> notes;
      train::load_train_config_yaml(config, scratch_file(as_text(data + 1, size - 1), ".yaml"),
                                    &notes);
    }
    train::validate_train_config(config);
    (void)train::inert_setting_notes(config);
    (void)train::train_config_from_json(train::train_config_to_json(config), "round-trip");
  } catch (const InputError&) {
  } catch (const IoError&) {
  }
  return 0;
}

int trainer_state_one(const uint8_t* data, size_t size) {
  try {
    const auto state =
        train::TrainerState::from_json(std::string(as_text(data, size)), "trainer_state.json");
    (void)train::TrainerState::from_json(state.to_json(), "round-trip");
  } catch (const InputError&) {
  }
  return 0;
}

int openai_request_one(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string body(as_text(data + 1, size - 1));
  try {
    const auto request = (data[0] & 1) ? infer::parse_completion_request(body, 4096)
                                       : infer::parse_chat_request(body, 4096);
    if (request.options.max_new_tokens > 4096 || request.options.max_new_tokens < 1) std::abort();
  } catch (const infer::ApiError& e) {
    // As the server sends it: messages may quote the client's bytes, which need not be UTF-8.
    (void)infer::error_body(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  return 0;
}

int gguf_one(const uint8_t* data, size_t size) {
  const std::string path = scratch_file(as_text(data, size), ".gguf");
  try {
    const infer::GgufFile file(path);
    for (const auto& tensor : file.tensors()) {
      if (tensor.bytes <= (size_t{1} << 16)) (void)file.tensor_f32(tensor);
    }
  } catch (const InputError&) {
  } catch (const IoError&) {
  }
  return 0;
}

int tokenizer_json_one(const uint8_t* data, size_t size) {
  try {
    auto tok = tok::Tokenizer::from_json(as_text(data, size), "tokenizer.json");
    const auto ids = tok.encode("Hello, 세계! <|im_start|>", true);
    (void)tok.decode(ids, true);
  } catch (const InputError&) {
  }
  return 0;
}

const std::vector<Entry>& entries() {
  static const std::vector<Entry> all = {
      {"safetensors", safetensors_one},
      {"qwen3_config", qwen3_config_one},
      {"records", records_one},
      {"sft_record", sft_record_one},
      {"train_config", train_config_one},
      {"openai_request", openai_request_one},
      {"gguf", gguf_one},
      {"manifest", manifest_one},
      {"token_shard", token_shard_one},
      {"trainer_state", trainer_state_one},
      {"tokenizer_json", tokenizer_json_one},
      {"hub_api", hub_api_one},
      {"hub_card", hub_card_one},
  };
  return all;
}

}  // namespace moai::fuzz
