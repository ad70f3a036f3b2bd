#pragma once
// Qwen3 model configuration: HF config.json (model_type "qwen3", explicit head_dim) plus the
// original project's keys as aliases (use_qk_norm, rope_scaling.type, model_type "moai", head_dim
// derived from hidden/heads when absent). Validation errors name the file and the field.
#include <cstdint>
#include <string>

#include "moai/ops/rope.h"

namespace moai::model {

struct Qwen3Config {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 1000000.0;
  ops::RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  double initializer_range = 0.02;
  int64_t bos_token_id = -1;  // -1 = absent
  int64_t eos_token_id = -1;
  int64_t pad_token_id = -1;
  std::string torch_dtype = "float32";  // informational; moai computes in fp32 on CPU

  int64_t q_dim() const { return num_attention_heads * head_dim; }
  int64_t kv_dim() const { return num_key_value_heads * head_dim; }
  ops::RopeParams rope_params() const;
};

// Parses config.json text. `where` names the file for messages. Throws InputError on bad values.
Qwen3Config parse_qwen3_config(const std::string& json_text, const std::string& where);
// Reads a config file, or DIR/config.json when given a directory.
Qwen3Config load_qwen3_config(const std::string& path);
// HF Qwen3 config.json text (architectures, model_type qwen3, explicit head_dim, rope_scaling as
// rope_type).
std::string qwen3_config_to_json(const Qwen3Config& config);
// Throws InputError naming `where` for shapes that cannot work (heads % kv_heads, zero sizes, ...).
void validate_qwen3_config(const Qwen3Config& config, const std::string& where);

// Parameter count, FLOPs and memory estimates (moai model info).
struct ModelStats {
  int64_t parameters = 0;
  int64_t embedding_parameters = 0;  // embed_tokens (+ lm_head when untied)
  double flops_per_token =
      0;  // training (fwd+bwd) = 6 * non-embedding-matmul params + attention, PaLM
  double forward_flops_per_token = 0;
};
// seq is used for the attention term (causal: 6 * L * T * H * D per token for fwd+bwd, PaLM
// convention).
ModelStats model_stats(const Qwen3Config& config, int64_t seq);

}  // namespace moai::model
