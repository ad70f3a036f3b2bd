// Record readers: plain text, JSONL, JSON arrays and CSV/TSV, each possibly gzip/zstd compressed;
// Parquet rows as JSON objects.
#include "moai/data/record_reader.h"

#include <simdjson.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "moai/core/interrupt.h"
#include "moai/data/byte_stream.h"
#include "moai/data/csv_reader.h"
#include "moai/data/parquet_reader.h"
#include "moai/data/text_fields.h"

namespace moai::data {
namespace {

// Applies the bad-record policy around one record's handling.
class RecordGuard {
 public:
  RecordGuard(const ReaderOptions& options, ReadStats& stats) : options_(options), stats_(stats) {}

  template <typename Fn>
  void run(const std::string& file, long long line, Fn&& fn) {
    try {
      fn();
    } catch (const BadRecord& bad) {
      std::string message = file_line(file, line) + ": " + bad.what();
      if (!options_.skip_bad_records) throw InputError(message);
      ++stats_.bad_records;
      if (stats_.error_messages.size() < options_.max_error_messages) {
        stats_.error_messages.push_back(message);
      }
    }
  }

 private:
  const ReaderOptions& options_;
  ReadStats& stats_;
};

void check_utf8(std::string_view text) {
  if (!simdjson::validate_utf8(text.data(), text.size())) throw BadRecord("invalid UTF-8 in text");
}

void emit_text(std::string_view text, const std::string& file, long long line, ReadStats& stats,
               const TextCallback& on_text) {
  if (text.empty()) {
    ++stats.empty_records;
    return;
  }
  ++stats.records;
  stats.bytes += text.size();
  on_text(text, file, line);
}

void read_plain_text(const InputFile& input, const ReaderOptions& options, ReadStats& stats,
                     const TextCallback& on_text) {
  LineReader lines(open_byte_stream(input.path, input.compression), input.path);
  RecordGuard guard(options, stats);
  std::string_view line;
  auto is_blank = [](std::string_view s) {
    return s.find_first_not_of(" \t\r\f\v") == std::string_view::npos;
  };
  if (options.text_split == TextSplit::kLine) {
    while (!interrupt_requested() && lines.next(line)) {
      if (is_blank(line)) continue;
      guard.run(input.path, lines.line_number(), [&] {
        check_utf8(line);
        emit_text(line, input.path, lines.line_number(), stats, on_text);
      });
    }
    return;
  }
  std::string block;
  long long block_line = 0;
  auto flush = [&] {
    if (block.empty()) return;
    guard.run(input.path, block_line, [&] {
      check_utf8(block);
      emit_text(block, input.path, block_line, stats, on_text);
    });
    block.clear();
  };
  while (!interrupt_requested() && lines.next(line)) {
    if (is_blank(line)) {
      flush();
      continue;
    }
    if (block.empty()) {
      block_line = lines.line_number();
    } else {
      block.push_back('\n');
    }
    block.append(line);
  }
  flush();
}

// Handles JSON objects for text extraction: detection on the first usable record, then extraction.
class JsonTextExtractor {
 public:
  JsonTextExtractor(const ReaderOptions& options, ReadStats& stats, const InputFile& input)
      : options_(options), stats_(stats), input_(input) {}

  void handle(simdjson::dom::element record, long long line, const TextCallback& on_text) {
    if (!record.is_object()) throw BadRecord("expected a JSON object, got " + type_name(record));
    simdjson::dom::object object = record.get_object().value_unsafe();
    if (fields_.empty()) {
      fields_ = options_.text_columns.empty() ? detect_text_fields(object, options_.text_column)
                                              : options_.text_columns;
      if (fields_.empty()) {
        throw BadRecord("no text field found (expected \"" + options_.text_column +
                        "\", one of text/content/sentence/..., or a string field over 10 "
                        "characters; choose with --text_column)");
      }
      std::string joined;
      for (const auto& field : fields_) joined += (joined.empty() ? "" : ",") + field;
      stats_.fields_detected.push_back(input_.path + ": " + joined);
    }
    extract_text_fields(object, fields_, text_);
    emit_text(text_, input_.path, line, stats_, on_text);
  }

 private:
  const ReaderOptions& options_;
  ReadStats& stats_;
  const InputFile& input_;
  std::vector<std::string> fields_;
  std::string text_;
};

void read_jsonl(
    const InputFile& input, const ReaderOptions& options, ReadStats& stats,
    const std::function<void(simdjson::dom::element, std::string_view, long long)>& on) {
  LineReader lines(open_byte_stream(input.path, input.compression), input.path);
  RecordGuard guard(options, stats);
  simdjson::dom::parser parser;
  std::string_view line;
  while (!interrupt_requested() && lines.next(line)) {
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    long long number = lines.line_number();
    guard.run(input.path, number, [&] {
      simdjson::dom::element element;
      auto error = parser.parse(line.data(), line.size(), true).get(element);
      if (error) throw BadRecord(std::string("malformed JSON: ") + simdjson::error_message(error));
      on(element, line, number);
    });
  }
}

void read_json_array(
    const InputFile& input, const ReaderOptions& options, ReadStats& stats,
    const std::function<void(simdjson::dom::element, std::string_view, long long)>& on) {
  simdjson::padded_string data(read_all(input.path, input.compression));
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(data).get(root)) {
    throw_input_error(input.path, std::string("malformed JSON: ") + simdjson::error_message(error));
  }
  simdjson::dom::array array;
  if (root.get_array().get(array)) {
    throw_input_error(input.path, "expected a JSON array of records at the top level, got " +
                                      type_name(root) + " (use .jsonl for one record per line)");
  }
  RecordGuard guard(options, stats);
  long long index = 0;
  std::string json;
  for (simdjson::dom::element element : array) {
    if (interrupt_requested()) return;
    ++index;
    guard.run(input.path, index, [&] {
      json = simdjson::minify(element);
      on(element, json, index);
    });
  }
}

void read_csv(const InputFile& input, const ReaderOptions& options, ReadStats& stats,
              const std::function<void(simdjson::dom::element, std::string_view, long long)>& on) {
  LineReader lines(open_byte_stream(input.path, input.compression), input.path);
  CsvReader csv(lines, input.format == FileFormat::kTsv ? '\t' : ',');
  std::vector<std::string> header;
  std::vector<std::string> fields;
  long long line = 0;
  if (!csv.next(header, line)) return;
  for (const std::string& name : header)
    if (!simdjson::validate_utf8(name.data(), name.size()))
      throw_input_error(file_line(input.path, line), "invalid UTF-8 in the header row");
  RecordGuard guard(options, stats);
  simdjson::dom::parser parser;
  while (!interrupt_requested()) {
    // A malformed row (bad quoting) cannot be resynchronised reliably, so it always stops the run.
    if (!csv.next(fields, line)) break;
    guard.run(input.path, line, [&] {
      if (fields.size() != header.size()) {
        throw BadRecord("row has " + std::to_string(fields.size()) + " fields, expected " +
                        std::to_string(header.size()) + " (the header's)");
      }
      nlohmann::json object = nlohmann::json::object();
      for (size_t i = 0; i < header.size(); ++i) {
        if (!simdjson::validate_utf8(fields[i].data(), fields[i].size())) {
          throw BadRecord("invalid UTF-8 in column \"" + header[i] + "\"");
        }
        object[header[i]] = fields[i];
      }
      std::string json = object.dump();
      simdjson::dom::element element;
      if (parser.parse(json).get(element)) throw BadRecord("row could not be converted to JSON");
      on(element, json, line);
    });
  }
}

using RecordFn = std::function<void(simdjson::dom::element, std::string_view, long long)>;

// Streams the rows of a Parquet file, restricted to the top-level `fields` (all when empty), as
// JSON records numbered by row.
void read_parquet_fields(const InputFile& input, const ReaderOptions& options, ReadStats& stats,
                         const std::vector<std::string>& fields, const RecordFn& on) {
  auto file = parquet::ParquetFile::open(input.path);
  std::vector<int> leaves = file->leaves_of(fields);
  if (leaves.empty()) {
    std::string have;
    for (const auto& name : file->top_fields()) have += (have.empty() ? "" : ", ") + name;
    throw_input_error(input.path,
                      "none of the requested columns is in this Parquet file (it has: " +
                          (have.empty() ? std::string("no columns") : have) + ")");
  }
  parquet::RowReader rows(file, std::move(leaves));
  RecordGuard guard(options, stats);
  simdjson::dom::parser parser;
  nlohmann::ordered_json row;
  std::string json;
  while (!interrupt_requested()) {
    bool bad_row = false;
    std::string bad_message;
    try {
      if (!rows.next(row)) break;
    } catch (const BadRecord& bad) {  // the row was consumed; only its text was unusable
      bad_row = true;
      bad_message = bad.what();
    }
    guard.run(input.path, rows.row_number(), [&] {
      if (bad_row) throw BadRecord(bad_message);
      json = row.dump();
      simdjson::dom::element element;
      if (parser.parse(json).get(element)) throw BadRecord("row could not be converted to JSON");
      on(element, json, rows.row_number());
    });
  }
}

void read_parquet(const InputFile& input, const ReaderOptions& options, ReadStats& stats,
                  const RecordFn& on) {
  read_parquet_fields(input, options, stats, {}, on);
}

// The columns text extraction will use: the chosen ones, else those detection picks on the first
// row among the string columns. Empty when detection finds none (the JSON path then reports it).
std::vector<std::string> parquet_text_fields(const parquet::ParquetFile& file,
                                             const std::shared_ptr<parquet::ParquetFile>& shared,
                                             const ReaderOptions& options) {
  if (!options.text_columns.empty()) return options.text_columns;
  std::vector<std::string> strings = file.string_fields();
  if (strings.empty()) return {};
  parquet::RowReader rows(shared, file.leaves_of(strings));
  nlohmann::ordered_json row;
  try {
    if (!rows.next(row)) return {};
  } catch (const BadRecord&) {
    return {};
  }
  simdjson::dom::parser parser;
  std::string json = row.dump();
  simdjson::dom::element element;
  if (parser.parse(json).get(element) || !element.is_object()) return {};
  return detect_text_fields(element.get_object().value_unsafe(), options.text_column);
}

// Pretraining fast path: when every text field is a plain string column, rows are joined straight
// from the column readers, as extract_text_fields joins them (nulls and empty strings skipped, a
// row with every field null is "missing text field"), without building JSON.
void read_parquet_strings(const std::shared_ptr<parquet::ParquetFile>& file, const InputFile& input,
                          const ReaderOptions& options, ReadStats& stats,
                          const std::vector<std::string>& fields, const TextCallback& on_text) {
  std::vector<int> leaves;
  std::string joined, names;
  for (const std::string& field : fields) {
    leaves.push_back(file->leaves_of({field}).at(0));
    joined += (joined.empty() ? "" : ",") + field;
    names += (names.empty() ? "\"" : ", \"") + field + "\"";
  }
  stats.fields_detected.push_back(input.path + ": " + joined);
  RecordGuard guard(options, stats);
  std::string text;
  long long row = 0;
  const auto& groups = file->metadata().row_groups;
  for (size_t g = 0; g < groups.size(); ++g) {
    std::vector<parquet::ColumnReader> columns;
    for (int leaf : leaves) columns.emplace_back(*file, static_cast<int>(g), leaf);
    for (int64_t r = 0; r < groups[g].num_rows; ++r) {
      if (interrupt_requested()) return;
      ++row;
      text.clear();
      bool present = false, valid = true;
      for (parquet::ColumnReader& column : columns) {
        parquet::LevelEntry entry;
        if (!column.next(entry)) {
          throw_input_error(input.path, "row group " + std::to_string(g) + ", column " +
                                            column.leaf().dotted_path +
                                            ": fewer values than the row group's rows");
        }
        if (entry.def != column.leaf().max_def) continue;
        present = true;
        std::string_view value = column.string_at(entry.value);
        valid = valid && simdjson::validate_utf8(value.data(), value.size());
        if (value.empty()) continue;
        if (!text.empty()) text.push_back(' ');
        text.append(value);
      }
      guard.run(input.path, row, [&] {
        if (!valid) throw BadRecord("invalid UTF-8 in text");
        if (!present) throw BadRecord("missing text field (expected " + names + ")");
        emit_text(text, input.path, row, stats, on_text);
      });
    }
  }
}

// Parquet for pretraining: the fast path when it applies, else rows as JSON records.
void read_parquet_texts(const InputFile& input, const ReaderOptions& options, ReadStats& stats,
                        const TextCallback& on_text) {
  auto file = parquet::ParquetFile::open(input.path);
  std::vector<std::string> fields = parquet_text_fields(*file, file, options);
  std::vector<std::string> strings = file->string_fields();
  bool flat_strings = !fields.empty();
  for (const std::string& field : fields) {
    flat_strings =
        flat_strings && std::find(strings.begin(), strings.end(), field) != strings.end();
  }
  if (flat_strings) return read_parquet_strings(file, input, options, stats, fields, on_text);
  JsonTextExtractor extractor(options, stats, input);
  read_parquet_fields(input, options, stats, fields.empty() ? strings : fields,
                      [&](simdjson::dom::element element, std::string_view, long long line) {
                        extractor.handle(element, line, on_text);
                      });
}

using StructuredReader =
    void (*)(const InputFile&, const ReaderOptions&, ReadStats&,
             const std::function<void(simdjson::dom::element, std::string_view, long long)>&);

StructuredReader structured_reader(FileFormat format) {
  switch (format) {
    case FileFormat::kJsonl:
      return read_jsonl;
    case FileFormat::kJsonArray:
      return read_json_array;
    case FileFormat::kCsv:
    case FileFormat::kTsv:
      return read_csv;
    case FileFormat::kParquet:
      return read_parquet;
    default:
      return nullptr;
  }
}

}  // namespace

ReadStats read_texts(const std::vector<std::string>& paths, const ReaderOptions& options,
                     const TextCallback& on_text) {
  return read_texts(expand_inputs(paths, options.format), options, on_text);
}

ReadStats read_texts(const std::vector<InputFile>& files, const ReaderOptions& options,
                     const TextCallback& on_text) {
  ReadStats stats;
  for (const InputFile& input : files) {
    if (interrupt_requested()) break;
    ++stats.files;
    if (input.format == FileFormat::kText) {
      read_plain_text(input, options, stats, on_text);
      continue;
    }
    if (input.format == FileFormat::kParquet) {
      read_parquet_texts(input, options, stats, on_text);
      continue;
    }
    JsonTextExtractor extractor(options, stats, input);
    structured_reader(input.format)(
        input, options, stats,
        [&](simdjson::dom::element element, std::string_view, long long line) {
          extractor.handle(element, line, on_text);
        });
  }
  return stats;
}

ReadStats read_json_records(const std::vector<InputFile>& files, const ReaderOptions& options,
                            const JsonRecordCallback& on_record) {
  ReadStats stats;
  for (const InputFile& input : files) {
    if (interrupt_requested()) break;
    if (input.format == FileFormat::kText) {
      throw_input_error(
          input.path,
          "plain text has no fields; SFT needs JSON, JSONL, CSV, TSV or Parquet records");
    }
    ++stats.files;
    structured_reader(input.format)(
        input, options, stats, [&](simdjson::dom::element, std::string_view json, long long line) {
          on_record(json, input.path, line);
          ++stats.records;
          stats.bytes += json.size();
        });
  }
  return stats;
}

}  // namespace moai::data
