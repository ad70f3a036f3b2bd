// Fused classifier + loss: rows in chunks, so only chunk x V logits exist at a time (never N x V).
// Per chunk:
//   logits (fp32) = x_chunk . W^T                       cuBLASLt
//   per row: loss (CE / focal / label smoothing mix, loss.h) and d(grad_scale * loss)/d logits
//   dx_chunk = dlogits . W (overwrites),  dW += dlogits^T . x_chunk (fp32, accumulates)
// Twin of cpu::classifier_loss / cpu::loss_row, with the same formulas.
#include <nvtx3/nvToolsExt.h>

#include <algorithm>

#include "moai/ops/cuda/check.h"
#include "moai/ops/cuda/common.cuh"
#include "moai/ops/cuda/device_state.cuh"
#include "moai/ops/cuda/kernels.cuh"
#include "moai/ops/cuda/matmul.cuh"

namespace moai::ops::cuda {
namespace {

constexpr int kLossThreads = 512;
// Logit chunk budget: 256 MiB of fp32 logits (plus as much again in bf16 for the bf16 gradient).
constexpr int64_t kChunkLogitElements = int64_t(64) << 20;

struct LossParams {
  float ce_weight, focal_weight, smooth_weight, focal_gamma, smoothing;
  int ignore_index;
  float grad_scale;
  bool want_grad;
};

// One block per row. logits is read three times (max, sums, gradient) from L2-resident memory.
template <typename G>
__global__ void __launch_bounds__(kLossThreads)
    loss_rows_kernel(float* losses, G* dlogits, const float* logits, const int32_t* labels,
                     int64_t v, LossParams p) {
  __shared__ float shared_f[32];
  __shared__ double shared_d[32];
  const int64_t row = blockIdx.x;
  const float* z = logits + row * v;
  G* dz = dlogits ? dlogits + row * v : nullptr;
  const int32_t label = labels[row];
  if (label == p.ignore_index) {
    if (threadIdx.x == 0) losses[row] = 0.0f;
    if (p.want_grad)
      for (int64_t i = threadIdx.x; i < v; i += blockDim.x) dz[i] = from_float<G>(0.0f);
    return;
  }
  // Read before the first block reduction: with fp32 storage the gradient overwrites z in place,
  // and the reductions' barriers keep every read of z[label] ahead of any thread's writes.
  const double label_logit = double(z[label]);
  float local_max = -INFINITY;
  for (int64_t i = threadIdx.x; i < v; i += blockDim.x) local_max = fmaxf(local_max, z[i]);
  const float max_logit = block_max(local_max, shared_f);
  double local_exp = 0.0, local_sum = 0.0;
  for (int64_t i = threadIdx.x; i < v; i += blockDim.x) {
    local_exp += double(expf(z[i] - max_logit));
    local_sum += double(z[i]);
  }
  const double sum_exp = block_sum(local_exp, shared_d);
  const double sum_logits = block_sum(local_sum, shared_d);
  const double lse = double(max_logit) + log(sum_exp);
  const double ce = lse - label_logit;
  const double p_label = exp(-ce);
  const double one_minus = fmax(0.0, 1.0 - p_label);
  const double gamma = p.focal_gamma;
  double loss = 0.0, coeff = 0.0;  // coeff multiplies (p - onehot) from the CE and focal terms
  if (p.ce_weight != 0.0f) {
    loss += p.ce_weight * ce;
    coeff += p.ce_weight;
  }
  if (p.focal_weight != 0.0f) {
    const double modulator = pow(one_minus, gamma);
    loss += p.focal_weight * modulator * ce;
    double factor = modulator;
    if (gamma != 0.0 && one_minus > 0.0)
      factor += gamma * pow(one_minus, gamma - 1.0) * p_label * ce;
    coeff += p.focal_weight * factor;
  }
  const double eps = p.smoothing;
  const double off = v > 1 ? eps / double(v - 1) : 0.0;
  if (p.smooth_weight != 0.0f)
    loss += p.smooth_weight * (lse - off * (sum_logits - label_logit) - (1.0 - eps) * label_logit);
  if (threadIdx.x == 0) losses[row] = float(loss);
  if (!p.want_grad) return;
  const double ws = p.smooth_weight;
  const float scale_p = float(double(p.grad_scale) * (coeff + ws) / sum_exp);
  const float shift = float(double(p.grad_scale) * ws * off);
  const float label_extra = float(double(p.grad_scale) * (coeff + ws * (1.0 - eps - off)));
  for (int64_t i = threadIdx.x; i < v; i += blockDim.x) {
    float grad = expf(z[i] - max_logit) * scale_p - shift;
    if (i == label) grad -= label_extra;
    dz[i] = from_float<G>(grad);  // may overwrite z[i] (fp32 in place): z[i] was read just above
  }
}

}  // namespace

template <typename T>
void classifier_loss(Device& device, float* losses, T* dx, float* dw, const T* x, const T* w,
                     const int32_t* labels, int64_t n, int64_t c, int64_t v,
                     const LossConfig& config, float grad_scale) {
  if (n == 0) return;
  nvtxRangePushA("moai::classifier_loss");
  cudaStream_t stream = device.state().stream;
  const bool want_grad = dx != nullptr;
  const int64_t chunk =
      std::min<int64_t>(n, std::max<int64_t>(16, kChunkLogitElements / std::max<int64_t>(v, 1)));
  const size_t logits_bytes = (size_t(chunk * v) * sizeof(float) + 255) / 256 * 256;
  // fp32 storage: the gradient overwrites the logits in place; bf16 needs its own buffer for the
  // matmuls.
  const bool separate_grad = want_grad && !std::is_same_v<T, float>;
  const size_t grad_bytes = separate_grad ? size_t(chunk * v) * sizeof(T) : 0;
  char* scratch = static_cast<char*>(device_scratch(device, logits_bytes + grad_bytes));
  auto* logits = reinterpret_cast<float*>(scratch);
  T* dlogits = want_grad ? (separate_grad ? reinterpret_cast<T*>(scratch + logits_bytes)
                                          : reinterpret_cast<T*>(logits))
                         : nullptr;
  const LossParams params{
      config.ce_weight, config.focal_weight, config.smooth_weight, config.focal_gamma,
      config.smoothing, config.ignore_index, grad_scale,           want_grad};
  for (int64_t row0 = 0; row0 < n; row0 += chunk) {
    const int64_t rows = std::min(chunk, n - row0);
    MatmulArgs logits_args;
    logits_args.out = logits;
    logits_args.out_type = ElemType::kFp32;
    logits_args.a = x + row0 * c;
    logits_args.b = w;
    logits_args.in_type = elem_type_of<T>();
    logits_args.m = rows;
    logits_args.n = v;
    logits_args.k = c;
    logits_args.trans_b = true;
    matmul(device, logits_args);
    loss_rows_kernel<T><<<static_cast<unsigned>(rows), kLossThreads, 0, stream>>>(
        losses + row0, dlogits, logits, labels + row0, v, params);
    MOAI_CUDA_CHECK_LAUNCH();
    if (!want_grad) continue;
    MatmulArgs dx_args;  // dx[rows, C] = dlogits[rows, V] . W[V, C]
    dx_args.out = dx + row0 * c;
    dx_args.out_type = elem_type_of<T>();
    dx_args.a = dlogits;
    dx_args.b = w;
    dx_args.in_type = elem_type_of<T>();
    dx_args.m = rows;
    dx_args.n = c;
    dx_args.k = v;
    matmul(device, dx_args);
    if (dw) {
      MatmulArgs dw_args;  // dW[V, C] += dlogits^T . x_chunk
      dw_args.out = dw;
      dw_args.out_type = ElemType::kFp32;
      dw_args.a = dlogits;
      dw_args.b = x + row0 * c;
      dw_args.in_type = elem_type_of<T>();
      dw_args.m = v;
      dw_args.n = c;
      dw_args.k = rows;
      dw_args.trans_a = true;
      dw_args.beta = 1.0f;
      matmul(device, dw_args);
    }
  }
  nvtxRangePop();
}

template void classifier_loss<float>(Device&, float*, float*, float*, const float*, const float*,
                                     const int32_t*, int64_t, int64_t, int64_t, const LossConfig&,
                                     float);
template void classifier_loss<bf16>(Device&, float*, bf16*, float*, const bf16*, const bf16*,
                                    const int32_t*, int64_t, int64_t, int64_t, const LossConfig&,
                                    float);

}  // namespace moai::ops::cuda
