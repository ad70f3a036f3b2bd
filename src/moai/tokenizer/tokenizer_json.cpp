// Reading tokenizer.json into a TokenizerImpl. Every component we do not implement exactly is
// rejected with an InputError naming the JSON path and the component, never approximated.
#include <nlohmann/json.hpp>

#include "moai/core/error.h"
#include "moai/tokenizer/tokenizer_impl.h"

namespace moai::tok {

using nlohmann::json;

namespace {

std::string type_of(const json& node) {
  auto it = node.find("type");
  if (it == node.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

}  // namespace

// Keeps the origin and builds paths for messages: "file: pre_tokenizer.pretokenizers[0].pattern:
// ...".
struct TokenizerJsonParser {
  const std::string& origin;
  TokenizerImpl& impl;

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw_input_error(origin + ": " + path, what);
  }
  const json& field(const json& obj, const std::string& path, const char* key) const {
    if (!obj.is_object()) fail(path, "expected a JSON object");
    auto it = obj.find(key);
    if (it == obj.end()) fail(path + "." + key, "missing field");
    return *it;
  }
  bool get_bool(const json& obj, const std::string& path, const char* key, bool fallback) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) fail(path + "." + key, "expected true or false");
    return it->get<bool>();
  }
  std::optional<std::string> get_optional_string(const json& obj, const std::string& path,
                                                 const char* key) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) fail(path + "." + key, "expected a string or null");
    return it->get<std::string>();
  }
  std::string get_string(const json& obj, const std::string& path, const char* key) const {
    const json& v = field(obj, path, key);
    if (!v.is_string()) fail(path + "." + key, "expected a string");
    return v.get<std::string>();
  }
  TokenId get_id(const json& v, const std::string& path) const {
    if (!v.is_number_unsigned() || v.get<uint64_t>() > 0xFFFFFFFEull)
      fail(path, "expected a token id (non-negative integer)");
    return static_cast<TokenId>(v.get<uint64_t>());
  }

  void parse(const json& root) {
    if (!root.is_object()) fail("(root)", "expected a JSON object (HF tokenizer.json)");
    for (const char* key : {"truncation", "padding"}) {
      auto it = root.find(key);
      if (it != root.end() && !it->is_null())
        fail(key, std::string("is set; moai does not apply ") + key +
                      " inside the tokenizer (set it to null)");
    }
    parse_model(field(root, "(root)", "model"));
    parse_added_tokens(root);
    parse_normalizer(root.contains("normalizer") ? root["normalizer"] : json());
    parse_pre_tokenizer(root.contains("pre_tokenizer") ? root["pre_tokenizer"] : json());
    parse_post_processor(root.contains("post_processor") ? root["post_processor"] : json());
    parse_decoder(root.contains("decoder") ? root["decoder"] : json());
  }

  void parse_model(const json& m) {
    const std::string path = "model";
    if (!m.is_object()) fail(path, "expected a JSON object");
    const std::string type = type_of(m);
    if (!type.empty() && type != "BPE")
      fail(path + ".type", "model type '" + type + "' is not supported (only BPE)");
    if (auto it = m.find("dropout"); it != m.end() && !it->is_null()) {
      if (!it->is_number() || it->get<double>() != 0.0)
        fail(path + ".dropout", "BPE dropout is not supported (must be null)");
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      auto v = get_optional_string(m, path, key);
      if (v && !v->empty())
        fail(path + "." + key, "'" + *v + "' is not supported (must be null or empty)");
    }
    if (get_bool(m, path, "byte_fallback", false))
      fail(path + ".byte_fallback", "byte_fallback=true is not supported");
    BpeOptions options;
    options.unk_token = get_optional_string(m, path, "unk_token");
    options.fuse_unk = get_bool(m, path, "fuse_unk", false);
    options.ignore_merges = get_bool(m, path, "ignore_merges", false);

    const json& vocab_json = field(m, path, "vocab");
    if (!vocab_json.is_object()) fail(path + ".vocab", "expected an object {token: id}");
    std::unordered_map<std::string, TokenId> vocab;
    vocab.reserve(vocab_json.size());
    for (auto it = vocab_json.begin(); it != vocab_json.end(); ++it)
      vocab.emplace(it.key(), get_id(it.value(), path + ".vocab[\"" + it.key() + "\"]"));

    std::vector<std::pair<std::string, std::string>> merges;
    if (auto it = m.find("merges"); it != m.end() && !it->is_null()) {
      if (!it->is_array()) fail(path + ".merges", "expected an array");
      merges.reserve(it->size());
      size_t index = 0;
      for (const json& merge : *it) {
        const std::string where = path + ".merges[" + std::to_string(index++) + "]";
        if (merge.is_string()) {
          const std::string& s = merge.get_ref<const std::string&>();
          const size_t space = s.find(' ');
          if (space == std::string::npos || s.find(' ', space + 1) != std::string::npos)
            fail(where,
                 "expected \"left right\" (two tokens separated by one space), got '" + s + "'");
          merges.emplace_back(s.substr(0, space), s.substr(space + 1));
        } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
                   merge[1].is_string()) {
          merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
        } else {
          fail(where, "expected \"left right\" or [\"left\", \"right\"]");
        }
      }
    }
    impl.model_ = std::make_unique<BpeModel>(vocab, merges, options, origin);
  }

  void parse_added_tokens(const json& root) {
    auto it = root.find("added_tokens");
    if (it == root.end() || it->is_null()) return;
    if (!it->is_array()) fail("added_tokens", "expected an array");
    size_t index = 0;
    for (const json& t : *it) {
      const std::string path = "added_tokens[" + std::to_string(index++) + "]";
      if (!t.is_object()) fail(path, "expected an object");
      AddedToken tok;
      tok.id = get_id(field(t, path, "id"), path + ".id");
      tok.content = get_string(t, path, "content");
      if (tok.content.empty()) fail(path + ".content", "empty added token");
      tok.single_word = get_bool(t, path, "single_word", false);
      tok.lstrip = get_bool(t, path, "lstrip", false);
      tok.rstrip = get_bool(t, path, "rstrip", false);
      tok.normalized = get_bool(t, path, "normalized", true);
      tok.special = get_bool(t, path, "special", false);
      if (impl.added_by_content_.count(tok.content))
        fail(path + ".content", "duplicate added token '" + tok.content + "'");
      impl.added_by_content_.emplace(tok.content, tok.id);
      impl.added_by_id_[tok.id] = impl.added_tokens_.size();
      impl.added_tokens_.push_back(tok);
    }
  }

  void collect_normal_forms(const json& n, const std::string& path,
                            std::vector<NormalForm>& forms) {
    if (n.is_null()) return;
    if (!n.is_object()) fail(path, "expected an object or null");
    const std::string type = type_of(n);
    if (type == "NFC") {
      forms.push_back(NormalForm::kNfc);
    } else if (type == "NFKC") {
      forms.push_back(NormalForm::kNfkc);
    } else if (type == "NFD") {
      forms.push_back(NormalForm::kNfd);
    } else if (type == "NFKD") {
      forms.push_back(NormalForm::kNfkd);
    } else if (type == "Sequence") {
      const json& list = field(n, path, "normalizers");
      if (!list.is_array()) fail(path + ".normalizers", "expected an array");
      for (size_t i = 0; i < list.size(); ++i)
        collect_normal_forms(list[i], path + ".normalizers[" + std::to_string(i) + "]", forms);
    } else {
      fail(path + ".type", "normalizer '" + type +
                               "' is not supported (supported: NFC, NFKC, NFD, NFKD, Sequence)");
    }
  }

  void parse_normalizer(const json& n) {
    std::vector<NormalForm> forms;
    collect_normal_forms(n, "normalizer", forms);
    impl.normalizer_ = Normalizer(forms);
    impl.normalizer_json_ = n;
  }

  struct PreStep {
    std::string type;
    const json* node;
    std::string path;
  };
  void flatten_pre(const json& p, const std::string& path, std::vector<PreStep>& steps) {
    if (p.is_null()) return;
    if (!p.is_object()) fail(path, "expected an object or null");
    const std::string type = type_of(p);
    if (type == "Sequence") {
      const json& list = field(p, path, "pretokenizers");
      if (!list.is_array()) fail(path + ".pretokenizers", "expected an array");
      for (size_t i = 0; i < list.size(); ++i)
        flatten_pre(list[i], path + ".pretokenizers[" + std::to_string(i) + "]", steps);
    } else {
      steps.push_back({type, &p, path});
    }
  }

  void parse_pre_tokenizer(const json& p) {
    impl.pre_tokenizer_json_ = p;
    std::vector<PreStep> steps;
    flatten_pre(p, "pre_tokenizer", steps);
    for (const PreStep& s : steps) {
      if (s.type != "Split" && s.type != "ByteLevel")
        fail(s.path + ".type", "pre-tokenizer '" + s.type +
                                   "' is not supported (supported: ByteLevel, Split with the "
                                   "Qwen2 or GPT-2 pattern, Sequence of those)");
    }
    const bool shape_ok =
        (steps.size() == 1 && steps[0].type == "ByteLevel") ||
        (steps.size() == 2 && steps[0].type == "Split" && steps[1].type == "ByteLevel");
    if (!shape_ok)
      fail("pre_tokenizer",
           "unsupported pre-tokenizer layout: moai needs ByteLevel, or Split followed by "
           "ByteLevel(use_regex=false)");
    const PreStep& byte_level = steps.back();
    const bool use_regex = get_bool(*byte_level.node, byte_level.path, "use_regex", true);
    const bool prefix = get_bool(*byte_level.node, byte_level.path, "add_prefix_space", true);
    if (steps.size() == 1) {
      impl.pre_tokenizer_ = use_regex ? make_gpt2_split(prefix) : make_whole_text(prefix);
      return;
    }
    if (use_regex)
      fail(byte_level.path + ".use_regex", "ByteLevel after Split must have use_regex=false");
    const PreStep& split = steps[0];
    const json& pattern = field(*split.node, split.path, "pattern");
    if (!pattern.is_object() || !pattern.contains("Regex") || !pattern["Regex"].is_string())
      fail(split.path + ".pattern", "only {\"Regex\": ...} patterns are supported");
    const std::string regex = pattern["Regex"].get<std::string>();
    const std::string behavior = get_string(*split.node, split.path, "behavior");
    if (behavior != "Isolated")
      fail(split.path + ".behavior",
           "Split behavior '" + behavior + "' is not supported (Isolated)");
    if (get_bool(*split.node, split.path, "invert", false))
      fail(split.path + ".invert", "invert=true is not supported");
    if (regex == kQwen2SplitPattern) {
      impl.pre_tokenizer_ = make_qwen2_split();
    } else if (regex == kGpt2SplitPattern) {
      impl.pre_tokenizer_ = make_gpt2_split(false);
    } else {
      fail(
          split.path + ".pattern.Regex",
          "unknown split pattern '" + regex +
              "': moai implements only the Qwen2/GPT-4 and GPT-2 patterns (see docs/tokenizer.md)");
    }
    impl.prefix_space_per_word_ = prefix;
  }

  TokenId special_token_id(const std::string& name, const json& specials, const std::string& path) {
    if (!specials.is_object() || !specials.contains(name))
      fail(path, "special token '" + name + "' is not listed in special_tokens");
    const json& entry = specials[name];
    const json& ids = field(entry, path, "ids");
    if (!ids.is_array() || ids.size() != 1)
      fail(path, "special token '" + name + "' must map to exactly one id");
    return get_id(ids[0], path + ".ids[0]");
  }

  void collect_post(const json& p, const std::string& path) {
    if (p.is_null()) return;
    if (!p.is_object()) fail(path, "expected an object or null");
    const std::string type = type_of(p);
    if (type == "ByteLevel") return;  // changes offsets only
    if (type == "Sequence") {
      const json& list = field(p, path, "processors");
      if (!list.is_array()) fail(path + ".processors", "expected an array");
      for (size_t i = 0; i < list.size(); ++i)
        collect_post(list[i], path + ".processors[" + std::to_string(i) + "]");
      return;
    }
    if (type != "TemplateProcessing")
      fail(path + ".type", "post-processor '" + type +
                               "' is not supported (supported: TemplateProcessing, ByteLevel, "
                               "Sequence)");
    if (!impl.single_template_.empty())
      fail(path, "more than one TemplateProcessing is not supported");
    const json& single = field(p, path, "single");
    const json& specials = p.contains("special_tokens") ? p["special_tokens"] : json::object();
    if (!single.is_array()) fail(path + ".single", "expected an array");
    for (size_t i = 0; i < single.size(); ++i) {
      const std::string where = path + ".single[" + std::to_string(i) + "]";
      const json& item = single[i];
      if (item.contains("SpecialToken")) {
        const std::string name = get_string(item["SpecialToken"], where + ".SpecialToken", "id");
        impl.single_template_.push_back({false, {special_token_id(name, specials, where)}});
      } else if (item.contains("Sequence")) {
        const std::string id = get_string(item["Sequence"], where + ".Sequence", "id");
        if (id != "A") fail(where + ".Sequence.id", "a single-sequence template may only use A");
        impl.single_template_.push_back({true, {}});
      } else {
        fail(where, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}");
      }
    }
  }

  void parse_post_processor(const json& p) {
    impl.post_processor_json_ = p;
    collect_post(p, "post_processor");
  }

  void parse_decoder(const json& d) {
    impl.decoder_json_ = d;
    if (d.is_null()) {
      impl.decoder_ = DecoderKind::kNone;
      return;
    }
    const std::string type = type_of(d);
    if (type != "ByteLevel")
      fail("decoder.type", "decoder '" + type + "' is not supported (supported: ByteLevel, null)");
    impl.decoder_ = DecoderKind::kByteLevel;
  }
};

std::unique_ptr<TokenizerImpl> TokenizerImpl::from_json(std::string_view json_text,
                                                        const std::string& origin) {
  json root;
  try {
    root = json::parse(json_text.begin(), json_text.end());
    // json::exception: parse_error, and out_of_range for numbers that overflow (found by
    // fuzz_load).
  } catch (const json::exception& e) {
    throw_input_error(origin, std::string("invalid JSON (") + e.what() + ")");
  }
  auto impl = std::make_unique<TokenizerImpl>();
  impl->origin_ = origin;
  TokenizerJsonParser parser{origin, *impl};
  try {
    parser.parse(root);
  } catch (const json::exception& e) {
    throw_input_error(origin, std::string("malformed tokenizer.json: ") + e.what());
  }
  impl->finish_loading();
  return impl;
}

}  // namespace moai::tok
