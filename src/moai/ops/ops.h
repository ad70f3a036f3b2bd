#pragma once
// The op interface: everything the model layer computes goes through a Backend. ops/cpu/ implements
// it with OpenMP + BLAS, ops/cuda/ with CUDA; model/ includes only this header (and tensor.h,
// rope.h, loss.h).
//
// Conventions (shape letters used in every comment below):
//   B batch, T sequence length, N = B*T token rows, C hidden size, H query heads, KV key/value
//   heads, D head_dim, F intermediate (ffn) size, V vocabulary size. All tensors are row-major fp32
//   on the backend's device (host memory for CPU, device memory for CUDA); integer tensors (ids,
//   labels, positions, segments) are int32 on the device too. Signatures read: outputs, inputs,
//   sizes, parameters. 64-bit sizes everywhere.
//
// Gradient contract (as llm.c): parameter gradients ACCUMULATE (+=) so micro-batches add up;
// activation gradients OVERWRITE unless the comment says "accumulates" (the residual stream's
// gradient does). Determinism: for a fixed thread count the CPU backend gives bitwise-identical
// results run to run (static row partitions, fixed reduction order).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "moai/ops/loss.h"
#include "moai/ops/tensor.h"

namespace moai::ops {

// Shape of one attention call. Training uses q_len == kv_len. Inference with a KV cache passes the
// cache as k/v (kv_len rows valid, rows kv_batch_stride apart per batch element) and the new
// queries as q: query i sits at absolute position kv_len - q_len + i and sees keys 0..that
// position.
struct AttentionShape {
  int64_t batch = 0;
  int64_t q_len = 0;
  int64_t kv_len = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t kv_batch_stride =
      0;               // elements between batch elements of k/v; 0 = kv_len * kv_heads * head_dim
  float scale = 0.0f;  // applied to q·k (1/sqrt(D) for Qwen3)
};

// One AdamW step (torch.optim.AdamW order: decay, moments, bias-corrected update).
struct AdamWStep {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay =
      0.0f;  // decoupled: p *= 1 - lr * weight_decay (the caller passes 0 for 1-D tensors)
  float grad_scale = 1.0f;  // g is multiplied by this first (global-norm clipping)
  int64_t step = 1;         // 1-based step count for bias correction
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceKind device() const = 0;
  virtual std::string name() const = 0;  // "cpu (openblas, 2 threads)"

  // ---- memory (pointers are device pointers for CUDA)
  // ------------------------------------------------- Returns zero-filled memory aligned to 64
  // bytes; throws on failure.
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr) = 0;
  virtual void copy_to_device(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, size_t bytes) = 0;
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;  // device to device
  virtual void zero(void* dst, size_t bytes) = 0;
  virtual void synchronize() = 0;  // waits for queued work (no-op on CPU)

  // ---- matmul
  // -------------------------------------------------------------------------------------------
  // c[M,Nc] = alpha * op(a) · op(b) + beta * c. op(a) is [M,K]: a is [M,K], or [K,M] when trans_a.
  // op(b) is [K,Nc]: b is [K,Nc], or [Nc,K] when trans_b. beta = 0 ignores c's old contents (may be
  // NaN).
  virtual void matmul(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k,
                      bool trans_a, bool trans_b, float alpha, float beta) = 0;

  // ---- embedding
  // ----------------------------------------------------------------------------------------
  // out[N,C] = table[ids[n], :]. Every id must be in [0, V): the model checks ids on the host
  // first.
  virtual void embedding_forward(float* out, const int32_t* ids, const float* table, int64_t n,
                                 int64_t c) = 0;
  // dtable[ids[n], :] += dout[n, :] (accumulates; rows with the same id add in row order on CPU).
  virtual void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int64_t n,
                                  int64_t c) = 0;

  // ---- RMSNorm (fp32; also QK-norm per head: n = N*H rows of c = D)
  // -------------------------------------- out[n,c] = inp * rstd[n] * weight, rstd[n] =
  // 1/sqrt(mean(inp[n,:]^2) + eps), saved for backward. out may alias inp.
  virtual void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight,
                               int64_t n, int64_t c, float eps) = 0;
  // dinp[n,c] accumulates (+=) when accumulate, else overwrites; dweight[c] accumulates. inp is the
  // forward input (not the output).
  virtual void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                                const float* weight, const float* rstd, int64_t n, int64_t c,
                                bool accumulate) = 0;

  // ---- RoPE, rotate-half (pairs (i, i + D/2)), in place
  // -------------------------------------------------- x[N, heads, D] rotated by
  // angle(position_ids[n], i). cos/sin are [max_pos, D/2] tables from rope.h (attention factor
  // already multiplied in). Every position must be < max_pos (checked by the model).
  virtual void rope_forward(float* x, const int32_t* position_ids, const float* cos,
                            const float* sin, int64_t n, int64_t heads, int64_t head_dim) = 0;
  // dx (in place): the transposed rotation of the gradient.
  virtual void rope_backward(float* dx, const int32_t* position_ids, const float* cos,
                             const float* sin, int64_t n, int64_t heads, int64_t head_dim) = 0;

  // ---- attention: causal, GQA (query head h uses kv head h / (H/KV)), optional per-document masks
  // ------- q[B,q_len,H,D], k/v[B,kv_len,KV,D] -> out[B,q_len,H,D], lse[B,H,q_len] (natural
  // log-sum-exp of the scaled, masked scores; saved for backward; may be null when no backward
  // follows). segment_ids[B,kv_len] (nullable): key s is visible to query t only when segment[s] ==
  // segment[t] (packed documents). Tiled over queries: never materialises T x T scores per head.
  virtual void attention_forward(float* out, float* lse, const float* q, const float* k,
                                 const float* v, const int32_t* segment_ids,
                                 const AttentionShape& shape) = 0;
  // Training shape only (q_len == kv_len, kv_batch_stride 0). dq, dk, dv overwrite.
  virtual void attention_backward(float* dq, float* dk, float* dv, const float* dout,
                                  const float* out, const float* lse, const float* q,
                                  const float* k, const float* v, const int32_t* segment_ids,
                                  const AttentionShape& shape) = 0;

  // ---- SwiGLU: out = silu(gate) * up, elementwise over n values
  // --------------------------------------------
  virtual void swiglu_forward(float* out, const float* gate, const float* up, int64_t n) = 0;
  // dgate, dup overwrite.
  virtual void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                               const float* up, int64_t n) = 0;

  // ---- elementwise
  // ----------------------------------------------------------------------------------------
  virtual void add(float* out, const float* a, const float* b,
                   int64_t n) = 0;                                       // out may alias a or b
  virtual void accumulate(float* dst, const float* src, int64_t n) = 0;  // dst += src
  virtual void scale(float* x, float factor, int64_t n) = 0;             // x *= factor

  // ---- fused classifier + loss (chunks of rows; never the full [N,V] logits)
  // --------------------------------- For each row n of x[N,C] with label labels[n]: logits =
  // x[n]·w^T (w is [V,C]), row loss per `config` (0 for ignored labels) written to losses[N]. When
  // dx is non-null also the gradient of sum_n grad_scale * losses[n]: dx[N,C] overwrites, dw[V,C]
  // accumulates. Labels must be in [0,V) or config.ignore_index (checked by the caller).
  virtual void classifier_loss(float* losses, float* dx, float* dw, const float* x, const float* w,
                               const int32_t* labels, int64_t n, int64_t c, int64_t v,
                               const LossConfig& config, float grad_scale) = 0;

  // ---- optimizer
  // -------------------------------------------------------------------------------------------
  virtual void adamw_update(float* param, float* m, float* v, const float* grad, int64_t n,
                            const AdamWStep& step) = 0;
  // Sum of squares accumulated in double in a fixed order (global-norm clipping).
  virtual double sum_squares(const float* x, int64_t n) = 0;
};

// The CPU backend: OpenMP over `num_threads` (0 = default_thread_count()) and the configured BLAS.
std::unique_ptr<Backend> make_cpu_backend(int num_threads = 0);

// ---- helpers over matmul (y = x · W^T with W stored [out, in] as PyTorch/HF)
// ---------------------------------- out[N,OC] = inp[N,IC] · weight[OC,IC]^T
void linear_forward(Backend& backend, float* out, const float* inp, const float* weight, int64_t n,
                    int64_t in_c, int64_t out_c);
// dinp[N,IC] = dout · weight (accumulates when accumulate_dinp, else overwrites; null skips);
// dweight[OC,IC] += dout^T · inp (always accumulates; null skips).
void linear_backward(Backend& backend, float* dinp, float* dweight, const float* dout,
                     const float* inp, const float* weight, int64_t n, int64_t in_c, int64_t out_c,
                     bool accumulate_dinp);

}  // namespace moai::ops
