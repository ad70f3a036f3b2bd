#include "moai/infer/gguf_export.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/log.h"
#include "moai/model/hf_checkpoint.h"
#include "moai/model/param_layout.h"
#include "moai/model/qwen3_config.h"

namespace moai::infer {
namespace {

using nlohmann::json;

// llama.cpp token types.
constexpr int32_t kTokenNormal = 1;
constexpr int32_t kTokenControl = 3;
constexpr int32_t kTokenUserDefined = 4;
constexpr int32_t kTokenUnused = 5;

std::string gguf_tensor_name(const model::ParamInfo& p) {
  using model::ParamKind;
  const std::string blk = "blk." + std::to_string(p.layer) + ".";
  switch (p.kind) {
    case ParamKind::kEmbedding:
      return "token_embd.weight";
    case ParamKind::kLmHead:
      return "output.weight";
    case ParamKind::kFinalNorm:
      return "output_norm.weight";
    case ParamKind::kInputNorm:
      return blk + "attn_norm.weight";
    case ParamKind::kQProj:
      return blk + "attn_q.weight";
    case ParamKind::kKProj:
      return blk + "attn_k.weight";
    case ParamKind::kVProj:
      return blk + "attn_v.weight";
    case ParamKind::kOProj:
      return blk + "attn_output.weight";
    case ParamKind::kQNorm:
      return blk + "attn_q_norm.weight";
    case ParamKind::kKNorm:
      return blk + "attn_k_norm.weight";
    case ParamKind::kPostNorm:
      return blk + "ffn_norm.weight";
    case ParamKind::kGateProj:
      return blk + "ffn_gate.weight";
    case ParamKind::kUpProj:
      return blk + "ffn_up.weight";
    case ParamKind::kDownProj:
      return blk + "ffn_down.weight";
  }
  throw_internal_error(__FILE__, __LINE__, "unknown parameter kind for " + p.name);
}

json read_json(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw_input_error(path, std::string("malformed JSON: ") + e.what());
  }
}

// llama.cpp picks its pre-tokenizer regex by name. Qwen2/3's split pattern starts with the
// case-insensitive contractions; the GPT-2 byte-level regex (use_regex) is "gpt-2".
std::string detect_pre_tokenizer(const json& tok) {
  const std::string pre = tok.contains("pre_tokenizer") ? tok["pre_tokenizer"].dump() : "";
  if (pre.find("(?i:'s|'t|'re|'ve|'m|'ll|'d)") != std::string::npos) return "qwen2";
  return "gpt-2";
}

struct TokenizerTables {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  size_t defined = 0;
  size_t padding = 0;
  std::string pre;
};

TokenizerTables tokenizer_tables(const json& tok, const std::string& where, int64_t vocab_rows) {
  TokenizerTables t;
  if (!tok.contains("model") || !tok["model"].is_object() ||
      tok["model"].value("type", "") != "BPE")
    throw_input_error(where,
                      "model.type: expected a BPE tokenizer (GGUF export supports byte-level BPE)");
  const json& vocab = tok["model"]["vocab"];
  if (!vocab.is_object()) throw_input_error(where, "model.vocab: expected an object");
  std::vector<std::string> by_id(static_cast<size_t>(vocab_rows));
  std::vector<bool> seen(by_id.size(), false);
  std::vector<int32_t> types(by_id.size(), kTokenNormal);
  auto put = [&](int64_t id, const std::string& text, int32_t type) {
    if (id < 0 || id >= vocab_rows)
      throw_input_error(where, "token '" + text + "' has id " + std::to_string(id) +
                                   " outside the model's vocab_size " + std::to_string(vocab_rows));
    by_id[id] = text;
    seen[id] = true;
    types[id] = type;
  };
  for (auto it = vocab.begin(); it != vocab.end(); ++it)
    put(it.value().get<int64_t>(), it.key(), kTokenNormal);
  if (tok.contains("added_tokens") && tok["added_tokens"].is_array()) {
    for (const auto& a : tok["added_tokens"])
      put(a.at("id").get<int64_t>(), a.at("content").get<std::string>(),
          a.value("special", false) ? kTokenControl : kTokenUserDefined);
  }
  for (size_t i = 0; i < by_id.size(); ++i) {
    if (seen[i]) {
      ++t.defined;
    } else {  // rows the tokenizer never produces (vocab padded for speed): llama.cpp's convention
      by_id[i] = "[PAD" + std::to_string(i) + "]";
      types[i] = kTokenUnused;
      ++t.padding;
    }
  }
  t.tokens = std::move(by_id);
  t.types = std::move(types);
  const json& merges = tok["model"].value("merges", json::array());
  for (const auto& m : merges) {
    if (m.is_string()) {
      t.merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2) {
      t.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    } else {
      throw_input_error(where, "model.merges: expected \"a b\" strings or [a, b] pairs");
    }
  }
  t.pre = detect_pre_tokenizer(tok);
  return t;
}

std::optional<uint32_t> token_id(const json& tok, const std::string& text) {
  if (tok.contains("added_tokens"))
    for (const auto& a : tok["added_tokens"])
      if (a.value("content", "") == text) return a.at("id").get<uint32_t>();
  const json& vocab = tok["model"]["vocab"];
  if (auto it = vocab.find(text); it != vocab.end()) return it->get<uint32_t>();
  return std::nullopt;
}

// tokenizer_config.json stores special tokens as strings or {"content": ...} objects.
std::optional<std::string> config_token(const json& cfg, const char* key) {
  if (!cfg.contains(key)) return std::nullopt;
  const json& v = cfg[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content")) return v["content"].get<std::string>();
  return std::nullopt;
}

}  // namespace

GgufExportSummary export_gguf(const std::string& model_dir, const std::string& out_path,
                              const GgufExportOptions& options) {
  namespace fs = std::filesystem;
  if (!is_directory(model_dir)) throw_input_error(model_dir, "not a model directory");
  const model::Qwen3Config config = model::load_qwen3_config(model_dir);
  const std::string tok_path = (fs::path(model_dir) / "tokenizer.json").string();
  if (!file_exists(tok_path))
    throw_input_error(tok_path,
                      "missing: GGUF export needs the tokenizer inside the model directory");
  const json tok = read_json(tok_path);
  const std::string cfg_path = (fs::path(model_dir) / "tokenizer_config.json").string();
  const json tok_cfg = file_exists(cfg_path) ? read_json(cfg_path) : json::object();

  const model::ParamLayout layout(config);
  const std::vector<float> params = model::read_hf_params(model_dir, layout);

  TokenizerTables tables = tokenizer_tables(tok, tok_path, config.vocab_size);
  GgufWriter w;
  const std::string arch = "qwen3";
  std::string name = options.name;
  if (name.empty()) name = fs::path(model_dir).lexically_normal().filename().string();
  if (name.empty() || name == ".")
    name = fs::absolute(model_dir).lexically_normal().parent_path().filename().string();
  const uint32_t file_type = options.type == GgmlType::kF32   ? 0
                             : options.type == GgmlType::kF16 ? 1
                                                              : 32;
  w.set("general.architecture", arch);
  w.set("general.name", name);
  w.set("general.alignment", uint32_t{32});
  w.set("general.file_type", file_type);
  w.set("general.quantization_version", uint32_t{2});
  w.set(arch + ".context_length", static_cast<uint32_t>(config.max_position_embeddings));
  w.set(arch + ".embedding_length", static_cast<uint32_t>(config.hidden_size));
  w.set(arch + ".block_count", static_cast<uint32_t>(config.num_hidden_layers));
  w.set(arch + ".feed_forward_length", static_cast<uint32_t>(config.intermediate_size));
  w.set(arch + ".attention.head_count", static_cast<uint32_t>(config.num_attention_heads));
  w.set(arch + ".attention.head_count_kv", static_cast<uint32_t>(config.num_key_value_heads));
  w.set(arch + ".attention.key_length", static_cast<uint32_t>(config.head_dim));
  w.set(arch + ".attention.value_length", static_cast<uint32_t>(config.head_dim));
  w.set(arch + ".rope.freq_base", static_cast<float>(config.rope_theta));
  w.set(arch + ".attention.layer_norm_rms_epsilon", static_cast<float>(config.rms_norm_eps));
  const auto& rs = config.rope_scaling;
  if (rs.type == ops::RopeType::kYarn || rs.type == ops::RopeType::kLinear) {
    w.set(arch + ".rope.scaling.type",
          std::string(rs.type == ops::RopeType::kYarn ? "yarn" : "linear"));
    w.set(arch + ".rope.scaling.factor", static_cast<float>(rs.factor));
    if (rs.type == ops::RopeType::kYarn)
      w.set(arch + ".rope.scaling.original_context_length",
            static_cast<uint32_t>(
                rs.original_max_position_embeddings.value_or(config.max_position_embeddings)));
  } else if (rs.type == ops::RopeType::kDynamic) {
    MOAI_WARN("GGUF export: llama.cpp has no dynamic-NTK RoPE; the file uses plain RoPE");
  }

  w.set("tokenizer.ggml.model", std::string("gpt2"));
  w.set("tokenizer.ggml.pre", tables.pre);
  w.set("tokenizer.ggml.tokens", tables.tokens);
  w.set("tokenizer.ggml.token_type", tables.types);
  w.set("tokenizer.ggml.merges", tables.merges);
  // Special ids: tokenizer_config.json first, then the config, then the usual ChatML names.
  auto id_of = [&](const char* key,
                   std::initializer_list<const char*> fallbacks) -> std::optional<uint32_t> {
    if (auto text = config_token(tok_cfg, key))
      if (auto id = token_id(tok, *text)) return id;
    for (const char* f : fallbacks)
      if (auto id = token_id(tok, f)) return id;
    return std::nullopt;
  };
  std::optional<uint32_t> eos = id_of("eos_token", {"<|im_end|>", "<|endoftext|>", "</s>"});
  if (!eos && config.eos_token_id >= 0) eos = static_cast<uint32_t>(config.eos_token_id);
  const std::optional<uint32_t> pad = id_of("pad_token", {"<|endoftext|>", "<pad>"});
  const std::optional<uint32_t> bos = id_of("bos_token", {"<|endoftext|>", "<s>"});
  if (eos) w.set("tokenizer.ggml.eos_token_id", *eos);
  if (pad) w.set("tokenizer.ggml.padding_token_id", *pad);
  if (bos) w.set("tokenizer.ggml.bos_token_id", *bos);
  if (auto eot = token_id(tok, "<|im_end|>")) w.set("tokenizer.ggml.eot_token_id", *eot);
  w.set("tokenizer.ggml.add_bos_token", tok_cfg.value("add_bos_token", false));
  if (tok_cfg.contains("chat_template") && tok_cfg["chat_template"].is_string())
    w.set("tokenizer.chat_template", tok_cfg["chat_template"].get<std::string>());

  for (const auto& p : layout.params()) {
    const GgmlType type = p.shape.size() >= 2 ? options.type : GgmlType::kF32;
    w.add_tensor(gguf_tensor_name(p), p.shape, type, params.data() + p.offset);
  }
  w.write(out_path);

  GgufExportSummary s;
  s.tensors = w.tensor_count();
  s.vocab = static_cast<size_t>(config.vocab_size);
  s.tokenizer_tokens = tables.defined;
  s.padding_tokens = tables.padding;
  s.pre_tokenizer = tables.pre;
  s.bytes = fs::file_size(out_path);
  return s;
}

}  // namespace moai::infer
