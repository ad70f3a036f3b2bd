#pragma once
// A Parquet reader written for moai (no Debian package reads Parquet). It maps the file, decodes
// the footer, and streams rows or single columns row group by row group, page by page, decoding
// only the requested columns, so memory stays bounded by one page per column (plus its dictionary).
//
// Supported: data pages v1 and v2, dictionary pages; PLAIN, RLE/bit-packed hybrid,
// PLAIN_DICTIONARY, RLE_DICTIONARY, DELTA_BINARY_PACKED, DELTA_LENGTH_BYTE_ARRAY, DELTA_BYTE_ARRAY,
// BYTE_STREAM_SPLIT; UNCOMPRESSED, SNAPPY, GZIP, ZSTD, LZ4_RAW, LZ4 (Hadoop framing or raw),
// BROTLI; every physical type but INT96; nulls and nesting (structs, LIST and MAP, bare repeated
// fields). Rows come out as JSON objects: strings as strings, numbers and booleans as such, a list
// as an array, a struct as an object, a map as an array of {key, value}; other logical types
// (dates, timestamps, decimals) as their physical value.
//
// Every size and offset from the file is checked against the file before use; a bad file throws
// InputError "file: row group N, column a.b: what" (exit 2).
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "moai/data/parquet_meta.h"

namespace moai::data::parquet {

// How one schema node along a leaf's path maps onto JSON.
enum class StepKind {
  kField,          // a struct field (an object member)
  kListGroup,      // a LIST/MAP-annotated group: the member holds an array
  kListRepeat,     // the repeated node inside a LIST/MAP group: one array element per repetition
  kRepeatedField,  // a repeated field outside a LIST/MAP group: the member holds an array
  kPassThrough     // the element node of a 3-level list: the array element itself
};

struct PathStep {
  std::string name;
  StepKind kind = StepKind::kField;
  bool adds_definition = false;  // optional or repeated: a definition level below this is "absent"
  int def_level = 0;             // definition level reached at this node
  int rep_level = 0;             // repetition level of this node (repeated nodes)
};

struct LeafColumn {
  std::string dotted_path;  // "messages.list.element.role"
  std::string top_field;    // "messages"
  PhysicalType type = PhysicalType::kBoolean;
  int32_t type_length = 0;
  Annotation annotation = Annotation::kNone;
  int max_def = 0;
  int max_rep = 0;
  std::vector<PathStep> steps;
};

class ParquetFile {
 public:
  // Maps and validates the file (magic at both ends, footer, schema).
  static std::shared_ptr<ParquetFile> open(const std::string& path);
  // For tests and fuzzing: the whole file's bytes, kept by the caller while in use.
  static std::shared_ptr<ParquetFile> from_bytes(std::string_view bytes, const std::string& name);
  ~ParquetFile();
  ParquetFile(const ParquetFile&) = delete;
  ParquetFile& operator=(const ParquetFile&) = delete;

  const std::string& path() const { return path_; }
  std::string_view bytes() const { return bytes_; }
  const FileMetaData& metadata() const { return meta_; }
  const std::vector<LeafColumn>& leaves() const { return leaves_; }
  // Top-level field names, in schema order.
  const std::vector<std::string>& top_fields() const { return top_fields_; }
  // Leaf indices of the given top-level fields (all when empty); unknown names are ignored.
  std::vector<int> leaves_of(const std::vector<std::string>& fields) const;
  // Top-level fields that are plain string columns (BYTE_ARRAY with a string annotation).
  std::vector<std::string> string_fields() const;
  int64_t num_rows() const { return meta_.num_rows; }

 private:
  ParquetFile(std::string path, std::string_view bytes, void* mapping, size_t mapping_size);
  void load();
  std::string path_;
  std::string_view bytes_;
  void* mapping_ = nullptr;
  size_t mapping_size_ = 0;
  FileMetaData meta_;
  std::vector<LeafColumn> leaves_;
  std::vector<std::string> top_fields_;
};

// One decoded entry of a column: its levels and, when defined to the leaf, its value's index in the
// current page (read it with the accessors before the next call to next()).
struct LevelEntry {
  int rep = 0;
  int def = 0;
  size_t value = 0;
};

// Streams one leaf column of one row group, page by page.
class ColumnReader {
 public:
  ColumnReader(const ParquetFile& file, int row_group, int leaf);
  ~ColumnReader();
  ColumnReader(ColumnReader&&) noexcept;
  // False when the column chunk is exhausted.
  bool next(LevelEntry& entry);
  // Repetition level of the next entry, or -1 at the end.
  int peek_rep();
  const LeafColumn& leaf() const;
  // Value accessors for an entry's value index (by physical type).
  std::string_view string_at(size_t index) const;
  int64_t int_at(size_t index) const;
  double double_at(size_t index) const;
  // Writes the value as JSON (strings are checked to be UTF-8; bad ones throw BadRecord).
  void to_json(size_t index, nlohmann::ordered_json& out) const;
  // What the pages read so far used, for tests that check a file's coverage: bit e set for each
  // value encoding e of data pages, bit (16 + page type) for each page type.
  uint32_t seen() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Streams rows as JSON objects holding the chosen leaf columns, over every row group in order.
class RowReader {
 public:
  RowReader(std::shared_ptr<ParquetFile> file, std::vector<int> leaves);
  ~RowReader();
  // False at the end of the file. `row` is overwritten. A value that is not valid text throws
  // BadRecord after the whole row was consumed, so reading can go on with the next row.
  bool next(nlohmann::ordered_json& row);
  int64_t row_number() const { return row_number_; }  // 1-based number of the last row returned

 private:
  void start_row_group(int index);
  void read_leaf(size_t k, nlohmann::ordered_json& row, std::string& bad);
  std::shared_ptr<ParquetFile> file_;
  std::vector<int> leaves_;
  std::vector<ColumnReader> columns_;
  int row_group_ = -1;
  int64_t rows_left_ = 0;
  int64_t row_number_ = 0;
};

// True when `head` (the first bytes of a file) starts with the Parquet magic.
bool has_parquet_magic(std::string_view head);

}  // namespace moai::data::parquet
