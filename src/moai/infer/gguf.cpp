#include "moai/infer/gguf.h"

#include <algorithm>
#include <cstring>
#include <ostream>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/safetensors.h"
#include "moai/ops/tensor.h"

namespace moai::infer {

const char* ggml_type_name(GgmlType type) {
  switch (type) {
    case GgmlType::kF32:
      return "F32";
    case GgmlType::kF16:
      return "F16";
    case GgmlType::kBF16:
      return "BF16";
  }
  return "?";
}

GgmlType ggml_type_from_string(const std::string& name, const std::string& where) {
  std::string upper = name;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  if (upper == "F32") return GgmlType::kF32;
  if (upper == "F16") return GgmlType::kF16;
  if (upper == "BF16") return GgmlType::kBF16;
  throw_input_error(where, "unknown tensor type '" + name + "' (expected F32, F16 or BF16)");
}

uint16_t f32_to_f16(float value) {
  uint32_t x;
  std::memcpy(&x, &value, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u)
    return static_cast<uint16_t>(sign | 0x7C00u | (abs > 0x7F800000u ? 0x200u : 0u));
  if (abs >= 0x477FF000u)
    return static_cast<uint16_t>(sign | 0x7C00u);  // rounds to >= 65520: infinity
  if (abs < 0x38800000u) {
    // Subnormal half (or zero): value = m * 2^-24; shift the full mantissa with
    // round-to-nearest-even.
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);  // below half the smallest subnormal
    const uint32_t exp = abs >> 23;
    const uint32_t mant = (abs & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift =
        126 - exp;  // 14 + (113 - exp) - 1 ... so that the result is mant >> (126 - exp)
    uint32_t half = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = ((abs - 0x38000000u) >> 13);  // rebias exponent 127 -> 15
  const uint32_t rem = abs & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) ++half;
  return static_cast<uint16_t>(sign | half);
}

namespace {

size_t type_size(uint32_t type) {
  switch (type) {
    case 0:
      return 4;
    case 1:   // F16
    case 30:  // BF16
      return 2;
    default:
      return 0;
  }
}

class Out {
 public:
  explicit Out(std::ostream& os) : os_(os) {}
  template <typename T>
  void pod(T v) {
    os_.write(reinterpret_cast<const char*>(&v), sizeof(T));
    written_ += sizeof(T);
  }
  void str(const std::string& s) {
    pod<uint64_t>(s.size());
    os_.write(s.data(), static_cast<std::streamsize>(s.size()));
    written_ += s.size();
  }
  void bytes(const void* p, size_t n) {
    os_.write(static_cast<const char*>(p), static_cast<std::streamsize>(n));
    written_ += n;
  }
  void pad_to(uint64_t alignment) {
    static const char zeros[64] = {};
    const uint64_t pad = (alignment - written_ % alignment) % alignment;
    bytes(zeros, pad);
  }
  uint64_t written() const { return written_; }

 private:
  std::ostream& os_;
  uint64_t written_ = 0;
};

void write_value(Out& out, const GgufValue& value) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, uint32_t>) {
          out.pod<uint32_t>(static_cast<uint32_t>(GgufValueType::kU32));
          out.pod(v);
        } else if constexpr (std::is_same_v<T, int32_t>) {
          out.pod<uint32_t>(static_cast<uint32_t>(GgufValueType::kI32));
          out.pod(v);
        } else if constexpr (std::is_same_v<T, float>) {
          out.pod<uint32_t>(static_cast<uint32_t>(GgufValueType::kF32));
          out.pod(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          out.pod<uint32_t>(static_cast<uint32_t>(GgufValueType::kBool));
          out.pod<uint8_t>(v ? 1 : 0);
        } else if constexpr (std::is_same_v<T, std::string>) {
          out.pod<uint32_t>(static_cast<uint32_t>(GgufValueType::kString));
          out.str(v);
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          out.pod<uint32_t>(static_cast<uint32_t>(GgufValueType::kU64));
          out.pod(v);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          out.pod<uint32_t>(static_cast<uint32_t>(GgufValueType::kArray));
          out.pod<uint32_t>(static_cast<uint32_t>(GgufValueType::kString));
          out.pod<uint64_t>(v.size());
          for (const auto& s : v) out.str(s);
        } else if constexpr (std::is_same_v<T, std::vector<int32_t>>) {
          out.pod<uint32_t>(static_cast<uint32_t>(GgufValueType::kArray));
          out.pod<uint32_t>(static_cast<uint32_t>(GgufValueType::kI32));
          out.pod<uint64_t>(v.size());
          out.bytes(v.data(), v.size() * sizeof(v[0]));
        } else if constexpr (std::is_same_v<T, std::vector<float>>) {
          out.pod<uint32_t>(static_cast<uint32_t>(GgufValueType::kArray));
          out.pod<uint32_t>(static_cast<uint32_t>(GgufValueType::kF32));
          out.pod<uint64_t>(v.size());
          out.bytes(v.data(), v.size() * sizeof(v[0]));
        }
      },
      value);
}

uint64_t numel(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue value) {
  for (auto& [k, v] : kv_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  kv_.emplace_back(key, std::move(value));
}

void GgufWriter::add_tensor(const std::string& name, std::vector<int64_t> shape, GgmlType type,
                            const float* data) {
  MOAI_CHECK(!shape.empty() && data != nullptr);
  tensors_.push_back({name, std::move(shape), type, data});
}

void GgufWriter::write(const std::string& path) const {
  write_file_atomic(path, [&](std::ostream& os) {
    Out out(os);
    out.bytes("GGUF", 4);
    out.pod<uint32_t>(3);
    out.pod<uint64_t>(tensors_.size());
    out.pod<uint64_t>(kv_.size());
    for (const auto& [key, value] : kv_) {
      out.str(key);
      write_value(out, value);
    }
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
      out.str(t.name);
      out.pod<uint32_t>(static_cast<uint32_t>(t.shape.size()));
      for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it)
        out.pod<uint64_t>(static_cast<uint64_t>(*it));
      out.pod<uint32_t>(static_cast<uint32_t>(t.type));
      out.pod<uint64_t>(offset);
      const uint64_t bytes = numel(t.shape) * type_size(static_cast<uint32_t>(t.type));
      offset += (bytes + alignment_ - 1) / alignment_ * alignment_;
    }
    out.pad_to(alignment_);
    std::vector<uint16_t> buf;
    for (const auto& t : tensors_) {
      const uint64_t n = numel(t.shape);
      if (t.type == GgmlType::kF32) {
        out.bytes(t.data, ops::byte_size(ops::DType::kF32, int64_t(n)));
      } else {
        constexpr uint64_t kChunk = 1 << 16;  // convert in slices: no copy of the whole tensor
        for (uint64_t i = 0; i < n; i += kChunk) {
          const uint64_t m = std::min(kChunk, n - i);
          buf.resize(m);
          for (uint64_t j = 0; j < m; ++j)
            buf[j] =
                t.type == GgmlType::kF16 ? f32_to_f16(t.data[i + j]) : f32_to_bf16(t.data[i + j]);
          out.bytes(buf.data(), m * 2);
        }
      }
      out.pad_to(alignment_);
    }
  });
}

namespace {

class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& path)
      : p_(data), size_(size), path_(path) {}
  template <typename T>
  T pod(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    const uint64_t n = pod<uint64_t>(what);
    need(n, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n;
    return s;
  }
  void need(uint64_t n, const char* what) const {
    if (n > size_ - pos_)
      throw_input_error(path_, std::string("truncated GGUF file while reading ") + what);
  }
  void skip(uint64_t n, const char* what) {
    need(n, what);
    pos_ += n;
  }
  // Checks that `count` items of at least `min_bytes` each can still follow, before anything is
  // allocated for them (counts come from the file and may be anything).
  void need_items(uint64_t count, uint64_t min_bytes, const char* what) const {
    if (count > (size_ - pos_) / min_bytes)
      throw_input_error(path_, std::string("truncated GGUF file: ") + std::to_string(count) + " " +
                                   what + " cannot fit in the " + std::to_string(size_ - pos_) +
                                   " bytes left");
  }
  size_t pos() const { return pos_; }

 private:
  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& path_;
};

size_t scalar_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::kU8:
    case GgufValueType::kI8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kU16:
    case GgufValueType::kI16:
      return 2;
    case GgufValueType::kU32:
    case GgufValueType::kI32:
    case GgufValueType::kF32:
      return 4;
    case GgufValueType::kU64:
    case GgufValueType::kI64:
    case GgufValueType::kF64:
      return 8;
    default:
      return 0;
  }
}

}  // namespace

GgufFile::GgufFile(const std::string& path) : file_(path) {
  Reader r(file_.data(), file_.size(), path);
  const uint32_t magic = r.pod<uint32_t>("magic");
  if (std::memcmp(&magic, "GGUF", 4) != 0) throw_input_error(path, "not a GGUF file (bad magic)");
  version_ = r.pod<uint32_t>("version");
  if (version_ != 3)
    throw_input_error(path, "GGUF version " + std::to_string(version_) + " (expected 3)");
  const uint64_t n_tensors = r.pod<uint64_t>("tensor count");
  const uint64_t n_kv = r.pod<uint64_t>("metadata count");
  r.need_items(n_kv, 12, "metadata entries");  // key length + type, at least
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string key = r.str("metadata key");
    const auto type = static_cast<GgufValueType>(r.pod<uint32_t>("metadata type"));
    kv_types_[key] = type;
    switch (type) {
      case GgufValueType::kU32:
        kv_[key] = r.pod<uint32_t>("u32");
        break;
      case GgufValueType::kI32:
        kv_[key] = r.pod<int32_t>("i32");
        break;
      case GgufValueType::kF32:
        kv_[key] = r.pod<float>("f32");
        break;
      case GgufValueType::kBool:
        kv_[key] = r.pod<uint8_t>("bool") != 0;
        break;
      case GgufValueType::kU64:
        kv_[key] = r.pod<uint64_t>("u64");
        break;
      case GgufValueType::kString:
        kv_[key] = r.str("string");
        break;
      case GgufValueType::kArray: {
        const auto elem = static_cast<GgufValueType>(r.pod<uint32_t>("array type"));
        const uint64_t n = r.pod<uint64_t>("array length");
        const size_t elem_size = elem == GgufValueType::kString ? 8 : scalar_size(elem);
        if (elem_size == 0) throw_input_error(path, key + ": unsupported array element type");
        r.need_items(n, elem_size, "array elements");
        if (elem == GgufValueType::kString) {
          std::vector<std::string> v;
          for (uint64_t j = 0; j < n; ++j) v.push_back(r.str("array string"));
          kv_[key] = std::move(v);
        } else if (elem == GgufValueType::kI32) {
          std::vector<int32_t> v(n);
          for (auto& x : v) x = r.pod<int32_t>("array i32");
          kv_[key] = std::move(v);
        } else if (elem == GgufValueType::kF32) {
          std::vector<float> v(n);
          for (auto& x : v) x = r.pod<float>("array f32");
          kv_[key] = std::move(v);
        } else {
          r.skip(n * elem_size, "array");  // need_items bounded n * elem_size by the file size
        }
        break;
      }
      default: {
        const size_t sz = scalar_size(type);
        if (sz == 0)
          throw_input_error(path,
                            key + ": unknown metadata type " + std::to_string(uint32_t(type)));
        r.skip(sz, "scalar");
      }
    }
  }
  r.need_items(n_tensors, 32, "tensor infos");  // name length, rank, one dim, type, offset
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = r.str("tensor name");
    const uint32_t dims = r.pod<uint32_t>("tensor rank");
    if (dims == 0 || dims > 4)
      throw_input_error(path, t.name + ": tensor rank " + std::to_string(dims));
    for (uint32_t d = 0; d < dims; ++d)
      t.ne.push_back(static_cast<int64_t>(r.pod<uint64_t>("tensor dim")));
    t.type = r.pod<uint32_t>("tensor type");
    t.offset = r.pod<uint64_t>("tensor offset");
    tensors_.push_back(std::move(t));
  }
  uint32_t alignment = 32;
  if (auto it = kv_.find("general.alignment");
      it != kv_.end() && std::holds_alternative<uint32_t>(it->second))
    alignment = std::get<uint32_t>(it->second);
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > (1u << 20))
    throw_input_error(path, "general.alignment " + std::to_string(alignment) +
                                " (expected a power of two up to 1 MiB)");
  const uint64_t data_start = (r.pos() + alignment - 1) / alignment * alignment;
  for (auto& t : tensors_) {
    // Every product and sum is checked: dimensions, offsets and sizes come from the file.
    uint64_t n = 1;
    for (int64_t d : t.ne)
      if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n))
        throw_input_error(path, t.name + ": tensor dimensions overflow");
    uint64_t bytes = 0, end = 0;
    if (__builtin_mul_overflow(n, uint64_t(type_size(t.type)), &bytes) ||
        __builtin_add_overflow(data_start, t.offset, &end) ||
        __builtin_add_overflow(end, bytes, &end) || end > file_.size())
      throw_input_error(path, t.name + ": tensor data runs past the end of the file");
    t.bytes = bytes;
    t.data = file_.data() + data_start + t.offset;
  }
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  for (const auto& t : tensors_)
    if (t.name == name) return &t;
  return nullptr;
}

std::vector<float> GgufFile::tensor_f32(const GgufTensorInfo& info) const {
  const size_t n = info.bytes / std::max<size_t>(1, type_size(info.type));
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (info.type == 0) {
      std::memcpy(&out[i], info.data + 4 * i, 4);
    } else {
      uint16_t h;
      std::memcpy(&h, info.data + 2 * i, 2);
      out[i] = info.type == 1 ? f16_to_f32(h) : bf16_to_f32(h);
    }
  }
  if (type_size(info.type) == 0)
    throw_input_error(file_.path(), info.name + ": unsupported tensor type");
  return out;
}

}  // namespace moai::infer
