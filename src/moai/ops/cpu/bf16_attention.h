#pragma once
// Causal GQA attention with bf16 tensors (Backend::attention_forward/backward semantics and the
// same AttentionShape): q[B,q_len,H,D], k/v[B,kv_len,KV,D] (rows kv_batch_stride apart per batch
// element when set), out[B,q_len,H,D] in bf16; lse[B,H,q_len] fp32 (nullable in the forward).
// Scores, softmax, log-sum-exp and every accumulation are fp32; outputs are rounded to bf16 once.
// Backward: training shape only (q_len == kv_len, kv_batch_stride 0); dq, dk, dv (bf16) overwrite.
//
// Implementation: the bf16 inputs are widened to fp32 (vectorised, parallel) and the fp32 CPU
// kernels of attention.h run on them; results are rounded to bf16. The attention maths is thereby
// exactly the fp32 kernel's (tiled over queries, never T x T), at the cost of fp32 copies of one
// batch element's tensors at a time. Decode steps (at most 16 new queries, no document masks) take
// their own kernel instead: it reads the bf16 cache directly (no fp32 copy of K and V per step),
// per query fp32 scores, softmax and value sums, one task per (batch element, head).
#include <cstdint>

#include "moai/ops/cpu/bf16.h"
#include "moai/ops/ops.h"

namespace moai::ops::cpu {

void bf16_attention_forward(bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                            const int32_t* segment_ids, const AttentionShape& shape);

void bf16_attention_backward(bf16* dq, bf16* dk, bf16* dv, const bf16* dout, const bf16* out,
                             const float* lse, const bf16* q, const bf16* k, const bf16* v,
                             const int32_t* segment_ids, const AttentionShape& shape);

}  // namespace moai::ops::cpu
