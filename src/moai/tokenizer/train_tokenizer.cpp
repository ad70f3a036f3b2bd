// tokenizer.json / tokenizer_config.json / special_tokens_map.json for a trained BPE. Key order and
// value spelling follow HF tokenizers' serde output (tokenizer.json) and transformers'
// save_pretrained (the two config files), so the files diff cleanly against theirs.
#include "moai/tokenizer/train_tokenizer.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/tokenizer/byte_level.h"

namespace moai::tok {
namespace {

using Json = nlohmann::ordered_json;

Json byte_level_component(bool add_prefix_space, bool trim_offsets, bool use_regex) {
  Json component;
  component["type"] = "ByteLevel";
  component["add_prefix_space"] = add_prefix_space;
  component["trim_offsets"] = trim_offsets;
  component["use_regex"] = use_regex;
  return component;
}

Json normalizer_json(const TokenizerRecipe& recipe) {
  switch (recipe.normal_form) {
    case NormalForm::kNfc:
      return Json{{"type", "NFC"}};
    case NormalForm::kNfkc:
      return Json{{"type", "NFKC"}};
    default:
      throw InternalError("train_tokenizer: unsupported normal form for training");
  }
}

Json pre_tokenizer_json() {
  Json split;
  split["type"] = "Split";
  split["pattern"] = Json{{"Regex", kQwen2SplitPattern}};
  split["behavior"] = "Isolated";
  split["invert"] = false;
  Json sequence;
  sequence["type"] = "Sequence";
  sequence["pretokenizers"] = Json::array({split, byte_level_component(false, false, false)});
  return sequence;
}

Json added_token_json(size_t id, const std::string& content) {
  Json token;
  token["id"] = id;
  token["content"] = content;
  token["single_word"] = false;
  token["lstrip"] = false;
  token["rstrip"] = false;
  token["normalized"] = false;
  token["special"] = true;
  return token;
}

// transformers' role names for the original's special tokens.
const char* role_of(const std::string& token) {
  if (token == "<s>") return "bos_token";
  if (token == "</s>") return "eos_token";
  if (token == "<unk>") return "unk_token";
  if (token == "<pad>") return "pad_token";
  return nullptr;
}

std::string dump(const Json& json, int indent) {
  return json.dump(indent, ' ', false, Json::error_handler_t::strict);
}

}  // namespace

const std::vector<std::string> kDefaultSpecialTokens = {
    "<pad>", "<s>", "</s>", "<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"};

std::vector<std::string> byte_level_alphabet() {
  std::vector<std::string> alphabet;
  alphabet.reserve(256);
  for (int byte = 0; byte < 256; ++byte)
    alphabet.push_back(byte_to_unicode(static_cast<uint8_t>(byte)));
  return alphabet;
}

Normalizer make_recipe_normalizer(const TokenizerRecipe& recipe) {
  return Normalizer({recipe.normal_form});
}

std::unique_ptr<PreTokenizer> make_recipe_pre_tokenizer(const TokenizerRecipe&) {
  return make_qwen2_split();
}

std::string tokenizer_json_text(const BpeTrainResult& result, const TokenizerRecipe& recipe) {
  Json root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  root["added_tokens"] = Json::array();
  for (size_t id = 0; id < result.num_special_tokens; ++id) {
    root["added_tokens"].push_back(added_token_json(id, result.vocab[id]));
  }
  root["normalizer"] = normalizer_json(recipe);
  root["pre_tokenizer"] = pre_tokenizer_json();
  root["post_processor"] = byte_level_component(false, false, false);
  root["decoder"] = byte_level_component(false, false, false);

  Json model;
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = nullptr;
  model["continuing_subword_prefix"] = nullptr;
  model["end_of_word_suffix"] = nullptr;
  model["fuse_unk"] = false;
  model["byte_fallback"] = false;
  model["ignore_merges"] = false;
  Json vocab = Json::object();
  for (size_t id = 0; id < result.vocab.size(); ++id) vocab[result.vocab[id]] = id;
  model["vocab"] = std::move(vocab);
  Json merges = Json::array();
  for (const auto& [left, right] : result.merges) merges.push_back(Json::array({left, right}));
  model["merges"] = std::move(merges);
  root["model"] = std::move(model);
  return dump(root, -1);
}

void save_trained_tokenizer(const std::string& dir, const BpeTrainResult& result,
                            const TokenizerRecipe& recipe) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw_io_error(dir, "cannot create directory: " + error.message());

  Json special_map;
  Json config;
  Json decoder = Json::object();
  std::vector<std::string> additional;
  for (size_t id = 0; id < result.num_special_tokens; ++id) {
    const std::string& token = result.vocab[id];
    Json entry = added_token_json(id, token);
    entry.erase("id");
    decoder[std::to_string(id)] = std::move(entry);
    if (const char* role = role_of(token)) {
      special_map[role] = token;
    } else {
      additional.push_back(token);
    }
  }
  if (!additional.empty()) special_map["additional_special_tokens"] = additional;

  config["added_tokens_decoder"] = std::move(decoder);
  for (const auto& [key, value] : special_map.items()) config[key] = value;
  config["clean_up_tokenization_spaces"] = false;
  config["model_max_length"] = 131072;
  config["tokenizer_class"] = "PreTrainedTokenizerFast";

  const std::filesystem::path base(dir);
  write_file_atomic((base / "tokenizer.json").string(), tokenizer_json_text(result, recipe));
  write_file_atomic((base / "tokenizer_config.json").string(), dump(config, 2) + "\n");
  write_file_atomic((base / "special_tokens_map.json").string(), dump(special_map, 2) + "\n");
}

}  // namespace moai::tok
