// RMSNorm forward and backward (fp32 math; activations stored as float or bf16, each side on its
// own: the bf16 model normalises the fp32 residual into a bf16 matmul input; weights fp32). Twin of
// cpu::rmsnorm_forward/backward.
#include <nvtx3/nvToolsExt.h>

#include <algorithm>

#include "moai/core/error.h"
#include "moai/ops/cuda/check.h"
#include "moai/ops/cuda/common.cuh"
#include "moai/ops/cuda/device_state.cuh"
#include "moai/ops/cuda/kernels.cuh"

namespace moai::ops::cuda {
namespace {

constexpr int kRowsPerBlock = 8;  // one warp per row, 8 warps per block

template <typename TIn, typename TOut>
__global__ void rmsnorm_forward_kernel(TOut* out, float* rstd, const TIn* inp, const float* weight,
                                       int64_t n, int64_t c, float eps) {
  const int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= n) return;
  const TIn* x = inp + row * c;
  float sum_sq = 0.0f;
  for (int64_t col = lane; col < c; col += 32) {
    const float value = to_float(x[col]);
    sum_sq += value * value;
  }
  sum_sq = warp_sum(sum_sq);
  const float r = rsqrtf(sum_sq / float(c) + eps);
  if (lane == 0 && rstd) rstd[row] = r;
  TOut* y = out + row * c;
  for (int64_t col = lane; col < c; col += 32)
    y[col] = from_float<TOut>(to_float(x[col]) * r * weight[col]);
}

// dinp = rstd * (dout*w - xhat * mean(dout*w*xhat)); overwrites, or adds when accumulate.
template <typename TD, typename TX>
__global__ void rmsnorm_backward_input_kernel(TD* dinp, const TD* dout, const TX* inp,
                                              const float* weight, const float* rstd, int64_t n,
                                              int64_t c, bool accumulate) {
  const int64_t row = int64_t(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= n) return;
  const TX* x = inp + row * c;
  const TD* dy = dout + row * c;
  const float r = rstd[row];
  float dot = 0.0f;
  for (int64_t col = lane; col < c; col += 32)
    dot += to_float(dy[col]) * weight[col] * to_float(x[col]) * r;
  const float mean_dot = warp_sum(dot) / float(c);
  TD* dx = dinp + row * c;
  for (int64_t col = lane; col < c; col += 32) {
    const float xhat = to_float(x[col]) * r;
    float value = r * (to_float(dy[col]) * weight[col] - xhat * mean_dot);
    if (accumulate) value += to_float(dx[col]);
    dx[col] = from_float<TD>(value);
  }
}

// dweight[c] = sum over rows of dout * inp * rstd, in two passes with a fixed order: each block of
// the grid's y dimension sums a fixed stride of rows into partial[blockIdx.y, col]; the finish
// kernel adds the partials in order. Threads along x own columns (coalesced), threads along y split
// rows.
constexpr int kColumnThreads = 32, kRowThreads = 8;

template <typename TD, typename TX>
__global__ void rmsnorm_weight_partial_kernel(float* partial, const TD* dout, const TX* inp,
                                              const float* rstd, int64_t n, int64_t c) {
  __shared__ float sums[kRowThreads][kColumnThreads];
  const int64_t col = int64_t(blockIdx.x) * kColumnThreads + threadIdx.x;
  float sum = 0.0f;
  if (col < c) {
    const int64_t stride = int64_t(gridDim.y) * kRowThreads;
    for (int64_t row = int64_t(blockIdx.y) * kRowThreads + threadIdx.y; row < n; row += stride)
      sum += to_float(dout[row * c + col]) * to_float(inp[row * c + col]) * rstd[row];
  }
  sums[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && col < c) {
    float total = 0.0f;
    for (int y = 0; y < kRowThreads; ++y) total += sums[y][threadIdx.x];
    partial[int64_t(blockIdx.y) * c + col] = total;
  }
}

__global__ void column_sum_accumulate_kernel(float* out, const float* partial, int64_t parts,
                                             int64_t c) {
  const int64_t col = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (col >= c) return;
  float total = 0.0f;
  for (int64_t part = 0; part < parts; ++part) total += partial[part * c + col];
  out[col] += total;
}

}  // namespace

template <typename TIn, typename TOut>
void rmsnorm_forward(Device& device, TOut* out, float* rstd, const TIn* inp, const float* weight,
                     int64_t n, int64_t c, float eps) {
  if (n == 0) return;
  nvtxRangePushA("moai::rmsnorm_forward");
  const unsigned blocks = static_cast<unsigned>(ceil_div(n, kRowsPerBlock));
  rmsnorm_forward_kernel<TIn, TOut>
      <<<blocks, kRowsPerBlock * 32, 0, device.state().stream>>>(out, rstd, inp, weight, n, c, eps);
  MOAI_CUDA_CHECK_LAUNCH();
  nvtxRangePop();
}

template <typename TD, typename TX>
void rmsnorm_backward(Device& device, TD* dinp, float* dweight, const TD* dout, const TX* inp,
                      const float* weight, const float* rstd, int64_t n, int64_t c,
                      bool accumulate) {
  if (n == 0) return;
  nvtxRangePushA("moai::rmsnorm_backward");
  cudaStream_t stream = device.state().stream;
  if (dweight) {
    // Partials first: dinp may alias dout (in-place backward), and the weight sums read dout.
    const int64_t parts = std::min<int64_t>(ceil_div(n, kRowThreads), 128);
    auto* partial = static_cast<float*>(device_scratch(device, size_t(parts * c) * sizeof(float)));
    const dim3 grid(static_cast<unsigned>(ceil_div(c, kColumnThreads)),
                    static_cast<unsigned>(parts));
    rmsnorm_weight_partial_kernel<TD, TX>
        <<<grid, dim3(kColumnThreads, kRowThreads), 0, stream>>>(partial, dout, inp, rstd, n, c);
    MOAI_CUDA_CHECK_LAUNCH();
    column_sum_accumulate_kernel<<<static_cast<unsigned>(ceil_div(c, 256)), 256, 0, stream>>>(
        dweight, partial, parts, c);
    MOAI_CUDA_CHECK_LAUNCH();
  }
  if (dinp) {
    const unsigned blocks = static_cast<unsigned>(ceil_div(n, kRowsPerBlock));
    rmsnorm_backward_input_kernel<TD, TX><<<blocks, kRowsPerBlock * 32, 0, stream>>>(
        dinp, dout, inp, weight, rstd, n, c, accumulate);
    MOAI_CUDA_CHECK_LAUNCH();
  }
  nvtxRangePop();
}

#define MOAI_INSTANTIATE(A, B)                                                                \
  template void rmsnorm_forward<A, B>(Device&, B*, float*, const A*, const float*, int64_t,   \
                                      int64_t, float);                                        \
  template void rmsnorm_backward<A, B>(Device&, A*, float*, const A*, const B*, const float*, \
                                       const float*, int64_t, int64_t, bool);
MOAI_INSTANTIATE(float, float)
MOAI_INSTANTIATE(float, bf16)
MOAI_INSTANTIATE(bf16, float)
MOAI_INSTANTIATE(bf16, bf16)
#undef MOAI_INSTANTIATE

}  // namespace moai::ops::cuda
