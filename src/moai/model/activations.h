#pragma once
// The activation arena of Qwen3Model: one device allocation carved into named views at
// construction, sized for (max_batch, max_seq). Per-layer views point into per-layer slots when
// backward needs every layer's activations, or all into one shared slot (gradient checkpointing,
// inference): then backward recomputes a layer's forward from its saved residual input before
// differentiating it.
#include <cstdint>
#include <vector>

#include "moai/model/qwen3_config.h"
#include "moai/model/qwen3_model.h"
#include "moai/ops/ops.h"

namespace moai::model {

struct LayerActivations {
  ops::Buffer ln1;      // [N, C] input RMSNorm output
  ops::Buffer rstd1;    // [N]
  ops::Buffer q_raw;    // [N, H*D] q projection (QK-norm input)
  ops::Buffer q_rstd;   // [N*H]
  ops::Buffer q;        // [N, H*D] after QK-norm and RoPE
  ops::Buffer k_raw;    // [N, KV*D]
  ops::Buffer k_rstd;   // [N*KV]
  ops::Buffer k;        // [N, KV*D]
  ops::Buffer v;        // [N, KV*D]
  ops::Buffer att;      // [N, H*D] attention output (before o_proj)
  ops::Buffer lse;      // [B*H*T]
  ops::Buffer res_mid;  // [N, C] residual after attention
  // bf16 training: the layer's input and res_mid rounded to bf16 for the RMSNorm backward (null
  // otherwise; docs/model.md).
  ops::Buffer in_saved;   // [N, C]
  ops::Buffer mid_saved;  // [N, C]
  ops::Buffer ln2;        // [N, C]
  ops::Buffer rstd2;      // [N]
  ops::Buffer gate;       // [N, F]
  ops::Buffer up;         // [N, F]
  ops::Buffer act;        // [N, F] silu(gate) * up
};

struct BackwardScratch {
  ops::Buffer dres;     // [N, C] gradient of the residual stream
  ops::Buffer dln;      // [N, C]
  ops::Buffer datt;     // [N, H*D] (reused as d q_raw after attention backward)
  ops::Buffer dq;       // [N, H*D]
  ops::Buffer dk;       // [N, KV*D]
  ops::Buffer dk_raw;   // [N, KV*D]
  ops::Buffer dv;       // [N, KV*D]
  ops::Buffer dgate;    // [N, F]
  ops::Buffer dup;      // [N, F]
  ops::Buffer dact;     // [N, F]
  ops::Buffer dres_lp;  // [N, C] dres in the compute dtype, as matmul input (bf16 only)
};

struct Qwen3Model::Arena {
  ops::Backend* backend;  // null: a dry run that only computes `bytes` (moai model info)
  void* memory = nullptr;
  void* logits_memory = nullptr;  // the lazily allocated logits slot of a training arena
  size_t bytes = 0;
  int64_t max_tokens = 0;
  // L+1 views [N, C]: residual[l] is layer l's input, residual[L] the last output. Each has its
  // own memory when backward reads it in fp32 (fp32 training, gradient checkpointing); otherwise
  // they alternate between two slots (a layer reads one and writes the other).
  std::vector<ops::Buffer> residual;
  std::vector<LayerActivations> layers;
  BackwardScratch grad{};
  ops::Buffer final_norm;  // [N, C]
  ops::Buffer final_rstd;  // [N]
  ops::Buffer dfinal;      // [N, C] gradient of the final norm output (from the classifier)
  ops::Buffer losses;      // [N]
  // [logit_rows, V] fp32 for forward_logits; a training arena allocates it on first use
  // (logits_slot()), outside `bytes`: no training step needs it.
  ops::Buffer logits;
  ops::Buffer gathered;  // [logit_rows, C]
  int64_t logit_rows = 0;
  ops::Buffer ids;        // [N]
  ops::Buffer labels;     // [N]
  ops::Buffer positions;  // [N]
  ops::Buffer segments;   // [N]
  ops::Buffer rope_cos;   // [rope_positions, D/2]
  ops::Buffer rope_sin;
  int64_t rope_positions = 0;
  int64_t rope_table_seq = 0;  // dynamic RoPE: the length the current tables were built for
  std::vector<float> host_losses;
  std::vector<int32_t> host_positions;

  // Activations that feed matmuls and attention are stored in `compute` (F32 or BF16); the
  // residual stream, statistics and gradients of the residual stream stay F32 (docs/model.md).
  Arena(ops::Backend* b, const Qwen3Config& config, int64_t max_batch, int64_t max_seq,
        bool training, bool checkpointing, ops::DType compute, int64_t max_positions);
  ~Arena();
  // The logits slot, allocated here on the first call when the arena left it out.
  const ops::Buffer& logits_slot(int64_t vocab_size);
};

}  // namespace moai::model
