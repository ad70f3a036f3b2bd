#include "moai/model/qwen3_config.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/log.h"
#include "moai/model/param_layout.h"

namespace moai::model {
namespace {

using nlohmann::json;

int64_t get_int(const json& object, const char* key, const std::string& where, int64_t fallback,
                bool required) {
  if (!object.contains(key) || object[key].is_null()) {
    if (required) throw_input_error(where, std::string(key) + ": missing, expected an integer");
    return fallback;
  }
  const json& value = object[key];
  if (value.is_number_integer()) return value.get<int64_t>();
  // A whole float inside int64's range (the bound is exact: 2^63); beyond it a cast is undefined.
  if (value.is_number_float() && std::floor(value.get<double>()) == value.get<double>() &&
      std::fabs(value.get<double>()) < 9223372036854775808.0)
    return static_cast<int64_t>(value.get<double>());
  throw_input_error(where, std::string(key) + ": " + value.dump() + ", expected an integer");
}

double get_double(const json& object, const char* key, const std::string& where, double fallback) {
  if (!object.contains(key) || object[key].is_null()) return fallback;
  if (!object[key].is_number())
    throw_input_error(where, std::string(key) + ": " + object[key].dump() + ", expected a number");
  return object[key].get<double>();
}

bool get_bool(const json& object, const char* key, const std::string& where, bool fallback) {
  if (!object.contains(key) || object[key].is_null()) return fallback;
  if (!object[key].is_boolean())
    throw_input_error(where,
                      std::string(key) + ": " + object[key].dump() + ", expected true or false");
  return object[key].get<bool>();
}

ops::RopeScaling parse_rope_scaling(const json& value, const std::string& where) {
  ops::RopeScaling scaling;
  if (value.is_null()) return scaling;
  if (!value.is_object())
    throw_input_error(where, "rope_scaling: " + value.dump() + ", expected an object or null");
  // HF writes "rope_type"; the original project (and older HF configs) wrote "type".
  std::string type;
  for (const char* key : {"rope_type", "type"}) {
    if (value.contains(key) && !value[key].is_null()) {
      if (!value[key].is_string())
        throw_input_error(where, std::string("rope_scaling.") + key + ": expected a string");
      type = value[key].get<std::string>();
      break;
    }
  }
  scaling.type = ops::rope_type_from_string(type, where + ": rope_scaling.rope_type");
  const std::string field = where + ": rope_scaling";
  scaling.factor = get_double(value, "factor", field, 1.0);
  if (scaling.type != ops::RopeType::kDefault) {
    if (!value.contains("factor"))
      throw_input_error(where, "rope_scaling.factor: missing for rope_type " + type);
    if (!(scaling.factor > 0)) throw_input_error(where, "rope_scaling.factor: must be > 0");
  }
  if (value.contains("original_max_position_embeddings") &&
      !value["original_max_position_embeddings"].is_null())
    scaling.original_max_position_embeddings =
        get_int(value, "original_max_position_embeddings", field, 0, true);
  scaling.beta_fast = get_double(value, "beta_fast", field, 32.0);
  scaling.beta_slow = get_double(value, "beta_slow", field, 1.0);
  if (value.contains("attention_factor") && !value["attention_factor"].is_null())
    scaling.attention_factor = get_double(value, "attention_factor", field, 1.0);
  if (value.contains("mscale") && !value["mscale"].is_null())
    scaling.mscale = get_double(value, "mscale", field, 1.0);
  if (value.contains("mscale_all_dim") && !value["mscale_all_dim"].is_null())
    scaling.mscale_all_dim = get_double(value, "mscale_all_dim", field, 1.0);
  scaling.truncate = get_bool(value, "truncate", field, true);
  if (value.contains("alpha") || value.contains("beta")) {
    MOAI_LOG(
        kWarn,
        where << ": rope_scaling alpha/beta are the original project's home-made YaRN knobs; moai "
                 "uses HF YaRN (beta_fast/beta_slow) and ignores them");
  }
  return scaling;
}

}  // namespace

ops::RopeParams Qwen3Config::rope_params() const {
  ops::RopeParams params;
  params.head_dim = head_dim;
  params.theta = rope_theta;
  params.max_position_embeddings = max_position_embeddings;
  params.scaling = rope_scaling;
  return params;
}

Qwen3Config parse_qwen3_config(const std::string& json_text, const std::string& where) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    throw_input_error(where, std::string("not valid JSON: ") + e.what());
  }
  if (!root.is_object()) throw_input_error(where, "expected a JSON object");
  if (root.contains("model_type") && root["model_type"].is_string()) {
    const std::string type = root["model_type"].get<std::string>();
    if (type != "qwen3" && type != "moai")
      throw_input_error(
          where, "model_type: \"" + type + "\", expected \"qwen3\" (or the original's \"moai\")");
  }
  Qwen3Config config;
  config.vocab_size = get_int(root, "vocab_size", where, 0, true);
  config.hidden_size = get_int(root, "hidden_size", where, 0, true);
  config.intermediate_size = get_int(root, "intermediate_size", where, 0, true);
  config.num_hidden_layers = get_int(root, "num_hidden_layers", where, 0, true);
  config.num_attention_heads = get_int(root, "num_attention_heads", where, 0, true);
  config.num_key_value_heads =
      get_int(root, "num_key_value_heads", where, config.num_attention_heads, false);
  // The original project has no head_dim key: it derives hidden / heads.
  const int64_t derived_head_dim =
      config.num_attention_heads > 0 ? config.hidden_size / config.num_attention_heads : 0;
  config.head_dim = get_int(root, "head_dim", where, derived_head_dim, false);
  if (!root.contains("head_dim") && config.num_attention_heads > 0 &&
      config.hidden_size % config.num_attention_heads != 0) {
    throw_input_error(where, "head_dim: missing and hidden_size " +
                                 std::to_string(config.hidden_size) +
                                 " is not divisible by num_attention_heads " +
                                 std::to_string(config.num_attention_heads));
  }
  config.max_position_embeddings = get_int(root, "max_position_embeddings", where, 32768, false);
  config.rms_norm_eps = get_double(root, "rms_norm_eps", where, 1e-6);
  config.rope_theta = get_double(root, "rope_theta", where, 1000000.0);
  config.tie_word_embeddings = get_bool(root, "tie_word_embeddings", where, false);
  config.initializer_range = get_double(root, "initializer_range", where, 0.02);
  config.bos_token_id = get_int(root, "bos_token_id", where, -1, false);
  config.eos_token_id =
      root.contains("eos_token_id") && root["eos_token_id"].is_array()
          ? (root["eos_token_id"].empty() ? -1 : root["eos_token_id"][0].get<int64_t>())
          : get_int(root, "eos_token_id", where, -1, false);
  config.pad_token_id = get_int(root, "pad_token_id", where, -1, false);
  if (root.contains("torch_dtype") && root["torch_dtype"].is_string())
    config.torch_dtype = root["torch_dtype"].get<std::string>();
  if (root.contains("rope_scaling"))
    config.rope_scaling = parse_rope_scaling(root["rope_scaling"], where);
  // transformers >= 5 writes one rope_parameters object holding rope_theta and the scaling keys
  // (rope_type "default" when unscaled) instead of rope_theta + rope_scaling.
  if (root.contains("rope_parameters") && !root["rope_parameters"].is_null()) {
    const json& rope = root["rope_parameters"];
    if (!rope.is_object())
      throw_input_error(where, "rope_parameters: " + rope.dump() + ", expected an object");
    config.rope_theta =
        get_double(rope, "rope_theta", where + ": rope_parameters", config.rope_theta);
    config.rope_scaling = parse_rope_scaling(rope, where);
  }

  // Features of other architectures that this Qwen3 implementation does not have: refuse, do not
  // ignore.
  if (!get_bool(root, "use_qk_norm", where, true))
    throw_input_error(where, "use_qk_norm: false is not supported (Qwen3 always applies QK-norm)");
  if (get_bool(root, "attention_bias", where, false))
    throw_input_error(where,
                      "attention_bias: true is not supported (Qwen3 projections have no bias)");
  if (get_bool(root, "mlp_bias", where, false))
    throw_input_error(where, "mlp_bias: true is not supported");
  if (get_bool(root, "use_sliding_window", where, false))
    throw_input_error(where, "use_sliding_window: true is not supported");
  if (root.contains("hidden_act") && root["hidden_act"].is_string()) {
    const std::string act = root["hidden_act"].get<std::string>();
    if (act != "silu" && act != "swiglu")
      throw_input_error(where, "hidden_act: \"" + act + "\", expected \"silu\" (SwiGLU MLP)");
  }
  validate_qwen3_config(config, where);
  return config;
}

void validate_qwen3_config(const Qwen3Config& c, const std::string& where) {
  auto positive = [&](int64_t value, const char* key) {
    if (value <= 0)
      throw_input_error(where, std::string(key) + ": " + std::to_string(value) + ", expected > 0");
  };
  positive(c.vocab_size, "vocab_size");
  positive(c.hidden_size, "hidden_size");
  positive(c.intermediate_size, "intermediate_size");
  positive(c.num_hidden_layers, "num_hidden_layers");
  positive(c.num_attention_heads, "num_attention_heads");
  positive(c.num_key_value_heads, "num_key_value_heads");
  positive(c.head_dim, "head_dim");
  positive(c.max_position_embeddings, "max_position_embeddings");
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    throw_input_error(where, "num_attention_heads " + std::to_string(c.num_attention_heads) +
                                 " is not divisible by num_key_value_heads " +
                                 std::to_string(c.num_key_value_heads));
  }
  if (c.head_dim % 2 != 0)
    throw_input_error(where, "head_dim: " + std::to_string(c.head_dim) + ", expected even (RoPE)");
  if (c.vocab_size > (int64_t(1) << 31) - 1)
    throw_input_error(where, "vocab_size: too large (ids are int32)");
  if (!(c.rms_norm_eps > 0)) throw_input_error(where, "rms_norm_eps: expected > 0");
  if (!(c.rope_theta > 1)) throw_input_error(where, "rope_theta: expected > 1");
}

Qwen3Config load_qwen3_config(const std::string& path) {
  const std::string file = is_directory(path) ? path + "/config.json" : path;
  return parse_qwen3_config(read_file(file), file);
}

std::string qwen3_config_to_json(const Qwen3Config& c) {
  nlohmann::ordered_json out;
  out["architectures"] = {"Qwen3ForCausalLM"};
  out["model_type"] = "qwen3";
  out["vocab_size"] = c.vocab_size;
  out["hidden_size"] = c.hidden_size;
  out["intermediate_size"] = c.intermediate_size;
  out["num_hidden_layers"] = c.num_hidden_layers;
  out["num_attention_heads"] = c.num_attention_heads;
  out["num_key_value_heads"] = c.num_key_value_heads;
  out["head_dim"] = c.head_dim;
  out["hidden_act"] = "silu";
  out["max_position_embeddings"] = c.max_position_embeddings;
  out["rms_norm_eps"] = c.rms_norm_eps;
  out["rope_theta"] = c.rope_theta;
  if (c.rope_scaling.type == ops::RopeType::kDefault) {
    out["rope_scaling"] = nullptr;
  } else {
    nlohmann::ordered_json scaling;
    scaling["rope_type"] = ops::rope_type_name(c.rope_scaling.type);
    scaling["factor"] = c.rope_scaling.factor;
    if (c.rope_scaling.original_max_position_embeddings)
      scaling["original_max_position_embeddings"] =
          *c.rope_scaling.original_max_position_embeddings;
    if (c.rope_scaling.type == ops::RopeType::kYarn) {
      scaling["beta_fast"] = c.rope_scaling.beta_fast;
      scaling["beta_slow"] = c.rope_scaling.beta_slow;
      if (c.rope_scaling.attention_factor)
        scaling["attention_factor"] = *c.rope_scaling.attention_factor;
      if (c.rope_scaling.mscale) scaling["mscale"] = *c.rope_scaling.mscale;
      if (c.rope_scaling.mscale_all_dim) scaling["mscale_all_dim"] = *c.rope_scaling.mscale_all_dim;
      if (!c.rope_scaling.truncate) scaling["truncate"] = false;
    }
    out["rope_scaling"] = scaling;
  }
  out["tie_word_embeddings"] = c.tie_word_embeddings;
  out["attention_bias"] = false;
  out["attention_dropout"] = 0.0;
  out["use_sliding_window"] = false;
  out["sliding_window"] = nullptr;
  out["max_window_layers"] = c.num_hidden_layers;
  out["initializer_range"] = c.initializer_range;
  if (c.bos_token_id >= 0) out["bos_token_id"] = c.bos_token_id;
  if (c.eos_token_id >= 0) out["eos_token_id"] = c.eos_token_id;
  if (c.pad_token_id >= 0) out["pad_token_id"] = c.pad_token_id;
  out["use_cache"] = true;
  out["torch_dtype"] = c.torch_dtype;
  return out.dump(2) + "\n";
}

ModelStats model_stats(const Qwen3Config& c, int64_t seq) {
  ModelStats stats;
  const ParamLayout layout(c);
  stats.parameters = layout.num_parameters();
  stats.embedding_parameters = c.vocab_size * c.hidden_size * (c.tie_word_embeddings ? 1 : 2);
  // Matmul weights: every projection plus the output classifier (tied or not), not the embedding
  // gather.
  const int64_t per_layer = c.hidden_size * (c.q_dim() + 2 * c.kv_dim()) +
                            c.q_dim() * c.hidden_size + 3 * c.hidden_size * c.intermediate_size;
  const double matmul = double(per_layer) * double(c.num_hidden_layers) +
                        double(c.vocab_size) * double(c.hidden_size);
  const double attention = 12.0 * double(c.num_hidden_layers) * double(c.q_dim()) *
                           double(seq);  // PaLM, no causal halving
  stats.flops_per_token = 6.0 * matmul + attention;
  stats.forward_flops_per_token = 2.0 * matmul + attention / 3.0;
  return stats;
}

}  // namespace moai::model
