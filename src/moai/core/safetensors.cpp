#include "moai/core/safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "moai/core/error.h"
#include "moai/core/file_util.h"

namespace moai {
namespace {

// A header larger than this is certainly hostile (real files have a few hundred kB at most).
constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;

uint64_t read_le_u64(const uint8_t* p) {
  uint64_t value = 0;
  for (int byte = 7; byte >= 0; --byte) value = (value << 8) | p[byte];
  return value;
}

std::string describe_shape(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

}  // namespace

size_t safetensors_dtype_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype == "F8_E4M3" || dtype == "F8_E5M2")
    return 1;
  return 0;
}

float bf16_to_f32(uint16_t value) {
  return std::bit_cast<float>(static_cast<uint32_t>(value) << 16);
}

uint16_t f32_to_bf16(float value) {
  uint32_t bits = std::bit_cast<uint32_t>(value);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0)
    return 0x7fc0;                        // NaN stays NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

float f16_to_f32(uint16_t value) {
  const uint32_t sign = (value & 0x8000u) << 16;
  const uint32_t exponent = (value >> 10) & 0x1fu;
  const uint32_t mantissa = value & 0x3ffu;
  if (exponent == 0) {
    // zero or subnormal: mantissa * 2^-24
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

int64_t SafetensorsTensor::numel() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

void SafetensorsTensor::to_f32(float* out, const std::string& where) const {
  const int64_t count = numel();
  if (dtype == "F32") {
    std::memcpy(out, data, static_cast<size_t>(count) * safetensors_dtype_size(dtype));
  } else if (dtype == "BF16") {
    for (int64_t i = 0; i < count; ++i) {
      uint16_t raw;
      std::memcpy(&raw, data + 2 * i, 2);
      out[i] = bf16_to_f32(raw);
    }
  } else if (dtype == "F16") {
    for (int64_t i = 0; i < count; ++i) {
      uint16_t raw;
      std::memcpy(&raw, data + 2 * i, 2);
      out[i] = f16_to_f32(raw);
    }
  } else if (dtype == "F64") {
    for (int64_t i = 0; i < count; ++i) {
      double raw;
      std::memcpy(&raw, data + 8 * i, 8);
      out[i] = static_cast<float>(raw);
    }
  } else {
    throw_input_error(
        where, "tensor \"" + name + "\" has dtype " + dtype + ", expected F32, BF16, F16 or F64");
  }
}

void SafetensorsTensor::to_i64(int64_t* out, const std::string& where) const {
  const int64_t count = numel();
  for (int64_t i = 0; i < count; ++i) {
    if (dtype == "I64") {
      std::memcpy(&out[i], data + 8 * i, 8);
    } else if (dtype == "I32") {
      int32_t raw;
      std::memcpy(&raw, data + 4 * i, 4);
      out[i] = raw;
    } else if (dtype == "I16") {
      int16_t raw;
      std::memcpy(&raw, data + 2 * i, 2);
      out[i] = raw;
    } else if (dtype == "I8") {
      out[i] = int64_t{data[i]} - (data[i] & 0x80 ? 256 : 0);  // two's complement byte
    } else if (dtype == "U8") {
      out[i] = data[i];
    } else {
      throw_input_error(
          where, "tensor \"" + name + "\" has dtype " + dtype + ", expected an integer type");
    }
  }
}

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path), where_(path) {
  parse(file_.bytes());
}

SafetensorsFile::SafetensorsFile(std::span<const uint8_t> bytes, const std::string& where)
    : where_(where) {
  parse(bytes);
}

void SafetensorsFile::parse(std::span<const uint8_t> bytes) {
  if (bytes.size() < 8) {
    throw_input_error(where_, "not a safetensors file: " + std::to_string(bytes.size()) +
                                  " bytes, expected at least an 8-byte header length");
  }
  const uint64_t header_len = read_le_u64(bytes.data());
  if (header_len > kMaxHeaderBytes || header_len > bytes.size() - 8) {
    throw_input_error(where_, "header length " + std::to_string(header_len) + " does not fit the " +
                                  std::to_string(bytes.size()) + "-byte file");
  }
  const char* header_begin = reinterpret_cast<const char*>(bytes.data() + 8);
  const uint8_t* data_begin = bytes.data() + 8 + header_len;
  const uint64_t data_size = bytes.size() - 8 - header_len;

  // Duplicate keys are hostile (which one wins differs between readers): detect them while parsing.
  std::set<std::string> top_keys;
  std::string duplicate;
  nlohmann::json::parser_callback_t on_event = [&](int depth, nlohmann::json::parse_event_t event,
                                                   nlohmann::json& parsed) {
    if (event == nlohmann::json::parse_event_t::key && depth == 1) {
      const std::string key = parsed.get<std::string>();
      if (!top_keys.insert(key).second) duplicate = key;
    }
    return true;
  };
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_begin, header_begin + header_len, on_event);
  } catch (const nlohmann::json::exception& e) {
    throw_input_error(where_, std::string("header is not valid JSON: ") + e.what());
  }
  if (!duplicate.empty())
    throw_input_error(where_, "header names tensor \"" + duplicate + "\" twice");
  if (!header.is_object()) throw_input_error(where_, "header is not a JSON object");

  for (auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw_input_error(where_, "__metadata__ is not an object");
      for (auto& [key, value] : entry.items()) {
        if (!value.is_string())
          throw_input_error(where_, "__metadata__." + key + " is not a string");
        metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string what = "tensor \"" + name + "\"";
    if (!entry.is_object()) throw_input_error(where_, what + " is not an object");
    if (!entry.contains("dtype") || !entry["dtype"].is_string())
      throw_input_error(where_, what + ": missing string \"dtype\"");
    if (!entry.contains("shape") || !entry["shape"].is_array())
      throw_input_error(where_, what + ": missing array \"shape\"");
    if (!entry.contains("data_offsets") || !entry["data_offsets"].is_array() ||
        entry["data_offsets"].size() != 2)
      throw_input_error(where_, what + ": \"data_offsets\" must be [begin, end]");
    SafetensorsTensor tensor;
    tensor.name = name;
    tensor.dtype = entry["dtype"].get<std::string>();
    const size_t element_size = safetensors_dtype_size(tensor.dtype);
    if (element_size == 0)
      throw_input_error(where_, what + ": unknown dtype \"" + tensor.dtype + "\"");
    uint64_t count = 1;
    for (const auto& dim : entry["shape"]) {
      if (!dim.is_number_unsigned())
        throw_input_error(where_, what + ": shape entries must be integers >= 0");
      const uint64_t extent = dim.get<uint64_t>();
      if (extent > 0 && count > std::numeric_limits<uint64_t>::max() / 8 / extent)
        throw_input_error(where_, what + ": shape is too large");
      count *= extent;
      tensor.shape.push_back(static_cast<int64_t>(extent));
    }
    for (const auto& offset : entry["data_offsets"]) {
      if (!offset.is_number_unsigned())
        throw_input_error(where_, what + ": data_offsets must be integers >= 0");
    }
    const uint64_t begin = entry["data_offsets"][0].get<uint64_t>();
    const uint64_t end = entry["data_offsets"][1].get<uint64_t>();
    if (begin > end || end > data_size) {
      throw_input_error(where_, what + ": data_offsets [" + std::to_string(begin) + ", " +
                                    std::to_string(end) + "] outside the " +
                                    std::to_string(data_size) + "-byte data section");
    }
    if (end - begin != count * element_size) {
      throw_input_error(where_, what + ": " + tensor.dtype + " " + describe_shape(tensor.shape) +
                                    " needs " + std::to_string(count * element_size) +
                                    " bytes, data_offsets give " + std::to_string(end - begin));
    }
    tensor.data = data_begin + begin;
    tensor.bytes = end - begin;
    tensors_.push_back(std::move(tensor));
  }
  std::sort(tensors_.begin(), tensors_.end(),
            [](const SafetensorsTensor& a, const SafetensorsTensor& b) { return a.data < b.data; });
  // The data section must be covered exactly: no overlaps (two tensors sharing bytes) and no holes.
  uint64_t expected = 0;
  for (const SafetensorsTensor& tensor : tensors_) {
    const uint64_t begin = static_cast<uint64_t>(tensor.data - data_begin);
    if (begin < expected)
      throw_input_error(where_, "tensor \"" + tensor.name + "\" overlaps the previous tensor");
    if (begin > expected)
      throw_input_error(where_, "hole in the data section before tensor \"" + tensor.name + "\"");
    expected = begin + tensor.bytes;
  }
  if (expected != data_size) {
    throw_input_error(where_, std::to_string(data_size - expected) +
                                  " bytes after the last tensor are not indexed");
  }
  for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

const SafetensorsTensor* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const SafetensorsTensor& SafetensorsFile::get(const std::string& name) const {
  const SafetensorsTensor* tensor = find(name);
  if (!tensor) throw_input_error(where_, "missing tensor \"" + name + "\"");
  return *tensor;
}

void SafetensorsWriter::add(const std::string& name, const std::string& dtype,
                            std::vector<int64_t> shape, const void* data, size_t bytes) {
  MOAI_CHECK(safetensors_dtype_size(dtype) != 0);
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  MOAI_CHECK(static_cast<size_t>(count) * safetensors_dtype_size(dtype) == bytes);
  for (const Entry& entry : entries_) MOAI_CHECK(entry.name != name);
  entries_.push_back(
      {name, dtype, std::move(shape), static_cast<const uint8_t*>(data), bytes, SIZE_MAX});
}

void SafetensorsWriter::add_owned(const std::string& name, const std::string& dtype,
                                  std::vector<int64_t> shape, std::vector<uint8_t> data) {
  const size_t bytes = data.size();
  owned_.push_back(std::move(data));
  add(name, dtype, std::move(shape), nullptr, bytes);
  entries_.back().owned_index = owned_.size() - 1;
}

void SafetensorsWriter::add_f32(const std::string& name, std::vector<int64_t> shape,
                                const float* data) {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  add(name, "F32", std::move(shape), data,
      static_cast<size_t>(count) * safetensors_dtype_size("F32"));
}

size_t SafetensorsWriter::data_bytes() const {
  size_t total = 0;
  for (const Entry& entry : entries_) total += entry.bytes;
  return total;
}

void SafetensorsWriter::write(const std::string& path) const {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata_.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata_) meta[key] = value;
    header["__metadata__"] = meta;
  }
  size_t offset = 0;
  for (const Entry& entry : entries_) {
    header[entry.name] = {{"dtype", entry.dtype},
                          {"shape", entry.shape},
                          {"data_offsets", {offset, offset + entry.bytes}}};
    offset += entry.bytes;
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // align the data section to 8 bytes
  write_file_atomic(path, [&](std::ostream& out) {
    uint8_t length[8];
    uint64_t value = header_text.size();
    for (int byte = 0; byte < 8; ++byte) length[byte] = static_cast<uint8_t>(value >> (8 * byte));
    out.write(reinterpret_cast<const char*>(length), 8);
    out.write(header_text.data(), static_cast<std::streamsize>(header_text.size()));
    for (const Entry& entry : entries_) {
      const uint8_t* data =
          entry.owned_index == SIZE_MAX ? entry.data : owned_[entry.owned_index].data();
      out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(entry.bytes));
    }
  });
}

}  // namespace moai
