#pragma once
// GGUF v3 files (llama.cpp's model format): a header, typed metadata key/values, tensor infos, then
// the tensor data, each tensor aligned to general.alignment (32). All integers little-endian.
//
// GgufWriter collects metadata and fp32 tensors, converts each tensor to its storage type (F32,
// F16, BF16) while streaming, and writes the file atomically. GgufFile reads one back (moai uses it
// to test its own exports and to show what a file holds); it checks sizes and offsets and throws
// InputError naming the file.
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "moai/core/mmap_file.h"

namespace moai::infer {

// ggml tensor types moai writes (values are ggml's).
enum class GgmlType : uint32_t { kF32 = 0, kF16 = 1, kBF16 = 30 };
const char* ggml_type_name(GgmlType type);
// "F32" / "F16" / "BF16" (case-insensitive); InputError naming `where` otherwise.
GgmlType ggml_type_from_string(const std::string& name, const std::string& where);

// GGUF metadata value types (the file's codes).
enum class GgufValueType : uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};

// A metadata value as moai uses them: scalars, strings, and arrays of strings / i32 / f32.
using GgufValue = std::variant<uint32_t, int32_t, float, bool, std::string, uint64_t,
                               std::vector<std::string>, std::vector<int32_t>, std::vector<float>>;

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = 32) : alignment_(alignment) {}
  void set(const std::string& key,
           GgufValue value);  // keeps insertion order; a repeated key replaces
  // `shape` is PyTorch order ([out, in]); GGUF stores it reversed. `data` (numel fp32 values) must
  // stay valid until write().
  void add_tensor(const std::string& name, std::vector<int64_t> shape, GgmlType type,
                  const float* data);
  void write(const std::string& path) const;
  size_t tensor_count() const { return tensors_.size(); }

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> shape;
    GgmlType type;
    const float* data;
  };
  uint32_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Tensor> tensors_;
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> ne;  // GGUF order (fastest-varying first)
  uint32_t type = 0;
  uint64_t offset = 0;  // from the start of the data section
  const uint8_t* data = nullptr;
  size_t bytes = 0;
};

class GgufFile {
 public:
  explicit GgufFile(const std::string& path);
  uint32_t version() const { return version_; }
  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const std::map<std::string, GgufValueType>& metadata_types() const { return kv_types_; }
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  // Tensor data converted to fp32 (F32/F16/BF16 only).
  std::vector<float> tensor_f32(const GgufTensorInfo& info) const;

 private:
  MappedFile file_;
  uint32_t version_ = 0;
  std::map<std::string, GgufValue> kv_;
  std::map<std::string, GgufValueType> kv_types_;
  std::vector<GgufTensorInfo> tensors_;
};

// IEEE half <-> float (round to nearest even; overflow to infinity, NaN kept NaN).
uint16_t f32_to_f16(float value);

}  // namespace moai::infer
