#pragma once
// Non-owning views of tensors and the element types moai moves between files and devices.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace moai::ops {

enum class DeviceKind { kCpu, kCuda };

// Element types. Values are stable (they may be serialised); add new ones at the end.
enum class DType { kF32 = 0, kF16 = 1, kBF16 = 2, kF64 = 3, kI32 = 4, kI64 = 5, kU8 = 6 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "F32", "BF16", ... (safetensors spelling)

inline constexpr int kMaxRank = 4;

// A view of memory owned by somebody else: a name for messages, an element type, a row-major shape
// and a pointer that lives on `device`. Rank 0 is a scalar (numel 1).
struct TensorView {
  std::string_view name;
  DType dtype = DType::kF32;
  int rank = 0;
  std::array<int64_t, kMaxRank> shape{};
  void* data = nullptr;
  DeviceKind device = DeviceKind::kCpu;

  int64_t numel() const {
    int64_t count = 1;
    for (int dim = 0; dim < rank; ++dim) count *= shape[dim];
    return count;
  }
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  float* f32() const { return static_cast<float*>(data); }
  std::string shape_string() const;  // "[4, 256]"
};

}  // namespace moai::ops
