// Thrift compact protocol decoding of the Parquet footer and page headers.
#include "moai/data/parquet_meta.h"

#include "moai/core/error.h"

namespace moai::data::parquet {
namespace {

enum CompactType : uint8_t {
  kStop = 0,
  kTrue = 1,
  kFalse = 2,
  kByte = 3,
  kI16 = 4,
  kI32 = 5,
  kI64 = 6,
  kDouble = 7,
  kBinary = 8,
  kList = 9,
  kSet = 10,
  kMap = 11,
  kStruct = 12
};

constexpr int kMaxDepth = 32;  // nesting of structs/containers in metadata

[[noreturn]] void fail(const std::string& what) {
  throw InputError("corrupt metadata: " + what);
}

// A cursor over compact-protocol bytes. Every read is bounds-checked.
class Compact {
 public:
  explicit Compact(std::string_view bytes) : data_(bytes) {}
  size_t position() const { return pos_; }

  uint8_t byte() {
    if (pos_ >= data_.size()) fail("unexpected end of data");
    return static_cast<uint8_t>(data_[pos_++]);
  }
  uint64_t varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = byte();
      value |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return value;
    }
    fail("varint longer than 10 bytes");
  }
  int64_t zigzag() {
    uint64_t v = varint();
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  }
  int32_t i32() {
    int64_t v = zigzag();
    if (v < INT32_MIN || v > INT32_MAX) fail("i32 out of range");
    return static_cast<int32_t>(v);
  }
  std::string_view binary() {
    uint64_t size = varint();
    if (size > data_.size() - pos_)
      fail("string of " + std::to_string(size) + " bytes past the end");
    std::string_view out = data_.substr(pos_, size);
    pos_ += size;
    return out;
  }
  // Reads a field header; returns false at the struct's stop byte.
  bool field(int16_t& last_id, int16_t& id, uint8_t& type) {
    uint8_t b = byte();
    if (b == kStop) return false;
    type = b & 0x0f;
    int delta = b >> 4;
    if (delta) {
      id = static_cast<int16_t>(last_id + delta);
    } else {
      int64_t v = zigzag();
      if (v < INT16_MIN || v > INT16_MAX) fail("field id out of range");
      id = static_cast<int16_t>(v);
    }
    last_id = id;
    return true;
  }
  // A list/set header: element type and count (checked against the bytes left: each element takes
  // at least one byte, except booleans-as-... which also take one in lists).
  uint64_t list(uint8_t& elem_type) {
    uint8_t b = byte();
    elem_type = b & 0x0f;
    uint64_t size = b >> 4;
    if (size == 15) size = varint();
    if (size > data_.size() - pos_)
      fail("list of " + std::to_string(size) + " elements past the end");
    return size;
  }
  void skip(uint8_t type, int depth = 0) {
    if (depth > kMaxDepth) fail("nesting too deep");
    switch (type) {
      case kTrue:
      case kFalse:
        return;
      case kByte:
        byte();
        return;
      case kI16:
      case kI32:
      case kI64:
        varint();
        return;
      case kDouble:
        if (data_.size() - pos_ < 8) fail("unexpected end of data");
        pos_ += 8;
        return;
      case kBinary:
        binary();
        return;
      case kList:
      case kSet: {
        uint8_t elem;
        uint64_t n = list(elem);
        for (uint64_t i = 0; i < n; ++i) skip_element(elem, depth + 1);
        return;
      }
      case kMap: {
        uint64_t n = varint();
        if (n == 0) return;
        if (n > data_.size() - pos_) fail("map past the end");
        uint8_t kv = byte();
        for (uint64_t i = 0; i < n; ++i) {
          skip_element(kv >> 4, depth + 1);
          skip_element(kv & 0x0f, depth + 1);
        }
        return;
      }
      case kStruct: {
        int16_t last = 0, id;
        uint8_t t;
        while (field(last, id, t)) skip(t, depth + 1);
        return;
      }
      default:
        fail("unknown compact type " + std::to_string(type));
    }
  }
  // Booleans inside containers take one byte.
  void skip_element(uint8_t type, int depth) {
    if (type == kTrue || type == kFalse) {
      byte();
      return;
    }
    skip(type, depth);
  }
  bool boolean(uint8_t type) {
    if (type == kTrue) return true;
    if (type == kFalse) return false;
    fail("expected a boolean");
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

// Calls on_field(id, type) for each field of a struct; on_field returns false to have it skipped.
template <typename Fn>
void read_struct(Compact& in, Fn&& on_field) {
  int16_t last = 0, id;
  uint8_t type;
  while (in.field(last, id, type)) {
    if (!on_field(id, type)) in.skip(type);
  }
}

template <typename Fn>
void read_list(Compact& in, uint8_t type, uint8_t want, Fn&& on_element) {
  if (type != kList) fail("expected a list");
  uint8_t elem;
  uint64_t n = in.list(elem);
  if (elem != want) fail("unexpected list element type");
  for (uint64_t i = 0; i < n; ++i) on_element();
}

int32_t expect_i32(Compact& in, uint8_t type) {
  if (type != kI32) fail("expected an i32 field");
  return in.i32();
}
int64_t expect_i64(Compact& in, uint8_t type) {
  if (type != kI64 && type != kI32) fail("expected an i64 field");
  return in.zigzag();
}

template <typename E>
E enum_in_range(int32_t v, int32_t max, const char* what) {
  if (v < 0 || v > max) fail(std::string("unknown ") + what + " " + std::to_string(v));
  return static_cast<E>(v);
}

Annotation from_converted(int32_t v) {
  switch (v) {
    case 0:   // UTF8
    case 4:   // ENUM
    case 19:  // JSON
      return Annotation::kString;
    case 1:  // MAP
    case 2:  // MAP_KEY_VALUE
      return Annotation::kMap;
    case 3:
      return Annotation::kList;
    default:
      return Annotation::kOther;
  }
}

Annotation read_logical_type(Compact& in, uint8_t type) {
  if (type != kStruct) fail("expected a LogicalType struct");
  Annotation out = Annotation::kOther;
  read_struct(in, [&](int16_t id, uint8_t t) {
    if (id == 1 || id == 4 || id == 12) out = Annotation::kString;  // STRING, ENUM, JSON
    if (id == 2) out = Annotation::kMap;
    if (id == 3) out = Annotation::kList;
    return false;
  });
  return out;
}

SchemaElement read_schema_element(Compact& in) {
  SchemaElement e;
  bool has_logical = false;
  read_struct(in, [&](int16_t id, uint8_t t) {
    switch (id) {
      case 1:
        e.has_type = true;
        e.type = enum_in_range<PhysicalType>(expect_i32(in, t), 7, "physical type");
        return true;
      case 2:
        e.type_length = expect_i32(in, t);
        return true;
      case 3:
        e.repetition = enum_in_range<Repetition>(expect_i32(in, t), 2, "repetition type");
        return true;
      case 4:
        if (t != kBinary) fail("schema name is not a string");
        e.name = std::string(in.binary());
        return true;
      case 5:
        e.num_children = expect_i32(in, t);
        return true;
      case 6:
        if (!has_logical)
          e.annotation = from_converted(expect_i32(in, t));
        else
          expect_i32(in, t);
        return true;
      case 10:
        e.annotation = read_logical_type(in, t);
        has_logical = true;
        return true;
      default:
        return false;
    }
  });
  return e;
}

ColumnMeta read_column_meta(Compact& in) {
  ColumnMeta m;
  read_struct(in, [&](int16_t id, uint8_t t) {
    switch (id) {
      case 1:
        m.type = enum_in_range<PhysicalType>(expect_i32(in, t), 7, "physical type");
        return true;
      case 3:
        read_list(in, t, kBinary, [&] { m.path.emplace_back(in.binary()); });
        return true;
      case 4:
        m.codec = enum_in_range<Codec>(expect_i32(in, t), 7, "compression codec");
        return true;
      case 5:
        m.num_values = expect_i64(in, t);
        return true;
      case 7:
        m.total_compressed_size = expect_i64(in, t);
        return true;
      case 9:
        m.data_page_offset = expect_i64(in, t);
        return true;
      case 11:
        m.dictionary_page_offset = expect_i64(in, t);
        return true;
      default:
        return false;
    }
  });
  return m;
}

ColumnMeta read_column_chunk(Compact& in) {
  ColumnMeta m;
  bool has_meta = false;
  read_struct(in, [&](int16_t id, uint8_t t) {
    if (id == 1) fail("column chunk in another file (file_path) is not supported");
    if (id != 3) return false;
    if (t != kStruct) fail("expected ColumnMetaData");
    m = read_column_meta(in);
    has_meta = true;
    return true;
  });
  if (!has_meta) fail("column chunk without metadata");
  return m;
}

RowGroup read_row_group(Compact& in) {
  RowGroup g;
  read_struct(in, [&](int16_t id, uint8_t t) {
    if (id == 1) {
      read_list(in, t, kStruct, [&] { g.columns.push_back(read_column_chunk(in)); });
      return true;
    }
    if (id == 3) {
      g.num_rows = expect_i64(in, t);
      return true;
    }
    return false;
  });
  return g;
}

}  // namespace

FileMetaData parse_file_metadata(std::string_view bytes) {
  Compact in(bytes);
  FileMetaData meta;
  read_struct(in, [&](int16_t id, uint8_t t) {
    switch (id) {
      case 2:
        read_list(in, t, kStruct, [&] { meta.schema.push_back(read_schema_element(in)); });
        return true;
      case 3:
        meta.num_rows = expect_i64(in, t);
        return true;
      case 4:
        read_list(in, t, kStruct, [&] { meta.row_groups.push_back(read_row_group(in)); });
        return true;
      case 6:
        if (t != kBinary) fail("created_by is not a string");
        meta.created_by = std::string(in.binary());
        return true;
      default:
        return false;
    }
  });
  return meta;
}

PageHeader parse_page_header(std::string_view bytes, size_t& header_size) {
  Compact in(bytes);
  PageHeader h;
  auto encoding = [&](uint8_t t) {
    return enum_in_range<Encoding>(expect_i32(in, t), 9, "encoding");
  };
  read_struct(in, [&](int16_t id, uint8_t t) {
    switch (id) {
      case 1:
        h.type = enum_in_range<PageType>(expect_i32(in, t), 3, "page type");
        return true;
      case 2:
        h.uncompressed_size = expect_i32(in, t);
        return true;
      case 3:
        h.compressed_size = expect_i32(in, t);
        return true;
      case 5:  // DataPageHeader
      case 7:  // DictionaryPageHeader
        if (t != kStruct) fail("expected a page header struct");
        read_struct(in, [&](int16_t sub, uint8_t st) {
          if (sub == 1)
            h.num_values = expect_i32(in, st);
          else if (sub == 2)
            h.encoding = encoding(st);
          else if (sub == 3 && id == 5)
            h.def_encoding = encoding(st);
          else if (sub == 4 && id == 5)
            h.rep_encoding = encoding(st);
          else
            return false;
          return true;
        });
        return true;
      case 8:  // DataPageHeaderV2
        if (t != kStruct) fail("expected a page header struct");
        read_struct(in, [&](int16_t sub, uint8_t st) {
          switch (sub) {
            case 1:
              h.num_values = expect_i32(in, st);
              return true;
            case 2:
              h.num_nulls = expect_i32(in, st);
              return true;
            case 3:
              h.num_rows = expect_i32(in, st);
              return true;
            case 4:
              h.encoding = encoding(st);
              return true;
            case 5:
              h.def_levels_bytes = expect_i32(in, st);
              return true;
            case 6:
              h.rep_levels_bytes = expect_i32(in, st);
              return true;
            case 7:
              h.is_compressed = in.boolean(st);
              return true;
            default:
              return false;
          }
        });
        return true;
      default:
        return false;
    }
  });
  if (h.uncompressed_size < 0 || h.compressed_size < 0 || h.num_values < 0 ||
      h.def_levels_bytes < 0 || h.rep_levels_bytes < 0) {
    fail("negative size in page header");
  }
  header_size = in.position();
  return h;
}

const char* codec_name(Codec codec) {
  static const char* names[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO",
                                "BROTLI",       "LZ4",    "ZSTD", "LZ4_RAW"};
  return names[static_cast<int>(codec)];
}

const char* encoding_name(Encoding encoding) {
  static const char* names[] = {
      "PLAIN",          "GROUP_VAR_INT",       "PLAIN_DICTIONARY",        "RLE",
      "BIT_PACKED",     "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY",
      "RLE_DICTIONARY", "BYTE_STREAM_SPLIT"};
  return names[static_cast<int>(encoding)];
}

}  // namespace moai::data::parquet
