#include <cuda_runtime.h>

#include <string>
#include <utility>

#include "moai/core/error.h"
#include "moai/ops/cuda/check.h"
#include "moai/ops/cuda/device_state.cuh"
#include "moai/ops/cuda/matmul.cuh"

namespace moai::ops::cuda {

void raise_gpu_error(const char* library, long long code, const char* text, const char* statement,
                     const char* file, int line) {
  throw InternalError(std::string(library) + " error " + std::to_string(code) + " (" +
                      (text ? text : "unknown") + ") in `" + statement + "` at " + file + ":" +
                      std::to_string(line));
}

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error so later checks do not report it
    return 0;
  }
  return count;
}

DeviceInfo device_info(int ordinal) {
  cudaDeviceProp props{};
  MOAI_CUDA_CHECK(cudaGetDeviceProperties(&props, ordinal));
  DeviceInfo info;
  info.ordinal = ordinal;
  info.name = props.name;
  info.compute_major = props.major;
  info.compute_minor = props.minor;
  info.multiprocessors = props.multiProcessorCount;
  info.total_memory_bytes = props.totalGlobalMem;
  info.l2_cache_bytes = static_cast<size_t>(props.l2CacheSize);
  return info;
}

Device::State::~State() {
  // Destructors must not throw: errors here are ignored (the process is tearing the context down).
  matmul_plans.reset();
  if (scratch) cudaFree(scratch);
  if (workspace) cudaFree(workspace);
  if (lt) cublasLtDestroy(lt);
  if (stream) cudaStreamDestroy(stream);
}

Device::Device(int ordinal, size_t workspace_bytes) : state_(std::make_unique<State>()) {
  const int count = device_count();
  if (ordinal < 0 || ordinal >= count) {
    throw_input_error("--device cuda", "GPU " + std::to_string(ordinal) + " requested but " +
                                           std::to_string(count) + " CUDA device(s) are usable");
  }
  MOAI_CUDA_CHECK(cudaSetDevice(ordinal));
  state_->info = device_info(ordinal);
  if (state_->info.compute_major < 8) {
    throw_input_error("--device cuda", state_->info.name + " has compute capability " +
                                           std::to_string(state_->info.compute_major) + "." +
                                           std::to_string(state_->info.compute_minor) +
                                           "; moai's bf16 kernels need 8.0 or newer");
  }
  int smem_optin = 0;
  MOAI_CUDA_CHECK(
      cudaDeviceGetAttribute(&smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, ordinal));
  state_->max_shared_memory_per_block = static_cast<size_t>(smem_optin);
  MOAI_CUDA_CHECK(cudaStreamCreateWithFlags(&state_->stream, cudaStreamNonBlocking));
  MOAI_CUBLAS_CHECK(cublasLtCreate(&state_->lt));
  state_->workspace_bytes = workspace_bytes;
  if (workspace_bytes > 0) MOAI_CUDA_CHECK(cudaMalloc(&state_->workspace, workspace_bytes));
  state_->matmul_plans = std::make_unique<MatmulPlanCache>();
}

Device::~Device() = default;

const DeviceInfo& Device::info() const {
  return state_->info;
}

void Device::synchronize() {
  MOAI_CUDA_CHECK(cudaStreamSynchronize(state_->stream));
}

void* Device::allocate(size_t bytes) {
  if (bytes == 0) return nullptr;
  void* ptr = nullptr;
  const cudaError_t status = cudaMalloc(&ptr, bytes);
  if (status != cudaSuccess) {
    cudaGetLastError();
    size_t free_bytes = 0, total_bytes = 0;
    cudaMemGetInfo(&free_bytes, &total_bytes);
    throw InputError("out of GPU memory on " + state_->info.name + ": asked for " +
                     std::to_string(bytes >> 20) + " MiB with " + std::to_string(free_bytes >> 20) +
                     " MiB free of " + std::to_string(total_bytes >> 20) +
                     " MiB; use a smaller --batch_size or --max_seq_length, or "
                     "--gradient_checkpointing");
  }
  state_->in_use_bytes += bytes;
  if (state_->in_use_bytes > state_->peak_bytes) state_->peak_bytes = state_->in_use_bytes;
  return ptr;
}

void Device::release(void* ptr, size_t bytes) {
  if (!ptr) return;
  cudaFree(ptr);
  state_->in_use_bytes -= bytes;
}

size_t Device::memory_in_use_bytes() const {
  return state_->in_use_bytes;
}
size_t Device::memory_peak_bytes() const {
  return state_->peak_bytes;
}
void Device::reset_memory_peak() {
  state_->peak_bytes = state_->in_use_bytes;
}

void* device_scratch(Device& device, size_t bytes) {
  Device::State& state = device.state();
  if (bytes > state.scratch_bytes) {
    // Grow with headroom so a slightly larger request later does not reallocate again.
    const size_t grown = (bytes + bytes / 4 + 255) / 256 * 256;
    if (state.scratch) device.release(state.scratch, state.scratch_bytes);
    state.scratch = device.allocate(grown);
    state.scratch_bytes = grown;
  }
  return state.scratch;
}

DeviceBuffer::DeviceBuffer(Device& device, size_t bytes)
    : device_(&device), data_(device.allocate(bytes)), bytes_(bytes) {}

DeviceBuffer::~DeviceBuffer() {
  reset();
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : device_(std::exchange(other.device_, nullptr)),
      data_(std::exchange(other.data_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    device_ = std::exchange(other.device_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::reset() {
  if (device_ && data_) device_->release(data_, bytes_);
  data_ = nullptr;
  bytes_ = 0;
}

void DeviceBuffer::upload(const void* host, size_t bytes, size_t offset) {
  MOAI_CHECK(offset + bytes <= bytes_);
  // On the device's stream (a non-blocking stream does not order with the legacy default stream),
  // then wait, so the host buffer may be reused at once.
  cudaStream_t stream = device_->state().stream;
  MOAI_CUDA_CHECK(cudaMemcpyAsync(static_cast<char*>(data_) + offset, host, bytes,
                                  cudaMemcpyHostToDevice, stream));
  MOAI_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void DeviceBuffer::download(void* host, size_t bytes, size_t offset) const {
  MOAI_CHECK(offset + bytes <= bytes_);
  cudaStream_t stream = device_->state().stream;
  MOAI_CUDA_CHECK(cudaMemcpyAsync(host, static_cast<const char*>(data_) + offset, bytes,
                                  cudaMemcpyDeviceToHost, stream));
  MOAI_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void DeviceBuffer::fill_bytes(int value) {
  if (bytes_ == 0) return;
  cudaStream_t stream = device_->state().stream;
  MOAI_CUDA_CHECK(cudaMemsetAsync(data_, value, bytes_, stream));
  MOAI_CUDA_CHECK(cudaStreamSynchronize(stream));
}

}  // namespace moai::ops::cuda
