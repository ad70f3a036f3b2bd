// Elementwise ops (SwiGLU, add, accumulate, scale, dtype conversion) and the embedding gather.
// Grid-stride loops; fp32 math whatever the storage type.
#include <nvtx3/nvToolsExt.h>

#include "moai/ops/cuda/check.h"
#include "moai/ops/cuda/common.cuh"
#include "moai/ops/cuda/device_state.cuh"
#include "moai/ops/cuda/kernels.cuh"

namespace moai::ops::cuda {
namespace {

constexpr int kThreads = 256;

#define MOAI_GRID_STRIDE(index, count)                                                  \
  for (int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; index < (count); \
       index += int64_t(gridDim.x) * blockDim.x)

// silu(g) = g * sigmoid(g); expf (not __expf) so large |g| stays accurate.
__device__ __forceinline__ float sigmoid(float g) {
  return 1.0f / (1.0f + expf(-g));
}

template <typename T>
__global__ void swiglu_forward_kernel(T* out, const T* gate, const T* up, int64_t n) {
  MOAI_GRID_STRIDE(i, n) {
    const float g = to_float(gate[i]);
    out[i] = from_float<T>(g * sigmoid(g) * to_float(up[i]));
  }
}

// dup = dout * silu(g); dgate = dout * up * sig * (1 + g * (1 - sig)). May run in place over
// gate/up.
template <typename T>
__global__ void swiglu_backward_kernel(T* dgate, T* dup, const T* dout, const T* gate, const T* up,
                                       int64_t n) {
  MOAI_GRID_STRIDE(i, n) {
    const float g = to_float(gate[i]), u = to_float(up[i]), dy = to_float(dout[i]);
    const float sig = sigmoid(g);
    dup[i] = from_float<T>(dy * g * sig);
    dgate[i] = from_float<T>(dy * u * sig * (1.0f + g * (1.0f - sig)));
  }
}

template <typename T>
__global__ void add_kernel(T* out, const T* a, const T* b, int64_t n) {
  MOAI_GRID_STRIDE(i, n) out[i] = from_float<T>(to_float(a[i]) + to_float(b[i]));
}

template <typename T>
__global__ void accumulate_kernel(T* dst, const T* src, int64_t n) {
  MOAI_GRID_STRIDE(i, n) dst[i] = from_float<T>(to_float(dst[i]) + to_float(src[i]));
}

template <typename T>
__global__ void scale_kernel(T* x, float factor, int64_t n) {
  MOAI_GRID_STRIDE(i, n) x[i] = from_float<T>(to_float(x[i]) * factor);
}

template <typename Out, typename In>
__global__ void convert_kernel(Out* out, const In* in, int64_t n) {
  MOAI_GRID_STRIDE(i, n) out[i] = from_float<Out>(to_float(in[i]));
}

// One block per token row; the model has checked that every id is in [0, V).
template <typename T>
__global__ void embedding_forward_kernel(T* out, const int32_t* ids, const T* table, int64_t c) {
  const int64_t row = blockIdx.x;
  const T* src = table + int64_t(ids[row]) * c;
  T* dst = out + row * c;
  for (int64_t col = threadIdx.x; col < c; col += blockDim.x) dst[col] = src[col];
}

#undef MOAI_GRID_STRIDE

}  // namespace

template <typename T>
void swiglu_forward(Device& device, T* out, const T* gate, const T* up, int64_t n) {
  if (n == 0) return;
  nvtxRangePushA("moai::swiglu_forward");
  swiglu_forward_kernel<T>
      <<<grid_for(n, kThreads), kThreads, 0, device.state().stream>>>(out, gate, up, n);
  MOAI_CUDA_CHECK_LAUNCH();
  nvtxRangePop();
}

template <typename T>
void swiglu_backward(Device& device, T* dgate, T* dup, const T* dout, const T* gate, const T* up,
                     int64_t n) {
  if (n == 0) return;
  nvtxRangePushA("moai::swiglu_backward");
  swiglu_backward_kernel<T><<<grid_for(n, kThreads), kThreads, 0, device.state().stream>>>(
      dgate, dup, dout, gate, up, n);
  MOAI_CUDA_CHECK_LAUNCH();
  nvtxRangePop();
}

template <typename T>
void add(Device& device, T* out, const T* a, const T* b, int64_t n) {
  if (n == 0) return;
  add_kernel<T><<<grid_for(n, kThreads), kThreads, 0, device.state().stream>>>(out, a, b, n);
  MOAI_CUDA_CHECK_LAUNCH();
}

template <typename T>
void accumulate(Device& device, T* dst, const T* src, int64_t n) {
  if (n == 0) return;
  accumulate_kernel<T><<<grid_for(n, kThreads), kThreads, 0, device.state().stream>>>(dst, src, n);
  MOAI_CUDA_CHECK_LAUNCH();
}

template <typename T>
void scale(Device& device, T* x, float factor, int64_t n) {
  if (n == 0) return;
  scale_kernel<T><<<grid_for(n, kThreads), kThreads, 0, device.state().stream>>>(x, factor, n);
  MOAI_CUDA_CHECK_LAUNCH();
}

void convert(Device& device, bf16* out, const float* in, int64_t n) {
  if (n == 0) return;
  convert_kernel<bf16, float>
      <<<grid_for(n, kThreads), kThreads, 0, device.state().stream>>>(out, in, n);
  MOAI_CUDA_CHECK_LAUNCH();
}

void convert(Device& device, float* out, const bf16* in, int64_t n) {
  if (n == 0) return;
  convert_kernel<float, bf16>
      <<<grid_for(n, kThreads), kThreads, 0, device.state().stream>>>(out, in, n);
  MOAI_CUDA_CHECK_LAUNCH();
}

template <typename T>
void embedding_forward(Device& device, T* out, const int32_t* ids, const T* table, int64_t n,
                       int64_t c) {
  if (n == 0) return;
  nvtxRangePushA("moai::embedding_forward");
  embedding_forward_kernel<T>
      <<<static_cast<unsigned>(n), kThreads, 0, device.state().stream>>>(out, ids, table, c);
  MOAI_CUDA_CHECK_LAUNCH();
  nvtxRangePop();
}

#define MOAI_INSTANTIATE(T)                                                                 \
  template void swiglu_forward<T>(Device&, T*, const T*, const T*, int64_t);                \
  template void swiglu_backward<T>(Device&, T*, T*, const T*, const T*, const T*, int64_t); \
  template void add<T>(Device&, T*, const T*, const T*, int64_t);                           \
  template void accumulate<T>(Device&, T*, const T*, int64_t);                              \
  template void scale<T>(Device&, T*, float, int64_t);                                      \
  template void embedding_forward<T>(Device&, T*, const int32_t*, const T*, int64_t, int64_t);
MOAI_INSTANTIATE(float)
MOAI_INSTANTIATE(bf16)
#undef MOAI_INSTANTIATE

}  // namespace moai::ops::cuda
