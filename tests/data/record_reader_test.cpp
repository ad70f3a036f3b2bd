// Readers: every format, compression, detection, directory/glob expansion and every kind of bad
// record.
#include "moai/data/record_reader.h"

#include <gtest/gtest.h>

#include "data_test_util.h"

namespace moai::data {
namespace {

using testing::gzip_bytes;
using testing::write_text;
using testing::zstd_bytes;

struct Collected {
  std::vector<std::string> texts;
  std::vector<long long> lines;
  ReadStats stats;
};

Collected collect(const std::vector<std::string>& paths, const ReaderOptions& options = {}) {
  Collected c;
  c.stats =
      read_texts(paths, options, [&](std::string_view text, const std::string&, long long line) {
        c.texts.emplace_back(text);
        c.lines.push_back(line);
      });
  return c;
}

// Runs a read expected to fail and returns the message.
std::string read_error(const std::vector<std::string>& paths, const ReaderOptions& options = {}) {
  try {
    collect(paths, options);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(RecordReader, PlainTextBlankLineBlocksAndLines) {
  std::string dir = test::temp_dir("reader_txt");
  std::string path = write_text(dir, "a.txt", "first doc\nsecond line\n\n\nthird\r\n\n  \nlast");
  Collected blocks = collect({path});
  ASSERT_EQ(blocks.texts.size(), 3u);
  EXPECT_EQ(blocks.texts[0], "first doc\nsecond line");
  EXPECT_EQ(blocks.texts[1], "third");
  EXPECT_EQ(blocks.texts[2], "last");
  EXPECT_EQ(blocks.lines, (std::vector<long long>{1, 5, 8}));
  ReaderOptions per_line;
  per_line.text_split = TextSplit::kLine;
  Collected lines = collect({path}, per_line);
  EXPECT_EQ(lines.texts, (std::vector<std::string>{"first doc", "second line", "third", "last"}));
  EXPECT_EQ(lines.lines, (std::vector<long long>{1, 2, 5, 8}));
}

TEST(RecordReader, JsonlDetectionFollowsTheOriginal) {
  std::string dir = test::temp_dir("reader_detect");
  // "text" wins when present and non-empty.
  write_text(dir, "a.jsonl",
             R"({"text": "hello", "content": "no"})"
             "\n");
  // Otherwise every listed field, in list order (instruction before output), joined by a space.
  write_text(dir, "b.jsonl",
             R"({"output": "O", "id": 3, "instruction": "I"})"
             "\n");
  // Otherwise any string field longer than 10 characters.
  write_text(dir, "c.jsonl",
             R"({"x": "short", "y": "a long enough string"})"
             "\n");
  EXPECT_EQ(collect({dir + "/a.jsonl"}).texts, std::vector<std::string>{"hello"});
  Collected b = collect({dir + "/b.jsonl"});
  EXPECT_EQ(b.texts, std::vector<std::string>{"I O"});
  ASSERT_EQ(b.stats.fields_detected.size(), 1u);
  EXPECT_NE(b.stats.fields_detected[0].find("instruction,output"), std::string::npos);
  EXPECT_EQ(collect({dir + "/c.jsonl"}).texts, std::vector<std::string>{"a long enough string"});
  // --text_column picks the preferred field; --text_columns joins exactly those.
  ReaderOptions column;
  column.text_column = "instruction";
  EXPECT_EQ(collect({dir + "/b.jsonl"}, column).texts, std::vector<std::string>{"I"});
  ReaderOptions columns;
  columns.text_columns = {"output", "instruction"};
  EXPECT_EQ(collect({dir + "/b.jsonl"}, columns).texts, std::vector<std::string>{"O I"});
}

TEST(RecordReader, JsonArrayCsvTsvAndCompression) {
  std::string dir = test::temp_dir("reader_formats");
  write_text(dir, "a.json", R"([{"text": "one"}, {"text": "two"}])");
  write_text(dir, "b.csv", "id,text\n1,\"with, comma\"\n2,\"multi\nline \"\"quoted\"\"\"\n");
  write_text(dir, "c.tsv", "text\tlabel\nalpha\t1\n");
  write_text(dir, "d.jsonl.gz", gzip_bytes("{\"text\": \"gz one\"}\n{\"text\": \"gz two\"}\n"));
  write_text(dir, "e.txt.zst", zstd_bytes("zstd doc\n\nsecond\n"));
  Collected all = collect({dir});  // a directory: files sorted by name
  EXPECT_EQ(all.texts,
            (std::vector<std::string>{"one", "two", "with, comma", "multi\nline \"quoted\"",
                                      "alpha", "gz one", "gz two", "zstd doc", "second"}));
  EXPECT_EQ(all.stats.files, 5u);
  EXPECT_EQ(all.stats.records, 9u);
  // A glob, and the CSV row's first line as its line number.
  Collected csv = collect({dir + "/*.csv"});
  EXPECT_EQ(csv.lines, (std::vector<long long>{2, 3}));
}

TEST(RecordReader, EmptyTextsAreCountedNotPassed) {
  std::string dir = test::temp_dir("reader_empty");
  std::string path =
      write_text(dir, "a.jsonl", "{\"text\": \"x\"}\n{\"text\": \"\"}\n\n{\"text\": \"y\"}\n");
  Collected c = collect({path});
  EXPECT_EQ(c.texts, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(c.stats.empty_records, 1u);
}

TEST(RecordReader, BadRecordsStopWithFileAndLine) {
  std::string dir = test::temp_dir("reader_bad");
  std::string bad_json =
      write_text(dir, "bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n");
  EXPECT_NE(read_error({bad_json}).find("bad.jsonl:2: malformed JSON"), std::string::npos);
  std::string missing = write_text(dir, "missing.jsonl", "{\"text\": \"ok\"}\n{\"other\": 1}\n");
  EXPECT_NE(read_error({missing}).find("missing.jsonl:2: missing text field (expected \"text\")"),
            std::string::npos);
  std::string wrong = write_text(dir, "wrong.jsonl", "{\"text\": \"ok\"}\n{\"text\": 5}\n");
  EXPECT_NE(
      read_error({wrong}).find("wrong.jsonl:2: field \"text\" is a number, expected a string"),
      std::string::npos);
  std::string not_object = write_text(dir, "array.jsonl", "[1, 2]\n");
  EXPECT_NE(read_error({not_object}).find("array.jsonl:1: expected a JSON object, got an array"),
            std::string::npos);
  std::string utf8 = write_text(dir, "utf8.txt", "good\n\nbad \xff\xfe byte\n");
  EXPECT_NE(read_error({utf8}).find("utf8.txt:3: invalid UTF-8"), std::string::npos);
  std::string utf8_json = write_text(dir, "utf8.jsonl", "{\"text\": \"bad \xc3\"}\n");
  EXPECT_NE(read_error({utf8_json}).find("utf8.jsonl:1: malformed JSON"), std::string::npos);
  std::string gz = gzip_bytes(std::string(5000, 'a') + "\n\nmore text here\n");
  std::string truncated = write_text(dir, "cut.txt.gz", gz.substr(0, gz.size() / 2));
  EXPECT_NE(read_error({truncated}).find("cut.txt.gz: truncated gzip stream"), std::string::npos);
  std::string csv = write_text(dir, "short.csv", "text,b\n1,2\n3\n");
  EXPECT_NE(read_error({csv}).find("short.csv:3: row has 1 fields, expected 2"), std::string::npos);
  std::string quote = write_text(dir, "quote.csv", "a\n\"never closed\n");
  EXPECT_NE(read_error({quote}).find("quote.csv:2: unterminated quoted field"), std::string::npos);
  std::string array = write_text(dir, "obj.json", "{\"text\": \"not an array\"}");
  EXPECT_NE(read_error({array}).find("obj.json: expected a JSON array"), std::string::npos);
  EXPECT_NE(read_error({dir + "/nope*.jsonl"}).find("no such file"), std::string::npos);
}

TEST(RecordReader, SkipBadRecordsCountsThem) {
  std::string dir = test::temp_dir("reader_skip");
  std::string path = write_text(dir, "mixed.jsonl",
                                "{\"text\": \"a\"}\nnot json\n{\"text\": 1}\n{\"text\": \"b\"}\n"
                                "{\"other\": \"x\"}\n");
  ReaderOptions options;
  options.skip_bad_records = true;
  Collected c = collect({path}, options);
  EXPECT_EQ(c.texts, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.stats.bad_records, 3u);
  ASSERT_EQ(c.stats.error_messages.size(), 3u);
  EXPECT_NE(c.stats.error_messages[0].find("mixed.jsonl:2:"), std::string::npos);
  EXPECT_NE(c.stats.error_messages[2].find("mixed.jsonl:5:"), std::string::npos);
}

TEST(RecordReader, RealCorporaDocumentCounts) {
  MOAI_REQUIRE_ASSETS();
  std::string corpora = test::assets_dir() + "/corpora";
  // The corpora README gives the document counts of each file.
  EXPECT_EQ(collect({corpora + "/en.txt"}).stats.records, 217u);
  EXPECT_EQ(collect({corpora + "/ko.txt"}).stats.records, 1783u);
  Collected qa = collect({corpora + "/qa_debian_faq.en.jsonl"});
  EXPECT_EQ(qa.stats.records, 119u);
  ASSERT_EQ(qa.stats.fields_detected.size(), 1u);
  EXPECT_NE(qa.stats.fields_detected[0].find(": answer,question"), std::string::npos);
}

}  // namespace
}  // namespace moai::data
