// RoPE, rotate-half form (pairs (i, i + D/2)), in place, from fp32 cos/sin tables [max_pos, D/2]
// that already carry the attention factor (rope.h). Twin of cpu::rope_apply; `transpose` applies
// the inverse rotation, which is the backward.
#include <nvtx3/nvToolsExt.h>

#include "moai/ops/cuda/check.h"
#include "moai/ops/cuda/common.cuh"
#include "moai/ops/cuda/device_state.cuh"
#include "moai/ops/cuda/kernels.cuh"

namespace moai::ops::cuda {
namespace {

// One thread per (row, head, pair).
template <typename T>
__global__ void rope_kernel(T* x, const int32_t* position_ids, const float* cos_table,
                            const float* sin_table, int64_t n, int64_t heads, int64_t half,
                            float sign) {
  const int64_t total = n * heads * half;
  for (int64_t index = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; index < total;
       index += int64_t(gridDim.x) * blockDim.x) {
    const int64_t pair = index % half;
    const int64_t row_head = index / half;
    const int64_t row = row_head / heads;
    const int64_t table = int64_t(position_ids[row]) * half + pair;
    const float c = cos_table[table], s = sign * sin_table[table];
    T* v = x + row_head * 2 * half;
    const float a = to_float(v[pair]), b = to_float(v[pair + half]);
    v[pair] = from_float<T>(a * c - b * s);
    v[pair + half] = from_float<T>(b * c + a * s);
  }
}

}  // namespace

template <typename T>
void rope_apply(Device& device, T* x, const int32_t* position_ids, const float* cos,
                const float* sin, int64_t n, int64_t heads, int64_t head_dim, bool transpose) {
  const int64_t half = head_dim / 2;
  if (n == 0 || heads == 0 || half == 0) return;
  nvtxRangePushA(transpose ? "moai::rope_backward" : "moai::rope_forward");
  rope_kernel<T><<<grid_for(n * heads * half, 256, 65535), 256, 0, device.state().stream>>>(
      x, position_ids, cos, sin, n, heads, half, transpose ? -1.0f : 1.0f);
  MOAI_CUDA_CHECK_LAUNCH();
  nvtxRangePop();
}

template void rope_apply<float>(Device&, float*, const int32_t*, const float*, const float*,
                                int64_t, int64_t, int64_t, bool);
template void rope_apply<bf16>(Device&, bf16*, const int32_t*, const float*, const float*, int64_t,
                               int64_t, int64_t, bool);

}  // namespace moai::ops::cuda
