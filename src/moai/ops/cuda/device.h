#pragma once
// The CUDA device context: one GPU, one stream, a cuBLASLt handle with its workspace, and a scratch
// area for multi-pass reductions. Every CUDA op takes a Device&, so two models in one process never
// share hidden state. This header includes no CUDA header; the CUDA-side state lives in
// device_state.cuh.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace moai::ops::cuda {

struct DeviceInfo {
  int ordinal = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  int multiprocessors = 0;
  size_t total_memory_bytes = 0;
  size_t l2_cache_bytes = 0;
};

// Number of usable GPUs; 0 when there is no driver, no device, or the runtime fails to start. Never
// throws, so callers can pick a default device ("cuda when a GPU is present").
int device_count();
inline bool available() {
  return device_count() > 0;
}
DeviceInfo device_info(int ordinal);

// Default cuBLASLt workspace: 32 MiB, what NVIDIA recommends for Hopper.
inline constexpr size_t kDefaultWorkspaceBytes = size_t{32} << 20;

class Device {
 public:
  explicit Device(int ordinal = 0, size_t workspace_bytes = kDefaultWorkspaceBytes);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  const DeviceInfo& info() const;
  void synchronize();  // waits for the stream; throws if any queued kernel failed

  // Device memory through this context is counted: in_use/peak say what the model and its scratch
  // took (the figure the benchmarks report), separate from what cuBLAS or NCCL allocate themselves.
  void* allocate(size_t bytes);
  void release(void* ptr, size_t bytes);
  size_t memory_in_use_bytes() const;
  size_t memory_peak_bytes() const;
  void reset_memory_peak();

  struct State;  // CUDA-side handles, defined in device_state.cuh
  State& state() { return *state_; }

 private:
  std::unique_ptr<State> state_;
};

// Owning device allocation (RAII) through a Device, so it is counted. Contents are not initialised.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(Device& device, size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return data_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  size_t bytes() const { return bytes_; }

  void upload(const void* host, size_t bytes, size_t offset = 0);    // synchronous
  void download(void* host, size_t bytes, size_t offset = 0) const;  // synchronous
  void fill_bytes(int value);                                        // synchronous

 private:
  void reset();
  Device* device_ = nullptr;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace moai::ops::cuda
