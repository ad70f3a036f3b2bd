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

void Qwen3Model::layer_forward(int64_t layer, int64_t batch, int64_t seq,
                               std::span<const CachedSegment> cached) {
  Arena& arena = *arena_;
  LayerActivations& a = arena.layers[size_t(layer)];
  const Qwen3Config& c = config_;
  const int64_t N = batch * seq, C = c.hidden_size, F = c.intermediate_size, D = c.head_dim;
  const int64_t H = c.num_attention_heads, KV = c.num_key_value_heads, QD = c.q_dim(),
                KD = c.kv_dim();
  const float eps = float(c.rms_norm_eps);
  const LayerWeights w = layer_offsets(layout_, layer);
  const ops::TensorView x = arena.residual[size_t(layer)].view({N, C});
  const ops::TensorView out = arena.residual[size_t(layer + 1)].view({N, C});
  const ops::TensorView ln1 = a.ln1.view({N, C}), ln2 = a.ln2.view({N, C});
  const ops::TensorView q = a.q.view({N, H, D}), k = a.k.view({N, KV, D});
  const ops::TensorView positions = arena.positions.view({N});
  const int64_t half = D / 2, rope_rows = arena.rope_positions;
  const ops::TensorView cos = arena.rope_cos.view({rope_rows, half});
  const ops::TensorView sin = arena.rope_sin.view({rope_rows, half});
  const ops::TensorView segments =
      has_segments_ ? arena.segments.view({N}) : ops::absent<int32_t>();

  if (save_residuals_ && a.in_saved.data) backend_.convert(a.in_saved.view({N, C}), x);
  backend_.rmsnorm_forward(ln1, a.rstd1.view({N}), x, master(w.in_norm, {C}), eps);
  ops::linear_forward(backend_, a.q_raw.view({N, QD}), ln1, weight(w.q, {QD, C}));
  ops::linear_forward(backend_, a.k_raw.view({N, KD}), ln1, weight(w.k, {KD, C}));
  ops::linear_forward(backend_, a.v.view({N, KD}), ln1, weight(w.v, {KD, C}));
  backend_.rmsnorm_forward(q, a.q_rstd.view({N * H}), a.q_raw.view({N * H, D}),
                           master(w.q_norm, {D}), eps);
  backend_.rmsnorm_forward(k, a.k_rstd.view({N * KV}), a.k_raw.view({N * KV, D}),
                           master(w.k_norm, {D}), eps);
  backend_.rope_forward(q, positions, cos, sin);
  backend_.rope_forward(k, positions, cos, sin);
  if (cached.empty()) {
    ops::AttentionShape shape{batch, seq, seq, H, KV, D, 0, float(1.0 / std::sqrt(double(D)))};
    backend_.attention_forward(a.att.view({N, QD}), a.lse.view({batch * H * seq}), q,
                               a.k.view({N, KD}), a.v.view({N, KD}), segments, shape);
  } else {
    attend_cached(layer, cached);
  }
  // mid = x + att Wo^T: copy the residual, then a matmul with beta = 1 adds onto it (in fp32).
  const ops::TensorView mid = a.res_mid.view({N, C});
  backend_.copy(mid, x);
  ops::linear_forward(backend_, mid, a.att.view({N, QD}), weight(w.o, {C, QD}), 1.0f);
  if (save_residuals_ && a.mid_saved.data) backend_.convert(a.mid_saved.view({N, C}), mid);
  backend_.rmsnorm_forward(ln2, a.rstd2.view({N}), mid, master(w.post_norm, {C}), eps);
  ops::linear_forward(backend_, a.gate.view({N, F}), ln2, weight(w.gate, {F, C}));
  ops::linear_forward(backend_, a.up.view({N, F}), ln2, weight(w.up, {F, C}));
  backend_.swiglu_forward(a.act.view({N, F}), a.gate.view({N, F}), a.up.view({N, F}));
  backend_.copy(out, mid);
  ops::linear_forward(backend_, out, a.act.view({N, F}), weight(w.down, {C, F}), 1.0f);
}

// Generation: each segment's new keys/values (rows of a.k, a.v) join its cache, and its queries
// attend to that cache alone (query i at position length + i sees keys 0..length + i).
void Qwen3Model::attend_cached(int64_t layer, std::span<const CachedSegment> cached) {
  LayerActivations& a = arena_->layers[size_t(layer)];
  const Qwen3Config& c = config_;
  const int64_t H = c.num_attention_heads, KV = c.num_key_value_heads, D = c.head_dim;
  const int64_t QD = c.q_dim(), KD = c.kv_dim();
  int64_t first = 0;
  for (const CachedSegment& s : cached) {
    const int64_t start = s.cache->length(), kv_rows = start + s.rows;
    backend_.copy(s.cache->keys(layer, start, s.rows), a.k.offset(first * KD).view({s.rows, KD}));
    backend_.copy(s.cache->values(layer, start, s.rows), a.v.offset(first * KD).view({s.rows, KD}));
    const ops::AttentionShape shape{1,  s.rows, kv_rows, H,
                                    KV, D,      0,       float(1.0 / std::sqrt(double(D)))};
    backend_.attention_forward(a.att.offset(first * QD).view({s.rows, QD}), ops::absent<float>(),
                               a.q.offset(first * QD).view({s.rows, QD}),
                               s.cache->keys(layer, 0, kv_rows), s.cache->values(layer, 0, kv_rows),
                               ops::absent<int32_t>(), shape);
    first += s.rows;
  }
}

// On entry grad.dres holds d loss / d out (this layer's output); on exit d loss / d x (its input).
// Parameter gradients accumulate. In bf16 the residual gradient dres stays fp32 and is rounded to
// bf16 (dres_lp) where it feeds a matmul, as autocast does.
void Qwen3Model::layer_backward(int64_t layer, int64_t batch, int64_t seq) {
  Arena& arena = *arena_;
  LayerActivations& a = arena.layers[size_t(layer)];
  BackwardScratch& g = arena.grad;
  const Qwen3Config& c = config_;
  const int64_t N = batch * seq, C = c.hidden_size, F = c.intermediate_size, D = c.head_dim;
  const int64_t H = c.num_attention_heads, KV = c.num_key_value_heads, QD = c.q_dim(),
                KD = c.kv_dim();
  const LayerWeights w = layer_offsets(layout_, layer);
  // The RMSNorm inputs: the fp32 residuals, or their bf16 copies (bf16 training).
  const ops::TensorView x =
      (a.in_saved.data ? a.in_saved : arena.residual[size_t(layer)]).view({N, C});
  const ops::TensorView mid = (a.mid_saved.data ? a.mid_saved : a.res_mid).view({N, C});
  const ops::TensorView dres = g.dres.view({N, C}), dln = g.dln.view({N, C});
  const ops::TensorView dres_mm = g.dres_lp.data ? g.dres_lp.view({N, C}) : dres;
  const ops::TensorView positions = arena.positions.view({N});
  const int64_t half = D / 2, rope_rows = arena.rope_positions;
  const ops::TensorView cos = arena.rope_cos.view({rope_rows, half});
  const ops::TensorView sin = arena.rope_sin.view({rope_rows, half});
  const ops::TensorView segments =
      has_segments_ ? arena.segments.view({N}) : ops::absent<int32_t>();

  // MLP: out = mid + act Wd^T; the residual passes dres through unchanged.
  if (g.dres_lp.data) backend_.convert(dres_mm, dres);
  ops::linear_backward(backend_, g.dact.view({N, F}), grad(w.down, {C, F}), dres_mm,
                       a.act.view({N, F}), weight(w.down, {C, F}), false);
  backend_.swiglu_backward(g.dgate.view({N, F}), g.dup.view({N, F}), g.dact.view({N, F}),
                           a.gate.view({N, F}), a.up.view({N, F}));
  ops::linear_backward(backend_, dln, grad(w.gate, {F, C}), g.dgate.view({N, F}),
                       a.ln2.view({N, C}), weight(w.gate, {F, C}), false);
  ops::linear_backward(backend_, dln, grad(w.up, {F, C}), g.dup.view({N, F}), a.ln2.view({N, C}),
                       weight(w.up, {F, C}), true);
  backend_.rmsnorm_backward(dres, grad(w.post_norm, {C}), dln, mid, master(w.post_norm, {C}),
                            a.rstd2.view({N}), true);

  // Attention: mid = x + att Wo^T.
  if (g.dres_lp.data) backend_.convert(dres_mm, dres);
  const ops::TensorView datt = g.datt.view({N, QD});
  ops::linear_backward(backend_, datt, grad(w.o, {C, QD}), dres_mm, a.att.view({N, QD}),
                       weight(w.o, {C, QD}), false);
  ops::AttentionShape shape{batch, seq, seq, H, KV, D, 0, float(1.0 / std::sqrt(double(D)))};
  backend_.attention_backward(g.dq.view({N, QD}), g.dk.view({N, KD}), g.dv.view({N, KD}), datt,
                              a.att.view({N, QD}), a.lse.view({batch * H * seq}), a.q.view({N, QD}),
                              a.k.view({N, KD}), a.v.view({N, KD}), segments, shape);
  backend_.rope_backward(g.dq.view({N, H, D}), positions, cos, sin);
  backend_.rope_backward(g.dk.view({N, KV, D}), positions, cos, sin);
  // datt is consumed: reuse it for the QK-norm input gradient.
  const ops::TensorView dq_raw = g.datt.view({N * H, D});
  backend_.rmsnorm_backward(dq_raw, grad(w.q_norm, {D}), g.dq.view({N * H, D}),
                            a.q_raw.view({N * H, D}), master(w.q_norm, {D}), a.q_rstd.view({N * H}),
                            false);
  backend_.rmsnorm_backward(g.dk_raw.view({N * KV, D}), grad(w.k_norm, {D}), g.dk.view({N * KV, D}),
                            a.k_raw.view({N * KV, D}), master(w.k_norm, {D}),
                            a.k_rstd.view({N * KV}), false);
  const ops::TensorView ln1 = a.ln1.view({N, C});
  ops::linear_backward(backend_, dln, grad(w.q, {QD, C}), datt, ln1, weight(w.q, {QD, C}), false);
  ops::linear_backward(backend_, dln, grad(w.k, {KD, C}), g.dk_raw.view({N, KD}), ln1,
                       weight(w.k, {KD, C}), true);
  ops::linear_backward(backend_, dln, grad(w.v, {KD, C}), g.dv.view({N, KD}), ln1,
                       weight(w.v, {KD, C}), true);
  backend_.rmsnorm_backward(dres, grad(w.in_norm, {C}), dln, x, master(w.in_norm, {C}),
                            a.rstd1.view({N}), true);
}

}  // namespace moai::model
