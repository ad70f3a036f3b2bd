// Embedding backward without atomics: a stable radix sort of (id, row) pairs groups the rows of
// each id in row order, then one block per group sums its rows column by column and adds the sum
// into dtable. The result is the same bit for bit on every run (atomics would add in a
// timing-dependent order).
#include <nvtx3/nvToolsExt.h>

#include <cub/device/device_radix_sort.cuh>

#include "moai/core/error.h"
#include "moai/ops/cuda/check.h"
#include "moai/ops/cuda/common.cuh"
#include "moai/ops/cuda/device_state.cuh"
#include "moai/ops/cuda/kernels.cuh"

namespace moai::ops::cuda {
namespace {

__global__ void iota_kernel(int32_t* out, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    out[i] = static_cast<int32_t>(i);
}

// Block `start` does work only when sorted position `start` begins a run of equal ids.
template <typename T>
__global__ void embedding_backward_kernel(float* dtable, const T* dout, const int32_t* sorted_ids,
                                          const int32_t* sorted_rows, int64_t n, int64_t c) {
  const int64_t start = blockIdx.x;
  const int32_t id = sorted_ids[start];
  if (start > 0 && sorted_ids[start - 1] == id) return;
  int64_t end = start + 1;
  while (end < n && sorted_ids[end] == id) ++end;
  float* dst = dtable + int64_t(id) * c;
  for (int64_t col = threadIdx.x; col < c; col += blockDim.x) {
    float sum = 0.0f;
    for (int64_t j = start; j < end; ++j) sum += to_float(dout[int64_t(sorted_rows[j]) * c + col]);
    dst[col] += sum;
  }
}

}  // namespace

template <typename T>
void embedding_backward(Device& device, float* dtable, const T* dout, const int32_t* ids, int64_t n,
                        int64_t c) {
  if (n == 0) return;
  MOAI_CHECK(n < (int64_t(1) << 31));
  nvtxRangePushA("moai::embedding_backward");
  cudaStream_t stream = device.state().stream;
  size_t sort_bytes = 0;
  MOAI_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(
      nullptr, sort_bytes, ids, static_cast<int32_t*>(nullptr),
      static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr), int(n), 0, 32, stream));
  const size_t index_bytes = (size_t(n) * sizeof(int32_t) + 255) / 256 * 256;
  char* scratch = static_cast<char*>(device_scratch(device, 3 * index_bytes + sort_bytes));
  auto* rows = reinterpret_cast<int32_t*>(scratch);
  auto* sorted_ids = reinterpret_cast<int32_t*>(scratch + index_bytes);
  auto* sorted_rows = reinterpret_cast<int32_t*>(scratch + 2 * index_bytes);
  void* sort_temp = scratch + 3 * index_bytes;
  iota_kernel<<<grid_for(n, 256), 256, 0, stream>>>(rows, n);
  MOAI_CUDA_CHECK_LAUNCH();
  MOAI_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(sort_temp, sort_bytes, ids, sorted_ids, rows,
                                                  sorted_rows, int(n), 0, 32, stream));
  embedding_backward_kernel<T>
      <<<static_cast<unsigned>(n), 256, 0, stream>>>(dtable, dout, sorted_ids, sorted_rows, n, c);
  MOAI_CUDA_CHECK_LAUNCH();
  nvtxRangePop();
}

template void embedding_backward<float>(Device&, float*, const float*, const int32_t*, int64_t,
                                        int64_t);
template void embedding_backward<bf16>(Device&, float*, const bf16*, const int32_t*, int64_t,
                                       int64_t);

}  // namespace moai::ops::cuda
