// The Parquet reader against files written by independent writers (DuckDB and arrow-rs through
// parquet-wasm; tests/data/parquet/make_fixtures.mjs): every row equals the row DuckDB reads back,
// through the same record path JSONL takes. Also: text-column selection, prepare from Parquet ==
// prepare from the same records as JSONL, and bad files named by file, row group and column.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "data_test_util.h"
#include "moai/data/parquet_reader.h"
#include "moai/data/prepare.h"
#include "moai/data/prepared_dataset.h"
#include "moai/data/record_reader.h"

namespace moai::data {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string fixture_dir() {
  return test::source_dir() + "/tests/data/parquet";
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<json> read_jsonl(const std::string& path) {
  std::vector<json> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) rows.push_back(json::parse(line));
  }
  return rows;
}

// The group whose expected rows a fixture must read as (make_fixtures.mjs).
std::string group_of(const std::string& name) {
  if (name.rfind("duckdb_", 0) == 0) return "rows";
  if (name.rfind("arrow_", 0) == 0) return "flat";
  return fs::path(name).stem().string();
}

std::vector<json> read_records(const std::string& path) {
  std::vector<json> rows;
  read_json_records(expand_inputs({path}), {},
                    [&](std::string_view text, const std::string&, long long line) {
                      EXPECT_EQ(line, static_cast<long long>(rows.size()) + 1);
                      rows.push_back(json::parse(text));
                    });
  return rows;
}

// Compares every .parquet file of `dir` with its group's expected rows; returns how many files.
int check_fixtures(const std::string& dir) {
  int files = 0;
  std::vector<std::string> paths;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".parquet") paths.push_back(entry.path().string());
  }
  std::sort(paths.begin(), paths.end());
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    std::string name = fs::path(path).filename().string();
    std::vector<json> expected = read_jsonl(dir + "/" + group_of(name) + ".expected.jsonl");
    std::vector<json> got = read_records(path);
    EXPECT_FALSE(expected.empty());
    EXPECT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < std::min(got.size(), expected.size()); ++i) {
      EXPECT_EQ(got[i], expected[i]) << "row " << i + 1;
      if (got[i] != expected[i]) break;
    }
    ++files;
  }
  return files;
}

TEST(Parquet, EveryFixtureReadsAsDuckDbReadsIt) {
  EXPECT_EQ(check_fixtures(fixture_dir()), 15);
}

TEST(Parquet, FixturesCoverSeveralRowGroupsAndNesting) {
  auto file = parquet::ParquetFile::open(fixture_dir() + "/arrow_delta_v2.parquet");
  EXPECT_EQ(file->metadata().row_groups.size(), 2u);
  auto nested = parquet::ParquetFile::open(fixture_dir() + "/duckdb_v2_zstd.parquet");
  std::vector<std::string> paths;
  for (const auto& leaf : nested->leaves()) paths.push_back(leaf.dotted_path);
  EXPECT_NE(std::find(paths.begin(), paths.end(), "messages.list.element.role"), paths.end());
  EXPECT_EQ(nested->string_fields(), (std::vector<std::string>{"text", "label"}));
}

// The committed fixtures really hold what they are meant to cover: every codec but LZO, pages v1
// and v2, and every value encoding moai supports (read back from the page headers).
TEST(Parquet, FixturesCoverEveryCodecEncodingAndPageVersion) {
  using parquet::Codec;
  using parquet::Encoding;
  std::set<Codec> codecs;
  uint32_t seen = 0;
  for (const auto& entry : fs::directory_iterator(fixture_dir())) {
    if (entry.path().extension() != ".parquet") continue;
    auto file = parquet::ParquetFile::open(entry.path().string());
    for (size_t g = 0; g < file->metadata().row_groups.size(); ++g) {
      for (size_t c = 0; c < file->leaves().size(); ++c) {
        codecs.insert(file->metadata().row_groups[g].columns[c].codec);
        parquet::ColumnReader column(*file, static_cast<int>(g), static_cast<int>(c));
        parquet::LevelEntry e;
        while (column.next(e)) {
        }
        seen |= column.seen();
      }
    }
  }
  EXPECT_EQ(codecs, (std::set<Codec>{Codec::kUncompressed, Codec::kSnappy, Codec::kGzip,
                                     Codec::kBrotli, Codec::kLz4, Codec::kZstd, Codec::kLz4Raw}));
  for (Encoding e : {Encoding::kPlain, Encoding::kPlainDictionary, Encoding::kRleDictionary,
                     Encoding::kDeltaBinaryPacked, Encoding::kDeltaLengthByteArray,
                     Encoding::kDeltaByteArray, Encoding::kByteStreamSplit}) {
    EXPECT_TRUE(seen & (1u << static_cast<int>(e))) << parquet::encoding_name(e);
  }
  for (auto page : {parquet::PageType::kDataPage, parquet::PageType::kDataPageV2,
                    parquet::PageType::kDictionaryPage}) {
    EXPECT_TRUE(seen & (1u << (16 + static_cast<int>(page)))) << static_cast<int>(page);
  }
}

TEST(Parquet, LiveRegenerationWithNpmPeers) {
  std::string peers = test::source_dir() + "/tests/peers/node_modules";
  if (!fs::exists(peers + "/@duckdb/node-api") || !fs::exists(peers + "/parquet-wasm") ||
      std::system("node --version >/dev/null 2>&1") != 0) {
    GTEST_SKIP()
        << "npm peers not installed (tests/peers/install.sh): the committed fixtures were checked";
  }
  std::string dir = test::temp_dir("parquet_live");
  std::string command = "node " + fixture_dir() + "/make_fixtures.mjs " + dir + " >/dev/null";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  EXPECT_EQ(check_fixtures(dir), 15);
  // The writers' versions are pinned, so the expected rows are the committed ones.
  for (const char* group : {"rows", "flat", "chat"}) {
    EXPECT_EQ(read_file(dir + "/" + group + ".expected.jsonl"),
              read_file(fixture_dir() + "/" + group + ".expected.jsonl"))
        << group;
  }
}

TEST(Parquet, TextModeReadsTheDetectedColumn) {
  std::vector<std::string> texts;
  auto keep = [&](std::string_view text, const std::string&, long long) {
    texts.emplace_back(text);
  };
  std::vector<std::string> expected;
  uint64_t empty = 0, bad = 0;
  for (const json& row : read_jsonl(fixture_dir() + "/rows.expected.jsonl")) {
    if (row["text"].is_null())
      ++bad;
    else if (row["text"].get<std::string>().empty())
      ++empty;
    else
      expected.push_back(row["text"]);
  }
  // A null text is a "missing text field" error, as in JSONL, naming the row.
  EXPECT_GT(bad, 0u);
  try {
    read_texts({fixture_dir() + "/duckdb_snappy.parquet"}, {}, keep);
    ADD_FAILURE() << "a null text was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              fixture_dir() + "/duckdb_snappy.parquet:4: missing text field (expected \"text\")");
  }
  ReaderOptions skip;
  skip.skip_bad_records = true;
  texts.clear();
  ReadStats stats = read_texts({fixture_dir() + "/duckdb_snappy.parquet"}, skip, keep);
  EXPECT_EQ(texts, expected);
  EXPECT_EQ(stats.bad_records, bad);
  EXPECT_EQ(stats.empty_records, empty);
  ASSERT_EQ(stats.fields_detected.size(), 1u);
  EXPECT_NE(stats.fields_detected[0].find(": text"), std::string::npos);
  // Chosen columns are joined as for JSONL.
  ReaderOptions columns = skip;
  columns.text_columns = {"label", "text"};
  texts.clear();
  read_texts(
      {fixture_dir() + "/arrow_dict_lz4_raw.parquet"}, columns,
      [&](std::string_view text, const std::string&, long long) { texts.emplace_back(text); });
  std::vector<json> flat = read_jsonl(fixture_dir() + "/flat.expected.jsonl");
  ASSERT_EQ(texts.size(), flat.size());
  EXPECT_EQ(texts[1],
            flat[1]["text"].is_string() && !flat[1]["text"].get<std::string>().empty()
                ? flat[1]["label"].get<std::string>() + " " + flat[1]["text"].get<std::string>()
                : flat[1]["label"].get<std::string>());
}

TEST(Parquet, TextFromNonStringColumnsTakesTheRecordPath) {
  std::string path = fixture_dir() + "/duckdb_gzip.parquet";
  ReaderOptions options;
  options.skip_bad_records = true;
  options.text_columns = {"meta"};  // a struct: every row is a bad record, as in JSONL
  ReadStats stats =
      read_texts({path}, options, [](std::string_view, const std::string&, long long) {});
  EXPECT_EQ(stats.records, 0u);
  EXPECT_EQ(stats.bad_records, read_jsonl(fixture_dir() + "/rows.expected.jsonl").size());
  ASSERT_FALSE(stats.error_messages.empty());
  EXPECT_NE(stats.error_messages[1].find("field \"meta\" is an object, expected a string"),
            std::string::npos)
      << stats.error_messages[1];
  options.text_columns = {"nosuch"};
  try {
    read_texts({path}, options, [](std::string_view, const std::string&, long long) {});
    ADD_FAILURE() << "an absent column was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "none of the requested columns is in this Parquet file (it has: id, text,"),
              std::string::npos)
        << e.what();
  }
}

TEST(Parquet, RecognisedByContentNotByName) {
  std::string dir = test::temp_dir("parquet_sniff");
  std::string disguised = dir + "/data.txt";
  fs::copy_file(fixture_dir() + "/chat.parquet", disguised);
  std::vector<InputFile> files = expand_inputs({disguised});
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].format, FileFormat::kParquet);
  // Forcing a text format does not make Parquet bytes text.
  EXPECT_EQ(expand_inputs({disguised}, FileFormat::kText)[0].format, FileFormat::kParquet);
  // A directory picks up .parquet files.
  EXPECT_EQ(expand_inputs({fixture_dir()}).size(), 18u);  // 15 .parquet + 3 .expected.jsonl
  // Other binary data is refused by name.
  std::string zip = testing::write_text(dir, "a.jsonl", std::string("PK\x03\x04rest", 8));
  try {
    expand_inputs({zip});
    FAIL() << "zip accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("a.jsonl: zip data is not supported"), std::string::npos)
        << e.what();
  }
  std::string nul = testing::write_text(dir, "b.txt", std::string("abc\0def", 7));
  EXPECT_THROW(expand_inputs({nul}), InputError);
  std::string gz =
      testing::write_text(dir, "c.jsonl", testing::gzip_bytes("{\"text\": \"hello\"}\n"));
  EXPECT_EQ(expand_inputs({gz})[0].compression, Compression::kGzip);
}

// A minimal Thrift compact writer, to build files no writer makes (unsupported codec/encoding).
class CompactWriter {
 public:
  std::string out;
  void field(int id, int type) {
    if (id > last_ && id - last_ <= 15) {
      out.push_back(static_cast<char>(((id - last_) << 4) | type));
    } else {
      out.push_back(static_cast<char>(type));
      varint(zigzag(id));
    }
    last_ = id;
  }
  void i32(int id, int64_t v) { field(id, 5), varint(zigzag(v)); }
  void i64(int id, int64_t v) { field(id, 6), varint(zigzag(v)); }
  void str(int id, const std::string& s) { field(id, 8), varint(s.size()), out += s; }
  void begin_struct(int id) { field(id, 12), stack_.push_back(last_), last_ = 0; }
  void begin_element() { stack_.push_back(last_), last_ = 0; }
  // Writes the stop byte; the outermost struct (never begun) has no saved field id to restore.
  void end_struct() {
    out.push_back(0);
    last_ = 0;
    if (stack_.empty()) return;
    last_ = stack_.back();
    stack_.pop_back();
  }
  void list(int id, int elem_type, int n) {
    field(id, 9), out.push_back(static_cast<char>((n << 4) | elem_type));
  }
  void varint(uint64_t v) {
    while (v >= 0x80) out.push_back(static_cast<char>(v | 0x80)), v >>= 7;
    out.push_back(static_cast<char>(v));
  }
  static uint64_t zigzag(int64_t v) {
    return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
  }

 private:
  int last_ = 0;
  std::vector<int> stack_;
};

// One required UTF8 column "text" with the values "hello", "world" in one PLAIN v1 page.
std::string handmade_file(int codec, int encoding) {
  std::string values;
  for (std::string v : {"hello", "world"}) {
    uint32_t n = static_cast<uint32_t>(v.size());
    values.append(reinterpret_cast<const char*>(&n), 4) += v;
  }
  CompactWriter page;
  page.i32(1, 0);
  page.i32(2, static_cast<int64_t>(values.size()));
  page.i32(3, static_cast<int64_t>(values.size()));
  page.begin_struct(5);
  page.i32(1, 2);
  page.i32(2, encoding);
  page.i32(3, 3);
  page.i32(4, 3);
  page.end_struct();
  page.end_struct();
  std::string chunk = page.out + values;
  CompactWriter meta;
  meta.i32(1, 1);
  meta.list(2, 12, 2);
  meta.begin_element();
  meta.str(4, "schema");
  meta.i32(5, 1);
  meta.end_struct();
  meta.begin_element();
  meta.i32(1, 6);
  meta.i32(3, 0);
  meta.str(4, "text");
  meta.i32(6, 0);
  meta.end_struct();
  meta.i64(3, 2);
  meta.list(4, 12, 1);
  meta.begin_element();
  meta.list(1, 12, 1);
  meta.begin_element();
  meta.i64(2, 4);
  meta.begin_struct(3);
  meta.i32(1, 6);
  meta.list(2, 5, 1);
  meta.varint(CompactWriter::zigzag(encoding));
  meta.list(3, 8, 1);
  meta.varint(4);
  meta.out += "text";
  meta.i32(4, codec);
  meta.i64(5, 2);
  meta.i64(6, static_cast<int64_t>(chunk.size()));
  meta.i64(7, static_cast<int64_t>(chunk.size()));
  meta.i64(9, 4);
  meta.end_struct();
  meta.end_struct();
  meta.i64(2, static_cast<int64_t>(chunk.size()));
  meta.i64(3, 2);
  meta.end_struct();
  meta.end_struct();
  uint32_t length = static_cast<uint32_t>(meta.out.size());
  return "PAR1" + chunk + meta.out + std::string(reinterpret_cast<const char*>(&length), 4) +
         "PAR1";
}

std::string read_error(const std::string& path) {
  try {
    read_json_records(expand_inputs({path}), {},
                      [](std::string_view, const std::string&, long long) {});
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Parquet, HandmadeFileReadsAndBadOnesAreNamed) {
  std::string dir = test::temp_dir("parquet_bad");
  std::string good = testing::write_text(dir, "good.parquet", handmade_file(0, 0));
  EXPECT_EQ(read_records(good), (std::vector<json>{{{"text", "hello"}}, {{"text", "world"}}}));
  std::string lzo = testing::write_text(dir, "lzo.parquet", handmade_file(3, 0));
  EXPECT_EQ(read_error(lzo), lzo + ": row group 0, column text: unsupported compression codec LZO");
  std::string bitpacked = testing::write_text(dir, "bp.parquet", handmade_file(0, 4));
  EXPECT_EQ(read_error(bitpacked),
            bitpacked + ": row group 0, column text: encoding BIT_PACKED is not supported");

  // A column name that is not UTF-8 (found by the fuzzer: it used to escape as a JSON library
  // error).
  std::string bad_name = handmade_file(0, 0);
  bad_name.replace(bad_name.find("text", bad_name.find("schema")), 1, "\xfa");
  std::string bad_name_path = testing::write_text(dir, "name.parquet", bad_name);
  EXPECT_EQ(read_error(bad_name_path),
            bad_name_path + ": corrupt metadata: a column name is not UTF-8");

  std::string bytes = read_file(fixture_dir() + "/duckdb_snappy.parquet");
  std::string truncated =
      testing::write_text(dir, "truncated.parquet", bytes.substr(0, bytes.size() / 2));
  EXPECT_EQ(read_error(truncated),
            truncated + ": no Parquet magic at the end of the file (truncated?)");
  std::string magic = bytes;
  magic[bytes.size() - 1] = 'X';
  std::string bad_magic = testing::write_text(dir, "magic.parquet", "PAR0" + magic.substr(4));
  EXPECT_NE(read_error(bad_magic).find("named .parquet but has no Parquet magic"),
            std::string::npos);
  // A corrupt page: flip bytes in the middle of the first column chunk's compressed data.
  auto file = parquet::ParquetFile::open(fixture_dir() + "/duckdb_snappy.parquet");
  const auto& column = file->metadata().row_groups[0].columns[1];  // "text"
  std::string corrupt = bytes;
  int64_t start =
      column.dictionary_page_offset > 0 ? column.dictionary_page_offset : column.data_page_offset;
  for (int64_t i = start + 30; i < start + column.total_compressed_size - 8; i += 7)
    corrupt[i] = '\xff';
  std::string corrupt_path = testing::write_text(dir, "corrupt.parquet", corrupt);
  EXPECT_EQ(read_error(corrupt_path).rfind(corrupt_path + ": row group 0, column text: ", 0), 0u)
      << read_error(corrupt_path);
}

// Preparing a Parquet file gives the same tokens as preparing its rows (as DuckDB reads them) as
// JSONL.
void expect_same_documents(const PrepareOptions& base, const std::string& parquet,
                           const std::string& jsonl) {
  std::string dir = test::temp_dir("parquet_prepare");
  PrepareOptions a = base, b = base;
  a.inputs = {parquet};
  a.output_dir = dir + "/from_parquet";
  b.inputs = {jsonl};
  b.output_dir = dir + "/from_jsonl";
  PreparedDataset x = PreparedDataset::open(prepare_dataset(a).entry_dir);
  PreparedDataset y = PreparedDataset::open(prepare_dataset(b).entry_dir);
  ASSERT_EQ(x.num_documents("train"), y.num_documents("train"));
  ASSERT_GT(x.num_documents("train"), 10u);
  for (uint64_t i = 0; i < x.num_documents("train"); ++i) {
    auto p = x.document("train", i), q = y.document("train", i);
    ASSERT_TRUE(std::equal(p.tokens.begin(), p.tokens.end(), q.tokens.begin(), q.tokens.end()))
        << i;
    ASSERT_TRUE(
        std::equal(p.loss_mask.begin(), p.loss_mask.end(), q.loss_mask.begin(), q.loss_mask.end()))
        << i;
  }
}

TEST(ParquetSlow, PrepareMatchesJsonl) {
  MOAI_REQUIRE_ASSETS();
  PrepareOptions o;
  o.tokenizer_path = test::assets_dir() + "/qwen3/tokenizer.json";
  o.show_progress = false;
  o.num_threads = 2;
  o.reader.skip_bad_records = true;
  // The JSONL twin: DuckDB's rows with the FLOAT column as DuckDB printed it (the text is what
  // counts).
  std::string dir = test::temp_dir("parquet_twins");
  std::string rows =
      testing::write_text(dir, "rows.jsonl", read_file(fixture_dir() + "/rows.expected.jsonl"));
  expect_same_documents(o, fixture_dir() + "/duckdb_v2_zstd.parquet", rows);
  o.mode = DatasetMode::kSft;
  o.reader.skip_bad_records = false;
  std::string chat =
      testing::write_text(dir, "chat.jsonl", read_file(fixture_dir() + "/chat.expected.jsonl"));
  expect_same_documents(o, fixture_dir() + "/chat.parquet", chat);
}

}  // namespace
}  // namespace moai::data
