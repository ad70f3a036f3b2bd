#include "moai/tokenizer/train_extend.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/tokenizer/bpe_model.h"
#include "moai/tokenizer/byte_level.h"
#include "moai/tokenizer/tokenizer_impl.h"
#include "moai/tokenizer/unicode.h"
#include "moai/tokenizer/word_counter.h"

namespace moai::tok {
namespace {

// Plain (std::map) JSON: ordered_json looks keys up linearly, quadratic for a 50k-token vocabulary.
// Key order is not kept, which HF does not need; Tokenizer::save then writes its usual layout.
using Json = nlohmann::json;
namespace fs = std::filesystem;

NormalForm normal_form_of(const Json& node, const std::string& where) {
  const std::string type = node.value("type", "");
  if (type == "NFC") return NormalForm::kNfc;
  if (type == "NFKC") return NormalForm::kNfkc;
  if (type == "NFD") return NormalForm::kNfd;
  if (type == "NFKD") return NormalForm::kNfkd;
  throw_input_error(where + ".type", "normalizer '" + type +
                                         "' is not supported for extension (NFC, NFKC, NFD, NFKD, "
                                         "Sequence of those, or null)");
}

Normalizer parse_normalizer(const Json& node, const std::string& origin) {
  if (node.is_null()) return Normalizer();
  if (!node.is_object()) throw_input_error(origin + ": normalizer", "expected an object or null");
  if (node.value("type", "") == "Sequence") {
    std::vector<NormalForm> steps;
    const Json& list = node.contains("normalizers") ? node["normalizers"] : Json::array();
    for (size_t i = 0; i < list.size(); ++i) {
      steps.push_back(
          normal_form_of(list[i], origin + ": normalizer.normalizers[" + std::to_string(i) + "]"));
    }
    return Normalizer(steps);
  }
  return Normalizer({normal_form_of(node, origin + ": normalizer")});
}

bool is_qwen2_split(const Json& node) {
  return node.is_object() && node.value("type", "") == "Split" && node.contains("pattern") &&
         node["pattern"].is_object() && node["pattern"].value("Regex", "") == kQwen2SplitPattern &&
         node.value("behavior", "") == "Isolated" && !node.value("invert", false);
}

bool is_plain_byte_level(const Json& node) {
  return node.is_object() && node.value("type", "") == "ByteLevel" &&
         !node.value("use_regex", true) && !node.value("add_prefix_space", true);
}

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const Json& node, const std::string& origin) {
  if (node.is_object() && node.value("type", "") == "Sequence") {
    const Json& list = node.contains("pretokenizers") ? node["pretokenizers"] : Json::array();
    if (list.size() == 2 && is_qwen2_split(list[0]) && is_plain_byte_level(list[1])) {
      return make_qwen2_split();
    }
  } else if (node.is_object() && node.value("type", "") == "ByteLevel" &&
             node.value("use_regex", true)) {
    return make_gpt2_split(node.value("add_prefix_space", true));
  }
  throw_input_error(origin + ": pre_tokenizer",
                    "extension supports Sequence[Split(Qwen2 pattern, Isolated), "
                    "ByteLevel(use_regex=false)] or ByteLevel(use_regex=true); got " +
                        node.dump().substr(0, 120));
}

}  // namespace

bool is_reachable(const Tokenizer& tokenizer, TokenId id) {
  const std::string* token = tokenizer.impl().model().id_to_token(id);
  if (!token) return false;
  std::string bytes;
  if (!byte_level_decode_token(*token, bytes)) return false;
  const std::vector<TokenId> single{id};
  if (valid_utf8_prefix(bytes) == bytes.size()) return tokenizer.encode(bytes, false) == single;
  // A piece of a multi-byte character has no text of its own; it is reachable when its bytes, as
  // one pre-tokenized word, merge into it.
  std::vector<TokenId> encoded;
  tokenizer.impl().model().encode_word(bytes, encoded);
  return encoded == single;
}

BaseTokenizer BaseTokenizer::load(const std::string& path) {
  BaseTokenizer base;
  std::string json_path = path;
  if (is_directory(path)) {
    base.source_dir_ = path;
    json_path = (fs::path(path) / "tokenizer.json").string();
  }
  base.json_text_ = read_file(json_path);
  Json root;
  try {
    root = Json::parse(base.json_text_);
  } catch (const Json::parse_error& error) {
    throw_input_error(json_path, std::string("invalid JSON (") + error.what() + ")");
  }
  if (!root.is_object() || !root.contains("model") || !root["model"].is_object()) {
    throw_input_error(json_path + ": model", "expected an object");
  }
  const std::string model_type = root["model"].value("type", "");
  if (model_type != "BPE") {
    throw_input_error(json_path + ": model.type",
                      "extension needs a BPE base tokenizer, got '" + model_type + "'");
  }
  base.normalizer_ = parse_normalizer(root.value("normalizer", Json()), json_path);
  base.pre_tokenizer_ = parse_pre_tokenizer(root.value("pre_tokenizer", Json()), json_path);
  base.tokenizer_ = std::make_unique<Tokenizer>(Tokenizer::load(path));
  return base;
}

ExtendReport BaseTokenizer::extend(const WordCounter& counts, const BpeTrainerOptions& options,
                                   const std::string& out_dir) const {
  const BpeModel& model = tokenizer_->impl().model();
  ExtendReport report;
  report.base_vocab_size = tokenizer_->vocab_size();
  report.base_merges = model.merges().size();
  if (options.vocab_size <= report.base_vocab_size) {
    throw_input_error("vocab_size",
                      "in extension mode it is the final size and must exceed the base's " +
                          std::to_string(report.base_vocab_size));
  }

  // Ids the base uses outside its model (added tokens beyond the vocab) stay placeholders, so no
  // new token can take them.
  std::vector<std::string> base_vocab(report.base_vocab_size);
  for (TokenId id = 0; id < report.base_vocab_size; ++id) {
    if (const std::string* token = model.id_to_token(id)) base_vocab[id] = *token;
  }
  // Each word as base ids. An unk id (a byte the base lacks) splits the word: nothing merges with
  // it.
  const std::optional<TokenId> unk =
      model.options().unk_token ? model.token_to_id(*model.options().unk_token) : std::nullopt;
  std::vector<EncodedWord> words;
  std::vector<TokenId> ids;
  for (const WordCount& word : counts.raw_words()) {
    ids.clear();
    model.encode_word(word.word, ids);
    EncodedWord current{{}, word.count};
    for (const TokenId id : ids) {
      if (unk && id == *unk) {
        if (current.ids.size() > 1) words.push_back(current);
        current.ids.clear();
      } else {
        current.ids.push_back(id);
      }
    }
    if (current.ids.size() > 1) words.push_back(std::move(current));
  }
  const BpeTrainResult result = continue_bpe(base_vocab, words, options);
  report.stop_reason = result.stop_reason;
  report.new_merges = result.merges.size();
  report.final_vocab_size = result.vocab.size();

  // The base file with the new tokens and merges appended; every other component is kept as it was.
  Json root = Json::parse(json_text_);
  Json& vocab = root["model"]["vocab"];
  for (size_t id = report.base_vocab_size; id < result.vocab.size(); ++id) {
    vocab[result.vocab[id]] = id;
    report.new_token_ids.push_back(static_cast<TokenId>(id));
  }
  Json& merges = root["model"]["merges"];
  const bool string_merges = !merges.empty() && merges[0].is_string();
  for (const auto& [left, right] : result.merges) {
    if (string_merges) {
      merges.push_back(left + " " + right);
    } else {
      merges.push_back(Json::array({left, right}));
    }
  }

  std::error_code error;
  fs::create_directories(out_dir, error);
  if (error) throw_io_error(out_dir, "cannot create directory: " + error.message());
  if (!source_dir_.empty()) {
    for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"}) {
      const fs::path from = fs::path(source_dir_) / name;
      if (file_exists(from.string())) {
        write_file_atomic((fs::path(out_dir) / name).string(), read_file(from.string()));
      }
    }
  }
  write_file_atomic((fs::path(out_dir) / "tokenizer.json").string(), root.dump());
  Tokenizer extended = Tokenizer::load(out_dir);
  extended.save(out_dir);

  for (const TokenId id : report.new_token_ids) {
    if (!is_reachable(extended, id)) report.unreachable_ids.push_back(id);
  }
  return report;
}

}  // namespace moai::tok
