// tokenizer.json / tokenizer_config.json / special_tokens_map.json: reading the two config files of
// a tokenizer directory, and writing all three in the layout HF tokenizers and transformers load.
#include <nlohmann/json.hpp>

#include <filesystem>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/tokenizer/chat_template.h"
#include "moai/tokenizer/tokenizer_impl.h"

namespace moai::tok {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

// A role entry is a string, an AddedToken-like object with "content", or null (returned as "").
// nullopt when the key is absent.
std::optional<std::string> role_token(const json& root, const char* key, const std::string& file) {
  auto it = root.find(key);
  if (it == root.end()) return std::nullopt;
  if (it->is_null()) return std::string();
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    return (*it)["content"].get<std::string>();
  throw_input_error(file + ": " + key, "expected a string, {\"content\": ...} or null");
}

json parse_json_file(const std::string& file) {
  try {
    return json::parse(read_file(file));
    // json::exception: parse_error, and out_of_range for numbers that overflow (found by
    // fuzz_load).
  } catch (const json::exception& e) {
    throw_input_error(file, std::string("invalid JSON (") + e.what() + ")");
  }
}

}  // namespace

void TokenizerImpl::read_config_files(const std::string& dir) {
  std::optional<std::string>* roles[] = {&bos_token, &eos_token, &pad_token, &unk_token};
  const char* keys[] = {"bos_token", "eos_token", "pad_token", "unk_token"};
  // tokenizer_config.json first; special_tokens_map.json overrides it, as transformers does.
  for (const char* name : {"tokenizer_config.json", "special_tokens_map.json"}) {
    const std::string file = dir + "/" + name;
    if (!file_exists(file)) continue;
    json root = parse_json_file(file);
    if (!root.is_object()) throw_input_error(file, "expected a JSON object");
    for (int k = 0; k < 4; ++k) {
      if (auto token = role_token(root, keys[k], file)) {
        if (!token->empty() && !token_to_id(*token))
          throw_input_error(file + ": " + keys[k],
                            "token '" + *token + "' is not in the tokenizer's vocabulary");
        *roles[k] = *token;
      }
    }
    if (auto it = root.find("chat_template"); it != root.end() && !it->is_null()) {
      if (it->is_string()) {
        chat_template = it->get<std::string>();
      } else if (it->is_array()) {
        // [{"name": ..., "template": ...}]: keep the "default" one (else the first).
        for (const json& entry : *it) {
          if (!entry.is_object() || !entry.contains("template")) continue;
          if (chat_template.empty() || entry.value("name", "") == "default")
            chat_template = entry["template"].get<std::string>();
        }
      } else {
        throw_input_error(file + ": chat_template", "expected a string or a list of templates");
      }
    }
  }
  resolve_special_ids();
}

std::string TokenizerImpl::to_json() const {
  std::string out;
  out.reserve(model_->vocab_size() * 24 + model_->merges().size() * 24);
  out += "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n";
  out += "  \"added_tokens\": [";
  std::vector<const AddedToken*> sorted;
  for (const AddedToken& t : added_tokens_) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->id < b->id; });
  for (size_t i = 0; i < sorted.size(); ++i) {
    const AddedToken& t = *sorted[i];
    ordered_json j;
    j["id"] = t.id;
    j["content"] = t.content;
    j["single_word"] = t.single_word;
    j["lstrip"] = t.lstrip;
    j["rstrip"] = t.rstrip;
    j["normalized"] = t.normalized;
    j["special"] = t.special;
    out += i ? ",\n    " : "\n    ";
    out += j.dump();
  }
  out += sorted.empty() ? "],\n" : "\n  ],\n";
  out += "  \"normalizer\": " + normalizer_json_.dump() + ",\n";
  out += "  \"pre_tokenizer\": " + pre_tokenizer_json_.dump() + ",\n";
  out += "  \"post_processor\": " + post_processor_json_.dump() + ",\n";
  out += "  \"decoder\": " + decoder_json_.dump() + ",\n";
  const BpeOptions& opt = model_->options();
  out += "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n";
  out += "    \"unk_token\": " + (opt.unk_token ? json(*opt.unk_token).dump() : "null") + ",\n";
  out += "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n";
  out += std::string("    \"fuse_unk\": ") + (opt.fuse_unk ? "true" : "false") + ",\n";
  out += "    \"byte_fallback\": false,\n";
  out += std::string("    \"ignore_merges\": ") + (opt.ignore_merges ? "true" : "false") + ",\n";
  out += "    \"vocab\": {";
  bool first = true;
  for (TokenId id = 0; model_->vocab_size() && id <= model_->max_id(); ++id) {
    const std::string* token = model_->id_to_token(id);
    if (!token) continue;
    out += first ? "\n      " : ",\n      ";
    first = false;
    out += json(*token).dump() + ": " + std::to_string(id);
  }
  out += "\n    },\n    \"merges\": [";
  const auto& merges = model_->merges();
  for (size_t i = 0; i < merges.size(); ++i) {
    out += i ? ",\n      [" : "\n      [";
    out += json(*model_->id_to_token(merges[i].first)).dump() + ", " +
           json(*model_->id_to_token(merges[i].second)).dump() + "]";
  }
  out += merges.empty() ? "]\n  }\n}\n" : "\n    ]\n  }\n}\n";
  return out;
}

void TokenizerImpl::save(const std::string& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw_io_error(dir, "cannot create directory: " + ec.message());
  write_file_atomic(dir + "/tokenizer.json", to_json());

  auto role = [&](const std::optional<TokenId>& id) -> ordered_json {
    if (id) return *id_to_token(*id);
    return nullptr;
  };
  ordered_json roles;
  roles["bos_token"] = role(special_ids.bos);
  roles["eos_token"] = role(special_ids.eos);
  roles["pad_token"] = role(special_ids.pad);
  roles["unk_token"] = role(special_ids.unk);
  ordered_json additional = ordered_json::array();
  for (const AddedToken& t : added_tokens_) {
    if (!t.special) continue;
    bool is_role = false;
    for (auto& [key, value] : roles.items())
      if (value.is_string() && value.get<std::string>() == t.content) is_role = true;
    if (!is_role) additional.push_back(t.content);
  }

  ordered_json config;
  ordered_json decoder = ordered_json::object();
  for (const AddedToken* t : [&] {
         std::vector<const AddedToken*> v;
         for (const AddedToken& a : added_tokens_) v.push_back(&a);
         std::sort(v.begin(), v.end(), [](auto* a, auto* b) { return a->id < b->id; });
         return v;
       }()) {
    decoder[std::to_string(t->id)] = {{"content", t->content},         {"lstrip", t->lstrip},
                                      {"normalized", t->normalized},   {"rstrip", t->rstrip},
                                      {"single_word", t->single_word}, {"special", t->special}};
  }
  config["added_tokens_decoder"] = decoder;
  config["additional_special_tokens"] = additional;
  for (auto& [key, value] : roles.items()) config[key] = value;
  config["chat_template"] = chat_template.empty() ? chatml_jinja_template() : chat_template;
  config["clean_up_tokenization_spaces"] = false;
  config["model_max_length"] = 1000000000000000019884624838656.0;
  config["tokenizer_class"] = "PreTrainedTokenizerFast";
  write_file_atomic(dir + "/tokenizer_config.json", config.dump(2) + "\n");

  ordered_json map = roles;
  map["additional_special_tokens"] = additional;
  for (auto it = map.begin(); it != map.end();) {
    if (it->is_null())
      it = map.erase(it);
    else
      ++it;
  }
  write_file_atomic(dir + "/special_tokens_map.json", map.dump(2) + "\n");
}

}  // namespace moai::tok
