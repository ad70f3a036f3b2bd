// One Qwen3 decoder layer, forward then backward (HF Qwen3DecoderLayer):
//   ln1 = rms(x) w_in; q,k,v = ln1 Wq^T, ln1 Wk^T, ln1 Wv^T; q,k = rope(rms_head(q) w_qn),
//   rope(rms_head(k) w_kn) att = softmax(q k^T * scale + causal/document mask) v; mid = x + att
//   Wo^T ln2 = rms(mid) w_post; act = silu(ln2 Wg^T) * (ln2 Wu^T); out = mid + act Wd^T
#include <cmath>

#include "moai/model/activations.h"
#include "moai/model/qwen3_model.h"

namespace moai::model {
namespace {

struct LayerWeights {
  int64_t in_norm, q, k, v, o, q_norm, k_norm, post_norm, gate, up, down;
};

LayerWeights layer_offsets(const ParamLayout& layout, int64_t layer) {
  return {
      layout.offset_of(ParamKind::kInputNorm, layer), layout.offset_of(ParamKind::kQProj, layer),
      layout.offset_of(ParamKind::kKProj, layer),     layout.offset_of(ParamKind::kVProj, layer),
      layout.offset_of(ParamKind::kOProj, layer),     layout.offset_of(ParamKind::kQNorm, layer),
      layout.offset_of(ParamKind::kKNorm, layer),     layout.offset_of(ParamKind::kPostNorm, layer),
      layout.offset_of(ParamKind::kGateProj, layer),  layout.offset_of(ParamKind::kUpProj, layer),
      layout.offset_of(ParamKind::kDownProj, layer)};
}

}  // namespace

void Qwen3Model::layer_forward(int64_t layer, int64_t batch, int64_t seq) {
  Arena& arena = *arena_;
  LayerActivations& a = arena.layers[size_t(layer)];
  const Qwen3Config& c = config_;
  const int64_t N = batch * seq, C = c.hidden_size, F = c.intermediate_size, D = c.head_dim;
  const int64_t H = c.num_attention_heads, KV = c.num_key_value_heads, QD = c.q_dim(),
                KD = c.kv_dim();
  const float eps = float(c.rms_norm_eps);
  const LayerWeights w = layer_offsets(layout_, layer);
  const float* p = params_;
  const float* x = arena.residual[size_t(layer)];
  float* out = arena.residual[size_t(layer + 1)];

  backend_.rmsnorm_forward(a.ln1, a.rstd1, x, p + w.in_norm, N, C, eps);
  ops::linear_forward(backend_, a.q_raw, a.ln1, p + w.q, N, C, QD);
  ops::linear_forward(backend_, a.k_raw, a.ln1, p + w.k, N, C, KD);
  ops::linear_forward(backend_, a.v, a.ln1, p + w.v, N, C, KD);
  backend_.rmsnorm_forward(a.q, a.q_rstd, a.q_raw, p + w.q_norm, N * H, D, eps);
  backend_.rmsnorm_forward(a.k, a.k_rstd, a.k_raw, p + w.k_norm, N * KV, D, eps);
  backend_.rope_forward(a.q, arena.positions, arena.rope_cos, arena.rope_sin, N, H, D);
  backend_.rope_forward(a.k, arena.positions, arena.rope_cos, arena.rope_sin, N, KV, D);
  ops::AttentionShape shape{batch, seq, seq, H, KV, D, 0, float(1.0 / std::sqrt(double(D)))};
  backend_.attention_forward(a.att, a.lse, a.q, a.k, a.v, has_segments_ ? arena.segments : nullptr,
                             shape);
  // mid = x + att Wo^T: copy the residual, then a matmul with beta = 1 adds onto it.
  backend_.copy(a.res_mid, x, size_t(N * C) * sizeof(float));
  backend_.matmul(a.res_mid, a.att, p + w.o, N, C, QD, false, true, 1.0f, 1.0f);
  backend_.rmsnorm_forward(a.ln2, a.rstd2, a.res_mid, p + w.post_norm, N, C, eps);
  ops::linear_forward(backend_, a.gate, a.ln2, p + w.gate, N, C, F);
  ops::linear_forward(backend_, a.up, a.ln2, p + w.up, N, C, F);
  backend_.swiglu_forward(a.act, a.gate, a.up, N * F);
  backend_.copy(out, a.res_mid, size_t(N * C) * sizeof(float));
  backend_.matmul(out, a.act, p + w.down, N, C, F, false, true, 1.0f, 1.0f);
}

// On entry grad.dres holds d loss / d out (this layer's output); on exit d loss / d x (its input).
// Parameter gradients accumulate.
void Qwen3Model::layer_backward(int64_t layer, int64_t batch, int64_t seq) {
  Arena& arena = *arena_;
  LayerActivations& a = arena.layers[size_t(layer)];
  BackwardScratch& g = arena.grad;
  const Qwen3Config& c = config_;
  const int64_t N = batch * seq, C = c.hidden_size, F = c.intermediate_size, D = c.head_dim;
  const int64_t H = c.num_attention_heads, KV = c.num_key_value_heads, QD = c.q_dim(),
                KD = c.kv_dim();
  const LayerWeights w = layer_offsets(layout_, layer);
  const float* p = params_;
  float* dp = grads_;
  const float* x = arena.residual[size_t(layer)];

  // MLP: out = mid + act Wd^T; the residual passes dres through unchanged.
  ops::linear_backward(backend_, g.dact, dp + w.down, g.dres, a.act, p + w.down, N, F, C, false);
  backend_.swiglu_backward(g.dgate, g.dup, g.dact, a.gate, a.up, N * F);
  ops::linear_backward(backend_, g.dln, dp + w.gate, g.dgate, a.ln2, p + w.gate, N, C, F, false);
  ops::linear_backward(backend_, g.dln, dp + w.up, g.dup, a.ln2, p + w.up, N, C, F, true);
  backend_.rmsnorm_backward(g.dres, dp + w.post_norm, g.dln, a.res_mid, p + w.post_norm, a.rstd2, N,
                            C, true);

  // Attention: mid = x + att Wo^T.
  ops::linear_backward(backend_, g.datt, dp + w.o, g.dres, a.att, p + w.o, N, QD, C, false);
  ops::AttentionShape shape{batch, seq, seq, H, KV, D, 0, float(1.0 / std::sqrt(double(D)))};
  backend_.attention_backward(g.dq, g.dk, g.dv, g.datt, a.att, a.lse, a.q, a.k, a.v,
                              has_segments_ ? arena.segments : nullptr, shape);
  backend_.rope_backward(g.dq, arena.positions, arena.rope_cos, arena.rope_sin, N, H, D);
  backend_.rope_backward(g.dk, arena.positions, arena.rope_cos, arena.rope_sin, N, KV, D);
  float* dq_raw = g.datt;  // datt is consumed: reuse it for the QK-norm input gradient
  backend_.rmsnorm_backward(dq_raw, dp + w.q_norm, g.dq, a.q_raw, p + w.q_norm, a.q_rstd, N * H, D,
                            false);
  backend_.rmsnorm_backward(g.dk_raw, dp + w.k_norm, g.dk, a.k_raw, p + w.k_norm, a.k_rstd, N * KV,
                            D, false);
  ops::linear_backward(backend_, g.dln, dp + w.q, dq_raw, a.ln1, p + w.q, N, C, QD, false);
  ops::linear_backward(backend_, g.dln, dp + w.k, g.dk_raw, a.ln1, p + w.k, N, C, KD, true);
  ops::linear_backward(backend_, g.dln, dp + w.v, g.dv, a.ln1, p + w.v, N, C, KD, true);
  backend_.rmsnorm_backward(g.dres, dp + w.in_norm, g.dln, x, p + w.in_norm, a.rstd1, N, C, true);
}

}  // namespace moai::model
