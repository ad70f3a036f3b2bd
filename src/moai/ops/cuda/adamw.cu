// AdamW over fp32 master weights (torch.optim.AdamW order: decay, moments, bias-corrected update;
// twin of cpu::adamw_update), and the fixed-order sum of squares for global-norm clipping. The clip
// factor can stay on the device (clip_scale_from_sum_squares), so a step needs no host round trip.
#include <nvtx3/nvToolsExt.h>

#include <cmath>

#include "moai/ops/cuda/check.h"
#include "moai/ops/cuda/common.cuh"
#include "moai/ops/cuda/device_state.cuh"
#include "moai/ops/cuda/kernels.cuh"

namespace moai::ops::cuda {
namespace {

struct AdamWScalars {
  float decay, step_size, bias2_sqrt, beta1, beta2, one_minus_beta1, one_minus_beta2, eps,
      grad_scale;
};

template <typename T>
__global__ void adamw_kernel(float* param, T* param_copy, float* m, float* v, const float* grad,
                             int64_t n, AdamWScalars s, const float* grad_scale_device) {
  const float gs = s.grad_scale * (grad_scale_device ? *grad_scale_device : 1.0f);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float g = grad[i] * gs;
    float p = param[i] * s.decay;
    const float mi = m[i] * s.beta1 + g * s.one_minus_beta1;
    const float vi = v[i] * s.beta2 + s.one_minus_beta2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const float denom = sqrtf(vi) / s.bias2_sqrt + s.eps;
    p = p - s.step_size * (mi / denom);
    param[i] = p;
    if (param_copy) param_copy[i] = from_float<T>(p);
  }
}

// Fixed chunks of kChunk elements per block (independent of the grid size), partial sums in double.
constexpr int kChunk = 8192;
constexpr int kThreads = 256;

__global__ void sum_squares_partial_kernel(double* partial, const float* x, int64_t n) {
  __shared__ double shared[32];
  const int64_t begin = int64_t(blockIdx.x) * kChunk;
  const int64_t end = min(n, begin + kChunk);
  double sum = 0.0;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x)
    sum += double(x[i]) * double(x[i]);
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = sum;
}

__global__ void sum_partials_kernel(double* result, const double* partial, int64_t parts) {
  __shared__ double shared[32];
  double sum = 0.0;
  for (int64_t i = threadIdx.x; i < parts; i += blockDim.x) sum += partial[i];
  sum = block_sum(sum, shared);
  if (threadIdx.x == 0) *result = sum;
}

__global__ void clip_scale_kernel(float* scale, const double* sum_sq, float max_norm) {
  const double norm = sqrt(*sum_sq);
  const double factor = double(max_norm) / (norm + 1e-6);
  *scale = max_norm > 0.0f && factor < 1.0 ? float(factor) : 1.0f;
}

}  // namespace

template <typename T>
void adamw_update(Device& device, float* param, T* param_copy, float* m, float* v,
                  const float* grad, int64_t n, const AdamWStep& step,
                  const float* grad_scale_device) {
  if (n == 0) return;
  nvtxRangePushA("moai::adamw_update");
  // Scalars as torch computes them (python doubles, cast to float where used), as
  // cpu::adamw_update.
  const double bias1 = 1.0 - std::pow(double(step.beta1), double(step.step));
  const double bias2 = 1.0 - std::pow(double(step.beta2), double(step.step));
  AdamWScalars s{};
  s.decay = float(1.0 - double(step.lr) * double(step.weight_decay));
  s.step_size = float(double(step.lr) / bias1);
  s.bias2_sqrt = float(std::sqrt(bias2));
  s.beta1 = step.beta1;
  s.beta2 = step.beta2;
  s.one_minus_beta1 = float(1.0 - double(step.beta1));
  s.one_minus_beta2 = float(1.0 - double(step.beta2));
  s.eps = step.eps;
  s.grad_scale = step.grad_scale;
  adamw_kernel<T><<<grid_for(n, kThreads, 8192), kThreads, 0, device.state().stream>>>(
      param, param_copy, m, v, grad, n, s, grad_scale_device);
  MOAI_CUDA_CHECK_LAUNCH();
  nvtxRangePop();
}

void sum_squares(Device& device, double* result_device, const float* x, int64_t n) {
  cudaStream_t stream = device.state().stream;
  const int64_t parts = std::max<int64_t>(1, ceil_div(n, kChunk));
  auto* partial = static_cast<double*>(device_scratch(device, size_t(parts) * sizeof(double)));
  if (n > 0) {
    sum_squares_partial_kernel<<<static_cast<unsigned>(parts), kThreads, 0, stream>>>(partial, x,
                                                                                      n);
    MOAI_CUDA_CHECK_LAUNCH();
  } else {
    MOAI_CUDA_CHECK(cudaMemsetAsync(partial, 0, sizeof(double), stream));
  }
  sum_partials_kernel<<<1, 1024, 0, stream>>>(result_device, partial, parts);
  MOAI_CUDA_CHECK_LAUNCH();
}

void clip_scale_from_sum_squares(Device& device, float* scale_device, const double* sum_sq_device,
                                 float max_norm) {
  clip_scale_kernel<<<1, 1, 0, device.state().stream>>>(scale_device, sum_sq_device, max_norm);
  MOAI_CUDA_CHECK_LAUNCH();
}

template void adamw_update<float>(Device&, float*, float*, float*, float*, const float*, int64_t,
                                  const AdamWStep&, const float*);
template void adamw_update<bf16>(Device&, float*, bf16*, float*, float*, const float*, int64_t,
                                 const AdamWStep&, const float*);

}  // namespace moai::ops::cuda
