#pragma once
// Checked calls into the CUDA runtime, cuBLAS(Lt), cuDNN and NCCL. Every macro is a thin wrapper
// over one function, raise_gpu_error(), which throws moai::InternalError naming the library, the
// status code and its text, the failing statement, and the file:line, so main() maps it to exit
// code 1 and no half-written checkpoint survives (a throw unwinds past the atomic writers).
//
// The macros name library functions (cudaGetErrorString, cublasGetStatusString, ncclGetErrorString,
// cudnnGetErrorString) only when expanded, so a file includes just the library header it uses.
// Included only by files under src/moai/ops/cuda/ and the CUDA tests: CUDA headers stay out of the
// widely included ones.

namespace moai::ops::cuda {

[[noreturn]] void raise_gpu_error(const char* library, long long code, const char* text,
                                  const char* statement, const char* file, int line);

}  // namespace moai::ops::cuda

#define MOAI_GPU_CHECK_GENERIC_(library, type, success, to_text, statement)                 \
  do {                                                                                      \
    const type moai_gpu_status_ = (statement);                                              \
    if (moai_gpu_status_ != (success)) {                                                    \
      ::moai::ops::cuda::raise_gpu_error(library, static_cast<long long>(moai_gpu_status_), \
                                         to_text(moai_gpu_status_), #statement, __FILE__,   \
                                         __LINE__);                                         \
    }                                                                                       \
  } while (0)

#define MOAI_CUDA_CHECK(statement) \
  MOAI_GPU_CHECK_GENERIC_("CUDA", cudaError_t, cudaSuccess, cudaGetErrorString, statement)
#define MOAI_CUBLAS_CHECK(statement)                                                              \
  MOAI_GPU_CHECK_GENERIC_("cuBLAS", cublasStatus_t, CUBLAS_STATUS_SUCCESS, cublasGetStatusString, \
                          statement)
#define MOAI_CUDNN_CHECK(statement)                                                          \
  MOAI_GPU_CHECK_GENERIC_("cuDNN", cudnnStatus_t, CUDNN_STATUS_SUCCESS, cudnnGetErrorString, \
                          statement)
#define MOAI_NCCL_CHECK(statement) \
  MOAI_GPU_CHECK_GENERIC_("NCCL", ncclResult_t, ncclSuccess, ncclGetErrorString, statement)

// After every kernel launch: a bad launch configuration shows up here, at the launcher that caused
// it, rather than at some later unrelated call.
#define MOAI_CUDA_CHECK_LAUNCH() MOAI_CUDA_CHECK(cudaGetLastError())
