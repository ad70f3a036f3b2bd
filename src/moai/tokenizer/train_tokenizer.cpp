// tokenizer.json / tokenizer_config.json / special_tokens_map.json for a trained BPE. Key order and
// value spelling follow HF tokenizers' serde output (tokenizer.json) and transformers'
// save_pretrained (the two config files), so the files diff cleanly against theirs.
#include "moai/tokenizer/train_tokenizer.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/tokenizer/byte_level.h"
#include "moai/tokenizer/tokenizer.h"

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

  // The model is written by hand: an ordered_json object looks keys up linearly, which is quadratic
  // for a vocabulary of tens of thousands of tokens. Strings are escaped by nlohmann as serde does.
  std::string text = dump(root, -1);
  text.pop_back();  // the closing brace; the model follows
  text += R"(,"model":{"type":"BPE","dropout":null,"unk_token":null,)";
  text += R"("continuing_subword_prefix":null,"end_of_word_suffix":null,"fuse_unk":false,)";
  text += R"("byte_fallback":false,"ignore_merges":false,"vocab":{)";
  for (size_t id = 0; id < result.vocab.size(); ++id) {
    if (id > 0) text += ',';
    text += dump(Json(result.vocab[id]), -1);
    text += ':';
    text += std::to_string(id);
  }
  text += R"(},"merges":[)";
  for (size_t rank = 0; rank < result.merges.size(); ++rank) {
    if (rank > 0) text += ',';
    text += '[';
    text += dump(Json(result.merges[rank].first), -1);
    text += ',';
    text += dump(Json(result.merges[rank].second), -1);
    text += ']';
  }
  text += "]}}";
  return text;
}

void save_trained_tokenizer(const std::string& dir, const BpeTrainResult& result,
                            const TokenizerRecipe& recipe) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) throw_io_error(dir, "cannot create directory: " + error.message());
  // Write the HF-format file, then load it back with moai's own loader and let Tokenizer::save
  // write the directory: this proves the file loads, and the config files (roles, ChatML
  // chat_template) are exactly what every other moai command writes.
  const std::string json_path = (std::filesystem::path(dir) / "tokenizer.json").string();
  write_file_atomic(json_path, tokenizer_json_text(result, recipe));
  Tokenizer::load(json_path).save(dir);
}

}  // namespace moai::tok
