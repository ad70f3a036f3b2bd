#pragma once
// Launchers of the CUDA kernels. Shape letters and the gradient contract are those of
// moai/ops/ops.h (parameter gradients accumulate, activation gradients overwrite unless
// `accumulate`). Every launcher is a template over the storage type T of activations and weights,
// instantiated for float (the current fp32 Backend interface) and bf16 (mixed precision); all
// arithmetic is fp32, reductions are in a fixed order (no atomics) so results repeat bit for bit.
// rstd, lse, losses and parameter gradients are always fp32. Included only by files in
// src/moai/ops/cuda/ and the CUDA tests.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "moai/ops/cuda/device.h"
#include "moai/ops/loss.h"
#include "moai/ops/ops.h"

namespace moai::ops::cuda {

// ---- RMSNorm (rows of c; also QK-norm: n = N*H rows of c = D) ----
// Input and output dtypes independent (float or bf16); weights fp32. Backward: dinp/dout TD, inp
// TX.
template <typename TIn, typename TOut>
void rmsnorm_forward(Device& device, TOut* out, float* rstd, const TIn* inp, const float* weight,
                     int64_t n, int64_t c, float eps);
template <typename TD, typename TX>
void rmsnorm_backward(Device& device, TD* dinp, float* dweight, const TD* dout, const TX* inp,
                      const float* weight, const float* rstd, int64_t n, int64_t c,
                      bool accumulate);

// ---- RoPE, rotate-half, in place; cos/sin are fp32 [max_pos, D/2] device tables (rope.h) ----
template <typename T>
void rope_apply(Device& device, T* x, const int32_t* position_ids, const float* cos,
                const float* sin, int64_t n, int64_t heads, int64_t head_dim, bool transpose);

// ---- embedding ----
template <typename T>
void embedding_forward(Device& device, T* out, const int32_t* ids, const T* table, int64_t n,
                       int64_t c);
// dtable[ids[n], :] += dout[n, :]; rows with the same id add in row order (stable sort, no
// atomics).
template <typename T>
void embedding_backward(Device& device, float* dtable, const T* dout, const int32_t* ids, int64_t n,
                        int64_t c);

// ---- elementwise ----
template <typename T>
void swiglu_forward(Device& device, T* out, const T* gate, const T* up, int64_t n);
template <typename T>
void swiglu_backward(Device& device, T* dgate, T* dup, const T* dout, const T* gate, const T* up,
                     int64_t n);
template <typename T>
void add(Device& device, T* out, const T* a, const T* b, int64_t n);
template <typename T>
void accumulate(Device& device, T* dst, const T* src, int64_t n);
template <typename T>
void scale(Device& device, T* x, float factor, int64_t n);
void convert(Device& device, __nv_bfloat16* out, const float* in, int64_t n);
void convert(Device& device, float* out, const __nv_bfloat16* in, int64_t n);

// ---- attention (flash-style, see attention_forward.cu) ----
template <typename T>
void attention_forward(Device& device, T* out, float* lse, const T* q, const T* k, const T* v,
                       const int32_t* segment_ids, const AttentionShape& shape);
template <typename T>
void attention_backward(Device& device, T* dq, T* dk, T* dv, const T* dout, const T* out,
                        const float* lse, const T* q, const T* k, const T* v,
                        const int32_t* segment_ids, const AttentionShape& shape);

// ---- fused classifier + loss (chunks of rows; see classifier.cu) ----
template <typename T>
void classifier_loss(Device& device, float* losses, T* dx, float* dw, const T* x, const T* w,
                     const int32_t* labels, int64_t n, int64_t c, int64_t v,
                     const LossConfig& config, float grad_scale);

// ---- optimizer ----
// AdamW on fp32 masters `param`; when param_copy is non-null it also receives the updated weights
// in T (the bf16 working copy). grad_scale_device (nullable) multiplies step.grad_scale on the
// device, so global-norm clipping needs no host round trip.
template <typename T>
void adamw_update(Device& device, float* param, T* param_copy, float* m, float* v,
                  const float* grad, int64_t n, const AdamWStep& step,
                  const float* grad_scale_device);
// Sum of squares in double, fixed order; the result is left in *result_device (one double).
void sum_squares(Device& device, double* result_device, const float* x, int64_t n);
// grad_scale = max_norm / (sqrt(sum_sq) + 1e-6), clamped to 1 (torch.nn.utils.clip_grad_norm_).
void clip_scale_from_sum_squares(Device& device, float* scale_device, const double* sum_sq_device,
                                 float max_norm);

}  // namespace moai::ops::cuda
