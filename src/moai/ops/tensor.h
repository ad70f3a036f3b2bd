#pragma once
// Non-owning views of tensors and the element types moai moves between files and devices.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>

namespace moai::ops {

enum class DeviceKind { kCpu, kCuda };

// Element types. Values are stable (they may be serialised); add new ones at the end.
enum class DType { kF32 = 0, kF16 = 1, kBF16 = 2, kF64 = 3, kI32 = 4, kI64 = 5, kU8 = 6 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "F32", "BF16", ... (safetensors spelling)
// Bytes of `count` elements of `dtype`.
inline size_t byte_size(DType dtype, int64_t count) {
  return size_t(count) * dtype_size(dtype);
}

// bfloat16 storage: the upper 16 bits of an IEEE fp32 (1 sign, 8 exponent, 7 mantissa bits). A
// struct (not uint16_t) so that views and overloads can tell it apart from integers. The one bf16
// type of moai (ops/cpu/bf16.h adds the vectorised array conversions).
struct BFloat16 {
  uint16_t bits = 0;
};
static_assert(sizeof(BFloat16) == 2);

// fp32 -> bf16: round to nearest even (as PyTorch's .to(torch.bfloat16)); NaN stays NaN (quietened,
// sign and top payload kept); fp32 subnormals become a signed zero. The last rule is what
// AVX512-BF16's vcvtne2ps2bf16 does; every conversion in moai (scalar, vectorised, portable)
// follows it, so every path produces identical bits.
inline BFloat16 to_bf16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  const uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return BFloat16{uint16_t((bits >> 16) | 0x40u)};    // NaN, quiet
  if (magnitude < 0x00800000u) return BFloat16{uint16_t((bits >> 16) & 0x8000u)};  // 0, subnormal
  bits += 0x7fffu + ((bits >> 16) & 1u);                                           // ties to even
  return BFloat16{uint16_t(bits >> 16)};
}
inline float to_f32(BFloat16 value) {
  const uint32_t bits = uint32_t(value.bits) << 16;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}
// fp32 rounded to bf16 and back: the value a bf16 tensor would hold.
inline float round_to_bf16(float value) {
  return to_f32(to_bf16(value));
}

template <class T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::kF32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::kF64;
}
template <>
constexpr DType dtype_of<BFloat16>() {
  return DType::kBF16;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::kI32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::kI64;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::kU8;
}

inline constexpr int kMaxRank = 4;

// A view of memory owned by somebody else: a name for messages, an element type, a row-major shape
// and a pointer that lives on `device`. Rank 0 is a scalar (numel 1). A view whose data is null is
// "absent" (optional arguments of the ops).
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
  bool present() const { return data != nullptr; }
  int64_t dim(int index) const { return shape[size_t(index)]; }
  // The data as T*; throws InternalError when T is not the view's dtype.
  template <class T>
  T* as() const {
    check_dtype(dtype_of<T>());
    return static_cast<T*>(data);
  }
  float* f32() const { return as<float>(); }
  // The same memory with another shape of the same element count (InternalError otherwise).
  TensorView reshaped(std::initializer_list<int64_t> dims) const;
  std::string shape_string() const;  // "[4, 256]"
  std::string describe() const;      // "name F32 [4, 256]"

 private:
  void check_dtype(DType expected) const;
};

// An untyped device buffer with an element type: what the model's arena and parameter buffers hold.
// view() gives it a shape.
struct Buffer {
  void* data = nullptr;
  DType dtype = DType::kF32;
  TensorView view(std::initializer_list<int64_t> dims, std::string_view name = {}) const;
  // The buffer `count` elements further on.
  Buffer offset(int64_t count) const {
    return {static_cast<char*>(data) + size_t(count) * dtype_size(dtype), dtype};
  }
};

// A view of typed memory: view(ptr, {rows, cols}) takes its dtype from the pointer type.
TensorView make_view(void* data, DType dtype, std::initializer_list<int64_t> dims,
                     std::string_view name = {});
template <class T>
TensorView view(const T* data, std::initializer_list<int64_t> dims, std::string_view name = {}) {
  return make_view(const_cast<T*>(data), dtype_of<T>(), dims, name);
}
// An absent optional argument of dtype T.
template <class T>
TensorView absent() {
  TensorView out;
  out.dtype = dtype_of<T>();
  return out;
}

}  // namespace moai::ops
