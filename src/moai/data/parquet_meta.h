#pragma once
// Parquet file metadata as moai needs it, decoded from the Thrift compact protocol (the footer's
// FileMetaData and each page's PageHeader). Only the fields the reader uses are kept; every other
// field is skipped by type. Decoding works on a byte span and never reads past it: a truncated or
// malformed structure throws InputError (the caller adds the file name and location).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moai::data::parquet {

enum class PhysicalType {
  kBoolean = 0,
  kInt32 = 1,
  kInt64 = 2,
  kInt96 = 3,
  kFloat = 4,
  kDouble = 5,
  kByteArray = 6,
  kFixedLenByteArray = 7
};
enum class Repetition { kRequired = 0, kOptional = 1, kRepeated = 2 };
// The annotations the reader acts on (from ConvertedType or LogicalType); kOther for the rest.
enum class Annotation { kNone, kString, kList, kMap, kOther };

enum class Codec {
  kUncompressed = 0,
  kSnappy = 1,
  kGzip = 2,
  kLzo = 3,
  kBrotli = 4,
  kLz4 = 5,
  kZstd = 6,
  kLz4Raw = 7
};
enum class Encoding {
  kPlain = 0,
  kPlainDictionary = 2,
  kRle = 3,
  kBitPacked = 4,
  kDeltaBinaryPacked = 5,
  kDeltaLengthByteArray = 6,
  kDeltaByteArray = 7,
  kRleDictionary = 8,
  kByteStreamSplit = 9
};
enum class PageType { kDataPage = 0, kIndexPage = 1, kDictionaryPage = 2, kDataPageV2 = 3 };

struct SchemaElement {
  std::string name;
  bool has_type = false;  // leaves have a physical type, groups do not
  PhysicalType type = PhysicalType::kBoolean;
  int32_t type_length = 0;
  Repetition repetition = Repetition::kRequired;
  int32_t num_children = 0;
  Annotation annotation = Annotation::kNone;
};

struct ColumnMeta {
  PhysicalType type = PhysicalType::kBoolean;
  std::vector<std::string> path;
  Codec codec = Codec::kUncompressed;
  int64_t num_values = 0;
  int64_t total_compressed_size = 0;
  int64_t data_page_offset = 0;
  int64_t dictionary_page_offset = -1;  // -1: none
};

struct RowGroup {
  std::vector<ColumnMeta> columns;
  int64_t num_rows = 0;
};

struct FileMetaData {
  std::vector<SchemaElement> schema;  // depth-first, the root first
  int64_t num_rows = 0;
  std::vector<RowGroup> row_groups;
  std::string created_by;
};

struct PageHeader {
  PageType type = PageType::kDataPage;
  int32_t uncompressed_size = 0;
  int32_t compressed_size = 0;
  int32_t num_values = 0;
  Encoding encoding = Encoding::kPlain;
  Encoding def_encoding = Encoding::kRle;
  Encoding rep_encoding = Encoding::kRle;
  // Data page v2 only.
  int32_t num_nulls = 0;
  int32_t num_rows = 0;
  int32_t def_levels_bytes = 0;
  int32_t rep_levels_bytes = 0;
  bool is_compressed = true;
};

// Decodes the footer's FileMetaData from `bytes` (exactly the metadata, without length and magic).
FileMetaData parse_file_metadata(std::string_view bytes);
// Decodes a PageHeader at the start of `bytes`; sets `header_size` to the bytes it took.
PageHeader parse_page_header(std::string_view bytes, size_t& header_size);

const char* codec_name(Codec codec);
const char* encoding_name(Encoding encoding);

}  // namespace moai::data::parquet
