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
  float* ln1;      // [N, C] input RMSNorm output
  float* rstd1;    // [N]
  float* q_raw;    // [N, H*D] q projection (QK-norm input)
  float* q_rstd;   // [N*H]
  float* q;        // [N, H*D] after QK-norm and RoPE
  float* k_raw;    // [N, KV*D]
  float* k_rstd;   // [N*KV]
  float* k;        // [N, KV*D]
  float* v;        // [N, KV*D]
  float* att;      // [N, H*D] attention output (before o_proj)
  float* lse;      // [B*H*T]
  float* res_mid;  // [N, C] residual after attention
  float* ln2;      // [N, C]
  float* rstd2;    // [N]
  float* gate;     // [N, F]
  float* up;       // [N, F]
  float* act;      // [N, F] silu(gate) * up
};

struct BackwardScratch {
  float* dres;    // [N, C] gradient of the residual stream
  float* dln;     // [N, C]
  float* datt;    // [N, H*D] (reused as d q_raw after attention backward)
  float* dq;      // [N, H*D]
  float* dk;      // [N, KV*D]
  float* dk_raw;  // [N, KV*D]
  float* dv;      // [N, KV*D]
  float* dgate;   // [N, F]
  float* dup;     // [N, F]
  float* dact;    // [N, F]
};

struct Qwen3Model::Arena {
  ops::Backend* backend;  // null: a dry run that only computes `bytes` (moai model info)
  void* memory = nullptr;
  size_t bytes = 0;
  int64_t max_tokens = 0;
  std::vector<float*>
      residual;  // L+1 views [N, C]: residual[l] is layer l's input, residual[L] the last output
  std::vector<LayerActivations> layers;
  BackwardScratch grad{};
  float* final_norm = nullptr;  // [N, C]
  float* final_rstd = nullptr;  // [N]
  float* dfinal = nullptr;      // [N, C] gradient of the final norm output (from the classifier)
  float* losses = nullptr;      // [N]
  float* logits = nullptr;      // [logit_rows, V] for forward_logits
  float* gathered = nullptr;    // [logit_rows, C]
  int64_t logit_rows = 0;
  int32_t* ids = nullptr;        // [N]
  int32_t* labels = nullptr;     // [N]
  int32_t* positions = nullptr;  // [N]
  int32_t* segments = nullptr;   // [N]
  float* rope_cos = nullptr;     // [rope_positions, D/2]
  float* rope_sin = nullptr;
  int64_t rope_positions = 0;
  int64_t rope_table_seq = 0;  // dynamic RoPE: the length the current tables were built for
  std::vector<float> host_losses;
  std::vector<int32_t> host_positions;

  Arena(ops::Backend* b, const Qwen3Config& config, int64_t max_batch, int64_t max_seq,
        bool training, bool checkpointing);
  ~Arena();
};

}  // namespace moai::model
