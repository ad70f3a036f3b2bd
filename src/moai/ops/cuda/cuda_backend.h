#pragma once
// The CUDA implementation of ops::Backend. Only this header (no CUDA headers) is needed to create
// one; code that calls it is compiled only when the build has MOAI_HAVE_CUDA (-DMOAI_CUDA=ON):
//
//   #ifdef MOAI_HAVE_CUDA
//   #include "moai/ops/cuda/cuda_backend.h"
//   #endif
//   ... backend = moai::ops::make_cuda_backend({.device = 0});
//
// Tensors live in device memory; the Backend interface carries their dtype (ops.h). fp32 matmuls
// run on the tensor cores as TF32 (or exact fp32 with tf32_matmul = false); bf16 matmuls,
// attention, elementwise ops and the classifier take bf16 views; RMSNorm, AdamW and the gradient
// norm are fp32 (supports() lists the pairs; docs/cuda.md says what is and is not verified).
#include <cstddef>
#include <memory>

#include "moai/ops/ops.h"

namespace moai::ops {

struct CudaBackendOptions {
  int device = 0;           // CUDA device ordinal
  bool tf32_matmul = true;  // fp32 matmuls on the tensor cores as TF32 (about 1e-3 relative error)
};

// Throws InputError naming the problem when no usable GPU is present.
std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options = {});

// Number of usable CUDA devices (0 without a driver or GPU); never throws. "--device auto" picks
// cuda when this is > 0.
int cuda_device_count();

// Device memory taken through a CUDA backend (allocations and scratch), for benchmarks and logs.
// The backend must come from make_cuda_backend.
size_t cuda_memory_peak_bytes(Backend& backend);
size_t cuda_memory_in_use_bytes(Backend& backend);

// The backend's CUDA stream (a cudaStream_t, as void* so this header stays free of CUDA headers),
// for work that must be ordered with the backend's kernels (NCCL collectives).
void* cuda_stream(Backend& backend);

}  // namespace moai::ops
