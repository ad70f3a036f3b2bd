#include "moai/model/param_layout.h"

#include "moai/core/error.h"

namespace moai::model {

ParamLayout::ParamLayout(const Qwen3Config& c) : tied_(c.tie_word_embeddings) {
  auto add = [&](std::string name, ParamKind kind, int64_t layer, std::vector<int64_t> shape) {
    ParamInfo info{std::move(name), kind, layer, std::move(shape), 0, 1};
    for (int64_t dim : info.shape) info.numel *= dim;
    info.offset = total_floats_;
    total_floats_ += (info.numel + 15) / 16 * 16;  // 64-byte aligned tensors
    params_.push_back(std::move(info));
  };
  const int64_t C = c.hidden_size, F = c.intermediate_size, D = c.head_dim;
  add("model.embed_tokens.weight", ParamKind::kEmbedding, -1, {c.vocab_size, C});
  for (int64_t layer = 0; layer < c.num_hidden_layers; ++layer) {
    const std::string prefix = "model.layers." + std::to_string(layer) + ".";
    add(prefix + "input_layernorm.weight", ParamKind::kInputNorm, layer, {C});
    add(prefix + "self_attn.q_proj.weight", ParamKind::kQProj, layer, {c.q_dim(), C});
    add(prefix + "self_attn.k_proj.weight", ParamKind::kKProj, layer, {c.kv_dim(), C});
    add(prefix + "self_attn.v_proj.weight", ParamKind::kVProj, layer, {c.kv_dim(), C});
    add(prefix + "self_attn.o_proj.weight", ParamKind::kOProj, layer, {C, c.q_dim()});
    add(prefix + "self_attn.q_norm.weight", ParamKind::kQNorm, layer, {D});
    add(prefix + "self_attn.k_norm.weight", ParamKind::kKNorm, layer, {D});
    add(prefix + "post_attention_layernorm.weight", ParamKind::kPostNorm, layer, {C});
    add(prefix + "mlp.gate_proj.weight", ParamKind::kGateProj, layer, {F, C});
    add(prefix + "mlp.up_proj.weight", ParamKind::kUpProj, layer, {F, C});
    add(prefix + "mlp.down_proj.weight", ParamKind::kDownProj, layer, {C, F});
  }
  add("model.norm.weight", ParamKind::kFinalNorm, -1, {C});
  if (!c.tie_word_embeddings) add("lm_head.weight", ParamKind::kLmHead, -1, {c.vocab_size, C});
}

int64_t ParamLayout::num_parameters() const {
  int64_t total = 0;
  for (const ParamInfo& info : params_) total += info.numel;
  return total;
}

const ParamInfo* ParamLayout::find(const std::string& name) const {
  for (const ParamInfo& info : params_)
    if (info.name == name) return &info;
  return nullptr;
}

int64_t ParamLayout::offset_of(ParamKind kind, int64_t layer) const {
  if (kind == ParamKind::kLmHead && tied_) kind = ParamKind::kEmbedding;
  for (const ParamInfo& info : params_)
    if (info.kind == kind && info.layer == layer) return info.offset;
  return -1;
}

}  // namespace moai::model
