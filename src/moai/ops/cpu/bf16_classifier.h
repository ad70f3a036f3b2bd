#pragma once
// Fused classifier + loss with bf16 x and w (Backend::classifier_loss semantics, ops/loss.h for
// every LossConfig): for each row n of x[N,C] with label labels[n], logits = x[n]·w^T (w is [V,C])
// in fp32, the row loss (fp32 log-sum-exp, 0 for ignored labels) written to losses[N]. When dx is
// non-null also the gradient of sum_n grad_scale * losses[n]: dx[N,C] overwrites (bf16 or fp32),
// dw[V,C] (fp32) accumulates. Rows run in chunks (never the full [N,V] logits); the logits'
// gradient is rounded to bf16 once, as the input of the two backward bf16 matmuls (what autocast
// does). Labels must be in [0,V) or config.ignore_index (checked by the caller).
#include <cstdint>

#include "moai/ops/cpu/bf16.h"
#include "moai/ops/cpu/bf16_matmul.h"
#include "moai/ops/loss.h"

namespace moai::ops::cpu {

// Dx: bf16 or float. W: bf16, or float (the master weights of bf16 training: rounded to bf16 by
// to_bf16 as they are read, the same bits as passing its to_bf16 copy). Instantiated for the four
// combinations.
template <typename Dx, typename W>
void bf16_classifier_loss(float* losses, Dx* dx, float* dw, const bf16* x, const W* w,
                          const int32_t* labels, int64_t n, int64_t c, int64_t v,
                          const LossConfig& config, float grad_scale,
                          Bf16GemmEngine engine = Bf16GemmEngine::kAuto, int64_t chunk_rows = 0);

// chunk_rows: rows per chunk, 0 = bf16_classifier_chunk_rows(v) (tests pass small values).
// Rows per chunk for vocabulary v: about 6M logits (24 MB of fp32 scores, their bf16 gradient
// written over them in place), 16..1024 rows. The bf16 matmuls re-read w once per chunk and pass,
// so more rows are faster (196 rather than 131 at a 32K vocabulary: -10% classifier time); the
// in-place gradient keeps the buffer at the size the separate 8 MB gradient had with 131 rows.
int64_t bf16_classifier_chunk_rows(int64_t v);

}  // namespace moai::ops::cpu
