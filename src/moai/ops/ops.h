#pragma once
// The op interface: everything the model layer computes goes through a Backend. ops/cpu/ implements
// it with OpenMP + BLAS, ops/cuda/ with CUDA; model/ includes only this header (and tensor.h,
// rope.h, loss.h).
//
// Conventions (shape letters used in every comment below):
//   B batch, T sequence length, N = B*T token rows, C hidden size, H query heads, KV key/value
//   heads, D head_dim, F intermediate (ffn) size, V vocabulary size. All tensors are row-major
//   TensorViews on the backend's device (host memory for CPU, device memory for CUDA) carrying
//   their dtype and shape; integer tensors (ids, labels, positions, segments) are I32 on the device
//   too. Signatures read: outputs, inputs, parameters. 64-bit sizes everywhere.
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

// The working precision of a model: fp32 everywhere, or bf16 mixed precision (fp32 master weights,
// bf16 matmul/attention inputs, fp32 statistics and residual stream; docs/model.md).
enum class Precision { kFp32, kBf16 };
const char* precision_name(Precision precision);  // "fp32", "bf16"
// "fp32"/"float32" or "bf16"/"bfloat16" (InputError naming `where` otherwise; "fp16" says it is not
// supported yet).
Precision parse_precision(const std::string& text, const std::string& where);
// The dtype of activations that feed matmuls in this precision.
inline DType compute_dtype(Precision precision) {
  return precision == Precision::kBf16 ? DType::kBF16 : DType::kF32;
}

// The ops of the interface; a backend supports a set of (Op, DType) pairs.
enum class Op {
  kMatmul,
  kEmbeddingForward,
  kEmbeddingBackward,
  kRmsNormForward,
  kRmsNormBackward,
  kRopeForward,
  kRopeBackward,
  kAttentionForward,
  kAttentionBackward,
  kSwigluForward,
  kSwigluBackward,
  kAdd,
  kAccumulate,
  kScale,
  kClassifierLoss,
  kAdamW,
  kSumSquares,
  kConvert,
};
const char* op_name(Op op);  // "matmul", "attention_forward", ...

// Every op takes TensorViews that carry dtype and shape; the public methods check shapes and the
// (op, dtype) pair (InputError naming both when the backend lacks it), then call the backend's
// run_* implementation. An op's dtype is the dtype of its activation inputs, written per op below;
// integer tensors are I32, statistics (rstd, lse, losses) and norm weights F32. A view with null
// data is an absent optional argument.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceKind device() const = 0;
  virtual std::string name() const = 0;  // "cpu (openblas SkylakeX, 2 threads)"
  virtual bool supports(Op op, DType dtype) const = 0;
  // Throws InputError "<backend>: <op> is not supported for dtype <dtype>" unless supports().
  void require(Op op, DType dtype) const;

  // ---- memory (pointers are device pointers for CUDA) ---------------------------------------
  // Returns zero-filled memory aligned to 64 bytes; throws on failure.
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr) = 0;
  virtual void copy_to_device(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, size_t bytes) = 0;
  virtual void copy(void* dst, const void* src, size_t bytes) = 0;  // device to device
  virtual void zero(void* dst, size_t bytes) = 0;
  virtual void synchronize() = 0;  // waits for queued work (no-op on CPU)
  // Prepares the calling thread to run ops (the CPU backend sets its OpenMP thread count, which is
  // per thread: a server's engine thread calls this before its first op). No-op by default.
  virtual void bind_calling_thread() {}
  // Whether the BF16 matmul and classifier_loss take fp32 weights (matmul's b, classifier_loss's
  // w), rounded to bf16 as they are read (the CPU kernels round while packing): bf16 training then
  // needs no bf16 working copy of the fp32 masters. False by default (CUDA keeps the copy).
  virtual bool rounds_f32_weights() const { return false; }
  // Typed forms of the above: byte counts from the views (same numel and dtype required).
  void copy(const TensorView& dst, const TensorView& src);
  void zero(const TensorView& dst) { zero(dst.data, dst.bytes()); }

  // ---- matmul (dtype of a; b has a's dtype, or F32 under BF16 a when rounds_f32_weights();
  // c is F32 or a's dtype) ---------------------------
  // c[M,Nc] = alpha * op(a) · op(b) + beta * c. op(a) is [M,K]: a is [M,K], or [K,M] when trans_a.
  // op(b) is [K,Nc]: b is [K,Nc], or [Nc,K] when trans_b. beta = 0 ignores c's old contents (may be
  // NaN). Accumulation is fp32 for every dtype.
  void matmul(const TensorView& c, const TensorView& a, const TensorView& b, bool trans_a,
              bool trans_b, float alpha, float beta);

  // ---- embedding (dtype of table; out has table's dtype) ------------------------------------
  // out[N,C] = table[ids[n], :] with ids I32 [N]. Every id must be in [0, V): the model checks ids
  // on the host first.
  void embedding_forward(const TensorView& out, const TensorView& ids, const TensorView& table);
  // dtable[ids[n], :] += dout[n, :] (accumulates; rows with the same id add in row order on CPU).
  void embedding_backward(const TensorView& dtable, const TensorView& dout, const TensorView& ids);

  // ---- RMSNorm (dtype of inp; also QK-norm per head: [N*H, D] rows). rstd and weight F32 -------
  // out[n,c] = inp * rstd[n] * weight, rstd[n] = 1/sqrt(mean(inp[n,:]^2) + eps), saved for
  // backward. out may alias inp.
  void rmsnorm_forward(const TensorView& out, const TensorView& rstd, const TensorView& inp,
                       const TensorView& weight, float eps);
  // dinp[n,c] accumulates (+=) when accumulate, else overwrites; dweight[c] accumulates. inp is the
  // forward input (not the output).
  void rmsnorm_backward(const TensorView& dinp, const TensorView& dweight, const TensorView& dout,
                        const TensorView& inp, const TensorView& weight, const TensorView& rstd,
                        bool accumulate);

  // ---- RoPE, rotate-half (pairs (i, i + D/2)), in place (dtype of x) --------------------------
  // x[N, heads, D] rotated by angle(position_ids[n], i). cos/sin are F32 [max_pos, D/2] tables from
  // rope.h (attention factor already multiplied in). Every position must be < max_pos (checked by
  // the model).
  void rope_forward(const TensorView& x, const TensorView& position_ids, const TensorView& cos,
                    const TensorView& sin);
  // dx (in place): the transposed rotation of the gradient.
  void rope_backward(const TensorView& dx, const TensorView& position_ids, const TensorView& cos,
                     const TensorView& sin);

  // ---- attention: causal, GQA (query head h uses kv head h / (H/KV)), optional document masks ---
  // (dtype of q; k, v, out have q's dtype; lse F32.) q[B,q_len,H,D], k/v[B,kv_len,KV,D] ->
  // out[B,q_len,H,D], lse[B,H,q_len] (natural log-sum-exp of the scaled, masked scores; saved for
  // backward; may be absent when no backward follows). segment_ids I32 [B,kv_len] (optional): key s
  // is visible to query t only when segment[s] == segment[t] (packed documents). Tiled over
  // queries: never materialises T x T scores per head. Views are checked for at least the elements
  // `shape` addresses.
  void attention_forward(const TensorView& out, const TensorView& lse, const TensorView& q,
                         const TensorView& k, const TensorView& v, const TensorView& segment_ids,
                         const AttentionShape& shape);
  // Training shape only (q_len == kv_len, kv_batch_stride 0). dq, dk, dv overwrite.
  void attention_backward(const TensorView& dq, const TensorView& dk, const TensorView& dv,
                          const TensorView& dout, const TensorView& out, const TensorView& lse,
                          const TensorView& q, const TensorView& k, const TensorView& v,
                          const TensorView& segment_ids, const AttentionShape& shape);

  // ---- SwiGLU: out = silu(gate) * up, elementwise (dtype of gate) ---------------------------
  void swiglu_forward(const TensorView& out, const TensorView& gate, const TensorView& up);
  // dgate, dup overwrite.
  void swiglu_backward(const TensorView& dgate, const TensorView& dup, const TensorView& dout,
                       const TensorView& gate, const TensorView& up);

  // ---- elementwise (dtype of the output) ----------------------------------------------------
  void add(const TensorView& out, const TensorView& a, const TensorView& b);  // may alias
  void accumulate(const TensorView& dst, const TensorView& src);              // dst += src
  void scale(const TensorView& x, float factor);                              // x *= factor
  // dst = src converted (round to nearest even); dtype of the non-F32 side (F32 for F32 -> F32).
  void convert(const TensorView& dst, const TensorView& src);

  // ---- fused classifier + loss (chunks of rows; never the full [N,V] logits) ------------------
  // (dtype of x; w has x's dtype; losses F32, labels I32.) For each row n of x[N,C] with label
  // labels[n]: logits = x[n]·w^T (w is [V,C]), row loss per `config` (0 for ignored labels)
  // written to losses[N]. When dx is present also the gradient of sum_n grad_scale * losses[n]:
  // dx[N,C] (x's dtype) overwrites, dw[V,C] (F32) accumulates. Labels must be in [0,V) or
  // config.ignore_index (checked by the caller). Softmax and log-sum-exp are fp32.
  void classifier_loss(const TensorView& losses, const TensorView& dx, const TensorView& dw,
                       const TensorView& x, const TensorView& w, const TensorView& labels,
                       const LossConfig& config, float grad_scale);

  // ---- optimizer (dtype of param: fp32 masters; m, v, grad F32) -------------------------------
  void adamw_update(const TensorView& param, const TensorView& m, const TensorView& v,
                    const TensorView& grad, const AdamWStep& step);
  // Sum of squares accumulated in double in a fixed order (global-norm clipping).
  double sum_squares(const TensorView& x);

 protected:
  // The implementations: called after shapes and (op, dtype) were checked.
  virtual void run_matmul(const TensorView& c, const TensorView& a, const TensorView& b, int64_t m,
                          int64_t n, int64_t k, bool trans_a, bool trans_b, float alpha,
                          float beta) = 0;
  virtual void run_embedding_forward(const TensorView& out, const TensorView& ids,
                                     const TensorView& table) = 0;
  virtual void run_embedding_backward(const TensorView& dtable, const TensorView& dout,
                                      const TensorView& ids) = 0;
  virtual void run_rmsnorm_forward(const TensorView& out, const TensorView& rstd,
                                   const TensorView& inp, const TensorView& weight, float eps) = 0;
  virtual void run_rmsnorm_backward(const TensorView& dinp, const TensorView& dweight,
                                    const TensorView& dout, const TensorView& inp,
                                    const TensorView& weight, const TensorView& rstd,
                                    bool accumulate) = 0;
  virtual void run_rope(const TensorView& x, const TensorView& position_ids, const TensorView& cos,
                        const TensorView& sin, bool inverse) = 0;
  virtual void run_attention_forward(const TensorView& out, const TensorView& lse,
                                     const TensorView& q, const TensorView& k, const TensorView& v,
                                     const TensorView& segment_ids,
                                     const AttentionShape& shape) = 0;
  virtual void run_attention_backward(const TensorView& dq, const TensorView& dk,
                                      const TensorView& dv, const TensorView& dout,
                                      const TensorView& out, const TensorView& lse,
                                      const TensorView& q, const TensorView& k, const TensorView& v,
                                      const TensorView& segment_ids,
                                      const AttentionShape& shape) = 0;
  virtual void run_swiglu_forward(const TensorView& out, const TensorView& gate,
                                  const TensorView& up) = 0;
  virtual void run_swiglu_backward(const TensorView& dgate, const TensorView& dup,
                                   const TensorView& dout, const TensorView& gate,
                                   const TensorView& up) = 0;
  virtual void run_add(const TensorView& out, const TensorView& a, const TensorView& b) = 0;
  virtual void run_accumulate(const TensorView& dst, const TensorView& src) = 0;
  virtual void run_scale(const TensorView& x, float factor) = 0;
  virtual void run_convert(const TensorView& dst, const TensorView& src) = 0;
  virtual void run_classifier_loss(const TensorView& losses, const TensorView& dx,
                                   const TensorView& dw, const TensorView& x, const TensorView& w,
                                   const TensorView& labels, const LossConfig& config,
                                   float grad_scale) = 0;
  virtual void run_adamw_update(const TensorView& param, const TensorView& m, const TensorView& v,
                                const TensorView& grad, const AdamWStep& step) = 0;
  virtual double run_sum_squares(const TensorView& x) = 0;
};

// The CPU backend: OpenMP over `num_threads` (0 = default_thread_count()) and the configured BLAS.
std::unique_ptr<Backend> make_cpu_backend(int num_threads = 0);

// ---- helpers over matmul (y = x · W^T with W stored [out, in] as PyTorch/HF) ----------------
// out[N,OC] = inp[N,IC] · weight[OC,IC]^T; beta 1 adds onto out (a residual), 0 overwrites.
void linear_forward(Backend& backend, const TensorView& out, const TensorView& inp,
                    const TensorView& weight, float beta = 0.0f);
// dinp[N,IC] = dout · weight (accumulates when accumulate_dinp, else overwrites; absent skips);
// dweight[OC,IC] += dout^T · inp (always accumulates; absent skips).
void linear_backward(Backend& backend, const TensorView& dinp, const TensorView& dweight,
                     const TensorView& dout, const TensorView& inp, const TensorView& weight,
                     bool accumulate_dinp);

}  // namespace moai::ops
