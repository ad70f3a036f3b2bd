// Parquet reading: file mapping and footer, the schema as leaf paths, page decoding per column, and
// row assembly from repetition/definition levels.
#include "moai/data/parquet_reader.h"

#include <fcntl.h>
#include <simdjson.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "moai/core/error.h"
#include "moai/data/parquet_decode.h"
#include "moai/data/record_reader.h"  // BadRecord

namespace moai::data::parquet {
namespace {

constexpr std::string_view kMagic = "PAR1";
constexpr int kMaxSchemaDepth = 64;
constexpr int64_t kMaxPageValues = int64_t{1} << 24;
constexpr int64_t kMaxPageBytes = int64_t{1} << 30;
// Highest expansion accepted from a compressed page (zstd/brotli reach ~1000x on runs of zeros).
constexpr int64_t kMaxExpansion = 4096;

[[noreturn]] void fail(const std::string& what) {
  throw InputError(what);
}

int bit_width(int max_level) {
  int width = 0;
  while (max_level >> width) ++width;
  return width;
}

int value_width(PhysicalType type) {
  switch (type) {
    case PhysicalType::kInt32:
    case PhysicalType::kFloat:
      return 4;
    case PhysicalType::kInt64:
    case PhysicalType::kDouble:
      return 8;
    default:
      return 0;
  }
}

template <typename T>
T read_le(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

struct SchemaNode {
  const SchemaElement* element = nullptr;
  std::vector<int> children;
};

// Builds the schema tree from the depth-first list; returns the index after the subtree.
size_t build_tree(const std::vector<SchemaElement>& schema, size_t index, int depth,
                  std::vector<SchemaNode>& nodes) {
  if (depth > kMaxSchemaDepth) fail("corrupt metadata: schema nested too deep");
  if (index >= schema.size()) fail("corrupt metadata: schema shorter than its children counts");
  const SchemaElement& e = schema[index];
  nodes[index].element = &e;
  if (e.num_children < 0 || static_cast<size_t>(e.num_children) > schema.size()) {
    fail("corrupt metadata: bad children count in schema element \"" + e.name + "\"");
  }
  if (e.num_children == 0 && !e.has_type) {
    fail("corrupt metadata: schema element \"" + e.name + "\" has neither type nor children");
  }
  size_t next = index + 1;
  for (int32_t c = 0; c < e.num_children; ++c) {
    nodes[index].children.push_back(static_cast<int>(next));
    next = build_tree(schema, next, depth + 1, nodes);
  }
  return next;
}

bool is_three_level_list(const SchemaNode& group, const SchemaNode& repeated) {
  const SchemaElement& r = *repeated.element;
  return repeated.children.size() == 1 && r.name != "array" &&
         r.name != group.element->name + "_tuple";
}

void collect_leaves(const std::vector<SchemaNode>& nodes, int index, std::vector<int>& path,
                    std::vector<LeafColumn>& out) {
  path.push_back(index);
  const SchemaNode& node = nodes[index];
  if (node.children.empty()) {
    LeafColumn leaf;
    const SchemaElement& e = *node.element;
    leaf.type = e.type;
    leaf.type_length = e.type_length;
    leaf.annotation = e.annotation;
    int def = 0, rep = 0;
    for (size_t i = 1; i < path.size(); ++i) {
      const SchemaNode& n = nodes[path[i]];
      const SchemaNode& parent = nodes[path[i - 1]];
      Repetition r = n.element->repetition;
      PathStep step;
      step.name = n.element->name;
      step.adds_definition = r != Repetition::kRequired;
      if (r != Repetition::kRequired) ++def;
      if (r == Repetition::kRepeated) ++rep;
      step.def_level = def;
      step.rep_level = rep;
      Annotation pa = parent.element->annotation;
      bool in_list = i > 1 && (pa == Annotation::kList || pa == Annotation::kMap) &&
                     parent.children.size() == 1;
      if (in_list && r == Repetition::kRepeated) {
        step.kind = StepKind::kListRepeat;
      } else if (i > 2 && !leaf.steps.empty() && leaf.steps.back().kind == StepKind::kListRepeat &&
                 nodes[path[i - 2]].element->annotation == Annotation::kList &&
                 is_three_level_list(nodes[path[i - 2]], parent)) {
        step.kind = StepKind::kPassThrough;
      } else if ((n.element->annotation == Annotation::kList ||
                  n.element->annotation == Annotation::kMap) &&
                 n.children.size() == 1 &&
                 nodes[n.children[0]].element->repetition == Repetition::kRepeated &&
                 r != Repetition::kRepeated) {
        step.kind = StepKind::kListGroup;
      } else if (r == Repetition::kRepeated) {
        step.kind = StepKind::kRepeatedField;
      } else {
        step.kind = StepKind::kField;
      }
      if (!leaf.dotted_path.empty()) leaf.dotted_path += '.';
      leaf.dotted_path += step.name;
      leaf.steps.push_back(std::move(step));
    }
    leaf.max_def = def;
    leaf.max_rep = rep;
    leaf.top_field = leaf.steps.front().name;
    out.push_back(std::move(leaf));
  } else {
    for (int child : node.children) collect_leaves(nodes, child, path, out);
  }
  path.pop_back();
}

struct ValueSet {
  std::vector<std::string_view> strings;
  std::vector<int64_t> ints;
  std::vector<double> doubles;
  void clear() {
    strings.clear();
    ints.clear();
    doubles.clear();
  }
};

// PLAIN values of `type`; `data` must hold them all.
void decode_plain(const LeafColumn& leaf, std::string_view data, size_t count, ValueSet& out) {
  switch (leaf.type) {
    case PhysicalType::kBoolean:
      if (count > data.size() * 8) fail("PLAIN booleans past the end of the page");
      for (size_t i = 0; i < count; ++i) out.ints.push_back((data[i / 8] >> (i % 8)) & 1);
      return;
    case PhysicalType::kInt32:
      if (count > data.size() / 4) fail("PLAIN values past the end of the page");
      for (size_t i = 0; i < count; ++i) out.ints.push_back(read_le<int32_t>(data.data() + 4 * i));
      return;
    case PhysicalType::kInt64:
      if (count > data.size() / 8) fail("PLAIN values past the end of the page");
      for (size_t i = 0; i < count; ++i) out.ints.push_back(read_le<int64_t>(data.data() + 8 * i));
      return;
    case PhysicalType::kFloat:
      if (count > data.size() / 4) fail("PLAIN values past the end of the page");
      for (size_t i = 0; i < count; ++i) out.doubles.push_back(read_le<float>(data.data() + 4 * i));
      return;
    case PhysicalType::kDouble:
      if (count > data.size() / 8) fail("PLAIN values past the end of the page");
      for (size_t i = 0; i < count; ++i)
        out.doubles.push_back(read_le<double>(data.data() + 8 * i));
      return;
    case PhysicalType::kByteArray:
      for (size_t i = 0; i < count; ++i) out.strings.push_back(take_length_prefixed(data));
      return;
    case PhysicalType::kFixedLenByteArray: {
      size_t width = static_cast<size_t>(leaf.type_length);
      if (leaf.type_length <= 0) fail("FIXED_LEN_BYTE_ARRAY without a positive length");
      if (count > data.size() / width) fail("PLAIN values past the end of the page");
      for (size_t i = 0; i < count; ++i) out.strings.push_back(data.substr(i * width, width));
      return;
    }
    case PhysicalType::kInt96:
      break;
  }
  fail("physical type INT96 (legacy timestamps) is not supported");
}

// BYTE_STREAM_SPLIT values reassembled in `arena`, then read as PLAIN.
void decode_split(const LeafColumn& leaf, std::string_view data, size_t count, std::string& arena,
                  ValueSet& out) {
  int width =
      leaf.type == PhysicalType::kFixedLenByteArray ? leaf.type_length : value_width(leaf.type);
  if (width <= 0) fail("BYTE_STREAM_SPLIT is not defined for this physical type");
  decode_byte_stream_split(data, count, width, arena);
  decode_plain(leaf, arena, count, out);
}

}  // namespace

bool has_parquet_magic(std::string_view head) {
  return head.substr(0, 4) == kMagic;
}

// ---------------------------------------------------------------------------------------------
// ParquetFile

ParquetFile::ParquetFile(std::string path, std::string_view bytes, void* mapping,
                         size_t mapping_size)
    : path_(std::move(path)), bytes_(bytes), mapping_(mapping), mapping_size_(mapping_size) {}

ParquetFile::~ParquetFile() {
  if (mapping_) munmap(mapping_, mapping_size_);
}

std::shared_ptr<ParquetFile> ParquetFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_input_error(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    throw_io_error(path, "cannot stat");
  }
  size_t size = static_cast<size_t>(st.st_size);
  void* mapping = nullptr;
  if (size > 0) {
    mapping = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      ::close(fd);
      throw_io_error(path, std::string("cannot map: ") + std::strerror(errno));
    }
    madvise(mapping, size, MADV_SEQUENTIAL);
  }
  ::close(fd);
  std::string_view bytes(static_cast<const char*>(mapping), size);
  std::shared_ptr<ParquetFile> file(new ParquetFile(path, bytes, mapping, size));
  file->load();
  return file;
}

std::shared_ptr<ParquetFile> ParquetFile::from_bytes(std::string_view bytes,
                                                     const std::string& name) {
  std::shared_ptr<ParquetFile> file(new ParquetFile(name, bytes, nullptr, 0));
  file->load();
  return file;
}

void ParquetFile::load() {
  if (bytes_.size() < 12) throw_input_error(path_, "too short to be a Parquet file (truncated?)");
  if (bytes_.substr(0, 4) != kMagic) throw_input_error(path_, "bad magic: not a Parquet file");
  if (bytes_.substr(bytes_.size() - 4) != kMagic) {
    throw_input_error(path_, "no Parquet magic at the end of the file (truncated?)");
  }
  uint32_t length = read_le<uint32_t>(bytes_.data() + bytes_.size() - 8);
  if (length > bytes_.size() - 12) {
    throw_input_error(path_,
                      "footer length " + std::to_string(length) + " exceeds the file (truncated?)");
  }
  try {
    meta_ = parse_file_metadata(bytes_.substr(bytes_.size() - 8 - length, length));
    if (meta_.schema.empty()) fail("corrupt metadata: empty schema");
    for (const SchemaElement& e : meta_.schema) {
      if (!simdjson::validate_utf8(e.name.data(), e.name.size())) {
        fail("corrupt metadata: a column name is not UTF-8");
      }
    }
    std::vector<SchemaNode> nodes(meta_.schema.size());
    if (build_tree(meta_.schema, 0, 0, nodes) != meta_.schema.size()) {
      fail("corrupt metadata: schema longer than its children counts");
    }
    std::vector<int> path{0};
    for (int child : nodes[0].children) {
      top_fields_.push_back(meta_.schema[child].name);
      collect_leaves(nodes, child, path, leaves_);
    }
  } catch (const InputError& e) {
    throw_input_error(path_, e.what());
  }
  for (size_t g = 0; g < meta_.row_groups.size(); ++g) {
    const RowGroup& group = meta_.row_groups[g];
    std::string where = path_ + ": row group " + std::to_string(g);
    if (group.columns.size() != leaves_.size()) {
      throw InputError(where + ": " + std::to_string(group.columns.size()) +
                       " column chunks, schema has " + std::to_string(leaves_.size()) +
                       " leaf columns");
    }
    if (group.num_rows < 0) throw InputError(where + ": negative row count");
    for (size_t c = 0; c < leaves_.size(); ++c) {
      if (group.columns[c].type != leaves_[c].type) {
        throw InputError(where + ", column " + leaves_[c].dotted_path +
                         ": physical type differs from the schema's");
      }
    }
  }
}

std::vector<int> ParquetFile::leaves_of(const std::vector<std::string>& fields) const {
  std::vector<int> out;
  for (size_t i = 0; i < leaves_.size(); ++i) {
    bool wanted = fields.empty();
    for (const auto& f : fields) wanted = wanted || f == leaves_[i].top_field;
    if (wanted) out.push_back(static_cast<int>(i));
  }
  return out;
}

std::vector<std::string> ParquetFile::string_fields() const {
  std::vector<std::string> out;
  for (const LeafColumn& leaf : leaves_) {
    if (leaf.steps.size() == 1 && leaf.max_rep == 0 && leaf.type == PhysicalType::kByteArray &&
        leaf.annotation == Annotation::kString) {
      out.push_back(leaf.top_field);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// ColumnReader

struct ColumnReader::State {
  const ParquetFile* file = nullptr;
  const LeafColumn* leaf = nullptr;
  int row_group = 0;
  ColumnMeta meta;
  std::string_view chunk;  // bytes of the chunk not yet read
  int64_t values_read = 0;
  // Dictionary.
  bool has_dictionary = false;
  std::string dict_buffer;
  std::string dict_arena;
  ValueSet dict;
  // Current page.
  std::string page_buffer;
  std::string arena;
  std::vector<uint32_t> rep, def;
  std::vector<uint32_t> indices;  // when the page is dictionary-encoded
  bool dict_encoded = false;
  ValueSet values;
  size_t count = 0;   // level entries in the page
  size_t cursor = 0;  // next entry
  size_t value_cursor = 0;
  uint32_t seen = 0;

  std::string where() const {
    return file->path() + ": row group " + std::to_string(row_group) + ", column " +
           leaf->dotted_path;
  }
  bool load_page();
  void read_page(const PageHeader& header, std::string_view body);
  std::string_view page_data(const PageHeader& header, std::string_view body, size_t skip_raw);
  void decode_levels_v1(const PageHeader& h, std::string_view& data);
  void decode_values(Encoding encoding, std::string_view data, size_t count);
  void read_dictionary(const PageHeader& header, std::string_view body);
};

ColumnReader::ColumnReader(const ParquetFile& file, int row_group, int leaf)
    : s_(std::make_unique<State>()) {
  s_->file = &file;
  s_->leaf = &file.leaves()[leaf];
  s_->row_group = row_group;
  s_->meta = file.metadata().row_groups[row_group].columns[leaf];
  const ColumnMeta& m = s_->meta;
  int64_t start = m.data_page_offset;
  if (m.dictionary_page_offset > 0 && m.dictionary_page_offset < start)
    start = m.dictionary_page_offset;
  int64_t size = static_cast<int64_t>(file.bytes().size());
  if (start < 4 || m.total_compressed_size < 0 || start > size - 8 ||
      m.total_compressed_size > size - 8 - start) {
    throw InputError(s_->where() + ": column chunk offset/size outside the file (truncated?)");
  }
  if (m.num_values < 0) throw InputError(s_->where() + ": negative value count");
  s_->chunk = file.bytes().substr(start, m.total_compressed_size);
}

ColumnReader::~ColumnReader() = default;
ColumnReader::ColumnReader(ColumnReader&&) noexcept = default;

const LeafColumn& ColumnReader::leaf() const {
  return *s_->leaf;
}

bool ColumnReader::State::load_page() {
  while (values_read < meta.num_values) {
    if (chunk.empty())
      fail("column chunk ends after " + std::to_string(values_read) + " of " +
           std::to_string(meta.num_values) + " values");
    size_t header_size = 0;
    PageHeader header = parse_page_header(chunk, header_size);
    chunk.remove_prefix(header_size);
    if (static_cast<size_t>(header.compressed_size) > chunk.size()) {
      fail("page of " + std::to_string(header.compressed_size) +
           " bytes runs past the column chunk");
    }
    std::string_view body = chunk.substr(0, header.compressed_size);
    chunk.remove_prefix(header.compressed_size);
    seen |= 1u << (16 + static_cast<int>(header.type));
    if (header.type != PageType::kDictionaryPage) seen |= 1u << static_cast<int>(header.encoding);
    if (header.type == PageType::kDictionaryPage) {
      read_dictionary(header, body);
    } else if (header.type == PageType::kDataPage || header.type == PageType::kDataPageV2) {
      read_page(header, body);
      values_read += header.num_values;
      if (count > 0) return true;
    }
  }
  return false;
}

// The page's (decompressed) bytes after the first `skip_raw` bytes (v2 levels, never compressed).
std::string_view ColumnReader::State::page_data(const PageHeader& h, std::string_view body,
                                                size_t skip_raw) {
  std::string_view compressed = body.substr(skip_raw);
  int64_t raw_size = int64_t{h.uncompressed_size} - static_cast<int64_t>(skip_raw);
  if (raw_size < 0) fail("levels longer than the page");
  bool compressed_page = meta.codec != Codec::kUncompressed && h.is_compressed;
  if (!compressed_page) {
    if (static_cast<int64_t>(compressed.size()) != raw_size) fail("page size mismatch");
    return compressed;
  }
  if (raw_size > kMaxPageBytes ||
      raw_size > static_cast<int64_t>(compressed.size()) * kMaxExpansion + (1 << 20)) {
    fail("implausible uncompressed page size " + std::to_string(h.uncompressed_size));
  }
  decompress(meta.codec, compressed, static_cast<size_t>(raw_size), page_buffer);
  return page_buffer;
}

void ColumnReader::State::read_dictionary(const PageHeader& h, std::string_view body) {
  if (has_dictionary) fail("second dictionary page");
  if (h.encoding != Encoding::kPlain && h.encoding != Encoding::kPlainDictionary) {
    fail(std::string("dictionary page encoding ") + encoding_name(h.encoding) +
         " is not supported");
  }
  std::string_view data = page_data(h, body, 0);
  if (data.data() == page_buffer.data()) {
    dict_buffer.swap(page_buffer);
    data = dict_buffer;
  }
  if (h.num_values > kMaxPageValues)
    fail("dictionary of " + std::to_string(h.num_values) + " values");
  dict.clear();
  decode_plain(*leaf, data, static_cast<size_t>(h.num_values), dict);
  has_dictionary = true;
}

void ColumnReader::State::decode_levels_v1(const PageHeader& h, std::string_view& data) {
  if (leaf->max_rep > 0) {
    if (h.rep_encoding != Encoding::kRle) {
      fail(std::string("repetition level encoding ") + encoding_name(h.rep_encoding) +
           " is not supported");
    }
    decode_rle_hybrid(take_length_prefixed(data), bit_width(leaf->max_rep), count, rep);
  }
  if (leaf->max_def > 0) {
    if (h.def_encoding != Encoding::kRle) {
      fail(std::string("definition level encoding ") + encoding_name(h.def_encoding) +
           " is not supported");
    }
    decode_rle_hybrid(take_length_prefixed(data), bit_width(leaf->max_def), count, def);
  }
}

void ColumnReader::State::read_page(const PageHeader& h, std::string_view body) {
  if (h.num_values > kMaxPageValues) fail("page of " + std::to_string(h.num_values) + " values");
  count = static_cast<size_t>(h.num_values);
  cursor = 0;
  value_cursor = 0;
  rep.clear();
  def.clear();
  std::string_view data;
  if (h.type == PageType::kDataPage) {
    data = page_data(h, body, 0);
    decode_levels_v1(h, data);
  } else {
    size_t levels =
        static_cast<size_t>(h.rep_levels_bytes) + static_cast<size_t>(h.def_levels_bytes);
    if (levels > body.size()) fail("v2 levels longer than the page");
    if (leaf->max_rep > 0)
      decode_rle_hybrid(body.substr(0, h.rep_levels_bytes), bit_width(leaf->max_rep), count, rep);
    if (leaf->max_def > 0) {
      decode_rle_hybrid(body.substr(h.rep_levels_bytes, h.def_levels_bytes),
                        bit_width(leaf->max_def), count, def);
    }
    data = page_data(h, body, levels);
  }
  size_t present = count;
  if (leaf->max_def > 0) {
    present = 0;
    for (uint32_t d : def) {
      if (d > static_cast<uint32_t>(leaf->max_def)) fail("definition level out of range");
      present += d == static_cast<uint32_t>(leaf->max_def);
    }
  }
  for (uint32_t r : rep) {
    if (r > static_cast<uint32_t>(leaf->max_rep)) fail("repetition level out of range");
  }
  decode_values(h.encoding, data, present);
}

void ColumnReader::State::decode_values(Encoding encoding, std::string_view data, size_t n) {
  values.clear();
  indices.clear();
  dict_encoded = false;
  PhysicalType type = leaf->type;
  auto require = [&](bool ok) {
    if (!ok)
      fail(std::string("encoding ") + encoding_name(encoding) +
           " is not valid for this column's type");
  };
  switch (encoding) {
    case Encoding::kPlain:
      decode_plain(*leaf, data, n, values);
      return;
    case Encoding::kPlainDictionary:
    case Encoding::kRleDictionary: {
      if (!has_dictionary) fail("dictionary-encoded page without a dictionary page");
      if (n == 0) return;
      if (data.empty()) fail("empty dictionary-index page");
      int width = static_cast<uint8_t>(data[0]);
      decode_rle_hybrid(data.substr(1), width, n, indices);
      size_t size = std::max({dict.strings.size(), dict.ints.size(), dict.doubles.size()});
      for (uint32_t i : indices) {
        if (i >= size) fail("dictionary index " + std::to_string(i) + " out of range");
      }
      dict_encoded = true;
      return;
    }
    case Encoding::kRle: {
      require(type == PhysicalType::kBoolean);
      std::vector<uint32_t> bits;
      decode_rle_hybrid(take_length_prefixed(data), 1, n, bits);
      values.ints.assign(bits.begin(), bits.end());
      return;
    }
    case Encoding::kDeltaBinaryPacked:
      require(type == PhysicalType::kInt32 || type == PhysicalType::kInt64);
      decode_delta_binary(data, n, values.ints);
      if (type == PhysicalType::kInt32) {
        for (int64_t& v : values.ints) v = static_cast<int32_t>(v);
      }
      return;
    case Encoding::kDeltaLengthByteArray:
      require(type == PhysicalType::kByteArray);
      decode_delta_length(data, n, values.strings);
      return;
    case Encoding::kDeltaByteArray:
      require(type == PhysicalType::kByteArray || type == PhysicalType::kFixedLenByteArray);
      decode_delta_byte_array(data, n, arena, values.strings);
      return;
    case Encoding::kByteStreamSplit:
      decode_split(*leaf, data, n, arena, values);
      return;
    default:
      break;
  }
  fail(std::string("encoding ") + encoding_name(encoding) + " is not supported");
}

bool ColumnReader::next(LevelEntry& entry) {
  State& s = *s_;
  if (s.cursor == s.count) {
    try {
      if (!s.load_page()) return false;
    } catch (const InputError& e) {
      throw InputError(s.where() + ": " + e.what());
    }
  }
  entry.rep = s.rep.empty() ? 0 : static_cast<int>(s.rep[s.cursor]);
  entry.def = s.def.empty() ? s.leaf->max_def : static_cast<int>(s.def[s.cursor]);
  ++s.cursor;
  if (entry.def == s.leaf->max_def) entry.value = s.value_cursor++;
  return true;
}

int ColumnReader::peek_rep() {
  State& s = *s_;
  if (s.cursor == s.count) {
    try {
      if (!s.load_page()) return -1;
    } catch (const InputError& e) {
      throw InputError(s.where() + ": " + e.what());
    }
  }
  return s.rep.empty() ? 0 : static_cast<int>(s.rep[s.cursor]);
}

uint32_t ColumnReader::seen() const {
  return s_->seen;
}

std::string_view ColumnReader::string_at(size_t i) const {
  return s_->dict_encoded ? s_->dict.strings[s_->indices[i]] : s_->values.strings[i];
}
int64_t ColumnReader::int_at(size_t i) const {
  return s_->dict_encoded ? s_->dict.ints[s_->indices[i]] : s_->values.ints[i];
}
double ColumnReader::double_at(size_t i) const {
  return s_->dict_encoded ? s_->dict.doubles[s_->indices[i]] : s_->values.doubles[i];
}

void ColumnReader::to_json(size_t i, nlohmann::ordered_json& out) const {
  switch (s_->leaf->type) {
    case PhysicalType::kBoolean:
      out = int_at(i) != 0;
      return;
    case PhysicalType::kInt32:
    case PhysicalType::kInt64:
      out = int_at(i);
      return;
    case PhysicalType::kFloat:
    case PhysicalType::kDouble:
      out = double_at(i);
      return;
    default: {
      std::string_view text = string_at(i);
      if (!simdjson::validate_utf8(text.data(), text.size())) {
        throw BadRecord("column " + s_->leaf->dotted_path + " (row group " +
                        std::to_string(s_->row_group) + ") holds bytes that are not UTF-8 text");
      }
      out = std::string(text);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// RowReader

RowReader::RowReader(std::shared_ptr<ParquetFile> file, std::vector<int> leaves)
    : file_(std::move(file)), leaves_(std::move(leaves)) {}

RowReader::~RowReader() = default;

void RowReader::start_row_group(int index) {
  row_group_ = index;
  columns_.clear();
  for (int leaf : leaves_) columns_.emplace_back(*file_, index, leaf);
  rows_left_ = file_->metadata().row_groups[index].num_rows;
}

bool RowReader::next(nlohmann::ordered_json& row) {
  const auto& groups = file_->metadata().row_groups;
  while (rows_left_ == 0) {
    if (row_group_ + 1 >= static_cast<int>(groups.size())) return false;
    start_row_group(row_group_ + 1);
  }
  row = nlohmann::ordered_json::object();
  std::string bad;
  for (size_t k = 0; k < columns_.size(); ++k) read_leaf(k, row, bad);
  --rows_left_;
  ++row_number_;
  if (!bad.empty()) throw BadRecord(bad);
  return true;
}

// Places one row's entries of a leaf column into `row`, creating structs, lists and nulls on the
// way.
void RowReader::read_leaf(size_t k, nlohmann::ordered_json& row, std::string& bad) {
  ColumnReader& column = columns_[k];
  const LeafColumn& leaf = column.leaf();
  auto where = [&] {
    return file_->path() + ": row group " + std::to_string(row_group_) + ", column " +
           leaf.dotted_path;
  };
  std::vector<size_t> element(leaf.steps.size(), 0);
  bool first = true;
  LevelEntry entry;
  while (true) {
    if (!first && column.peek_rep() <= 0) break;
    if (!column.next(entry)) throw InputError(where() + ": fewer values than the row group's rows");
    if (first && entry.rep != 0)
      throw InputError(where() + ": a row starts with a nonzero repetition level");
    first = false;
    nlohmann::ordered_json* slot = &row;
    for (size_t i = 0; i < leaf.steps.size(); ++i) {
      const PathStep& step = leaf.steps[i];
      bool absent = step.adds_definition && entry.def < step.def_level;
      switch (step.kind) {
        case StepKind::kField:
        case StepKind::kListGroup:
          if (!slot->is_object()) *slot = nlohmann::ordered_json::object();
          slot = &(*slot)[step.name];
          if (absent) break;
          if (step.kind == StepKind::kListGroup && !slot->is_array())
            *slot = nlohmann::ordered_json::array();
          continue;
        case StepKind::kRepeatedField:
          if (!slot->is_object()) *slot = nlohmann::ordered_json::object();
          slot = &(*slot)[step.name];
          if (!slot->is_array()) *slot = nlohmann::ordered_json::array();
          [[fallthrough]];
        case StepKind::kListRepeat: {
          // The parent is defined here, so the list exists, even if empty (a list of lists).
          if (!slot->is_array()) *slot = nlohmann::ordered_json::array();
          if (absent) break;
          if (entry.rep == step.rep_level)
            ++element[i];
          else if (entry.rep < step.rep_level)
            element[i] = 0;
          while (slot->size() <= element[i]) slot->push_back(nullptr);
          slot = &(*slot)[element[i]];
          continue;
        }
        case StepKind::kPassThrough:
          if (absent) break;
          continue;
      }
      slot = nullptr;  // absent here: the null or empty container is in place
      break;
    }
    if (!slot || entry.def != leaf.max_def) continue;
    try {
      column.to_json(entry.value, *slot);
    } catch (const BadRecord& e) {
      if (bad.empty()) bad = e.what();
    }
  }
}

}  // namespace moai::data::parquet
