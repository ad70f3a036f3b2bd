#pragma once
// CUDA-side state of a Device. Included only by files in src/moai/ops/cuda/.
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <memory>

#include "moai/ops/cuda/device.h"

namespace moai::ops::cuda {

class MatmulPlanCache;  // matmul.cu: cuBLASLt descriptors and chosen algorithms, keyed by shape

struct Device::State {
  DeviceInfo info;
  cudaStream_t stream = nullptr;
  cublasLtHandle_t lt = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  size_t max_shared_memory_per_block = 0;  // opt-in limit (cudaDevAttrMaxSharedMemoryPerBlockOptin)

  // Scratch for reductions and sort buffers. It only grows, and only when a larger request first
  // appears (the first training step), so later steps never allocate.
  void* scratch = nullptr;
  size_t scratch_bytes = 0;

  size_t in_use_bytes = 0;
  size_t peak_bytes = 0;

  std::unique_ptr<MatmulPlanCache> matmul_plans;

  ~State();
};

// Scratch of at least `bytes` (256-byte aligned), valid until the next call that asks for more.
// Kernels queued on the device's stream before a regrowth finish before the old block is freed
// (cudaFree syncs).
void* device_scratch(Device& device, size_t bytes);

}  // namespace moai::ops::cuda
