#pragma once
// safetensors read/write (https://huggingface.co/docs/safetensors format): 8-byte little-endian
// header length N, N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]},
// "__metadata__": {...}}, then the raw little-endian data. The reader memory-maps the file and
// checks everything a hostile file could get wrong (header length, JSON, dtype names, shape
// products vs byte ranges, ranges inside the data, overlaps, duplicates) and throws InputError
// naming the file and the tensor.
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "moai/core/mmap_file.h"

namespace moai {

// Size in bytes of a safetensors dtype name ("F32" -> 4, "BF16" -> 2, ...); 0 for an unknown name.
size_t safetensors_dtype_size(const std::string& dtype);

struct SafetensorsTensor {
  std::string name;
  std::string dtype;  // "F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"
  std::vector<int64_t> shape;  // [] is a scalar (one element)
  const uint8_t* data = nullptr;
  size_t bytes = 0;

  int64_t numel() const;
  // Converts F32/F16/BF16/F64 to fp32 (out has numel() floats); InputError for other dtypes.
  void to_f32(float* out, const std::string& where) const;
  // Converts I64/I32/I16/I8/U8 to int64 (out has numel()); InputError for other dtypes.
  void to_i64(int64_t* out, const std::string& where) const;
};

class SafetensorsFile {
 public:
  // Maps and validates the file. InputError on any malformed content.
  explicit SafetensorsFile(const std::string& path);
  // Validates an in-memory image (tests, fuzzing). `bytes` must outlive the object.
  SafetensorsFile(std::span<const uint8_t> bytes, const std::string& where);

  const std::string& path() const { return where_; }
  const std::vector<SafetensorsTensor>& tensors() const {
    return tensors_;
  }  // sorted by data offset
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafetensorsTensor* find(const std::string& name) const;
  const SafetensorsTensor& get(const std::string& name) const;  // InputError naming file and tensor

 private:
  void parse(std::span<const uint8_t> bytes);
  MappedFile file_;
  std::string where_;
  std::vector<SafetensorsTensor> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Collects tensors and writes one file atomically. Data pointers given to add() must stay valid
// until write(); add_owned() copies.
class SafetensorsWriter {
 public:
  void add(const std::string& name, const std::string& dtype, std::vector<int64_t> shape,
           const void* data, size_t bytes);
  void add_owned(const std::string& name, const std::string& dtype, std::vector<int64_t> shape,
                 std::vector<uint8_t> data);
  void add_f32(const std::string& name, std::vector<int64_t> shape, const float* data);
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  size_t data_bytes() const;
  void write(const std::string& path) const;

 private:
  struct Entry {
    std::string name;
    std::string dtype;
    std::vector<int64_t> shape;
    const uint8_t* data;
    size_t bytes;
    size_t owned_index;  // SIZE_MAX when not owned
  };
  std::vector<Entry> entries_;
  std::vector<std::vector<uint8_t>> owned_;
  std::map<std::string, std::string> metadata_;
};

// bf16 / fp16 <-> fp32 (round to nearest even for the narrowing direction).
float bf16_to_f32(uint16_t value);
uint16_t f32_to_bf16(float value);
float f16_to_f32(uint16_t value);

}  // namespace moai
