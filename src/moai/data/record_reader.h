#pragma once
// Streaming readers for training text. One call walks a list of files, directories and globs,
// decodes each file by its format (plain text, JSON array, JSONL, CSV/TSV with a header; each
// optionally .gz or .zst; Parquet, recognised by its magic bytes) and calls back once per record
// with its text and where it came from (file, 1-based line; for Parquet the 1-based row). A
// Parquet row is the same record object a JSONL line is (parquet_reader.h says how columns map to
// JSON); in text mode only the string columns detection needs are decoded. Nothing is held beyond
// the current record, except for JSON array files
// (.json), which are parsed whole.
//
// Text-field detection follows the original train_tokenizer.py (inventory §2.3), decided per file
// on its first record: `text_column` if that field is present and non-empty; else every non-empty
// field from kTextFieldPriority, in that order; else every string field longer than 10 characters.
// Multiple fields are joined by a space. `text_columns` (non-empty) switches detection off and
// joins exactly those fields.
//
// Bad records (malformed JSON, a missing or non-string field, invalid UTF-8, a truncated compressed
// stream) throw InputError "file:line: what" (exit 2), unless skip_bad_records is set: then they
// are counted in ReadStats and the first few messages kept for the report. Empty texts are counted,
// never silently lost.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "moai/core/error.h"

namespace moai::data {

// Thrown by a record callback to say "this record is bad": the reader adds file:line, then stops
// (exit 2) or, under skip_bad_records, counts it and goes on. Any other exception from a callback
// propagates as is.
class BadRecord : public InputError {
 public:
  using InputError::InputError;
};

enum class FileFormat { kAuto, kText, kJsonl, kJsonArray, kCsv, kTsv, kParquet };
enum class Compression { kNone, kGzip, kZstd };
// Plain text: one document per blank-line-separated block (the corpora's layout), or one per line.
enum class TextSplit { kBlankLine, kLine };

// The field list the original tries, in order, when `text_column` is absent.
extern const std::vector<std::string> kTextFieldPriority;

struct ReaderOptions {
  FileFormat format =
      FileFormat::kAuto;  // kAuto: from the content's magic bytes, else the extension
                          // (.txt/.jsonl/.json/.csv/.tsv [.gz|.zst], .parquet)
  TextSplit text_split = TextSplit::kBlankLine;
  std::string text_column = "text";       // preferred field for detection
  std::vector<std::string> text_columns;  // non-empty: join exactly these, no detection
  bool skip_bad_records = false;
  size_t max_error_messages = 10;  // how many skipped-record messages ReadStats keeps
};

struct InputFile {
  std::string path;
  FileFormat format = FileFormat::kText;
  Compression compression = Compression::kNone;
};

struct ReadStats {
  uint64_t files = 0;
  uint64_t records = 0;                      // records handed to the callback
  uint64_t bad_records = 0;                  // skipped under skip_bad_records
  uint64_t empty_records = 0;                // records whose text was empty (not passed on)
  uint64_t bytes = 0;                        // bytes of text passed on
  std::vector<std::string> fields_detected;  // "file: field,field" per structured file
  std::vector<std::string> error_messages;   // first max_error_messages skipped-record messages
};

// Expands paths into files, in a stable order: a file as given; a directory recursively (files with
// a known extension, sorted by path, hidden entries skipped); a glob pattern sorted. Throws
// InputError for a path that matches nothing. An explicit file with an unknown extension is read as
// plain text. Content wins over the name: Parquet, gzip and zstd are recognised by their magic
// bytes, and other binary data (zip, xz, bzip2, Arrow, NUL bytes, ...) is refused with InputError.
std::vector<InputFile> expand_inputs(const std::vector<std::string>& paths,
                                     FileFormat forced_format = FileFormat::kAuto);

// (text, file, line). The string_view is valid only during the call.
using TextCallback =
    std::function<void(std::string_view text, const std::string& file, long long line)>;

// Streams texts from every file of `paths`, in order. Stops early (returning the stats so far) when
// Ctrl-C is requested (moai/core/interrupt.h); the caller checks interrupt_requested(). A callback
// may throw to abort; the exception propagates.
ReadStats read_texts(const std::vector<std::string>& paths, const ReaderOptions& options,
                     const TextCallback& on_text);
ReadStats read_texts(const std::vector<InputFile>& files, const ReaderOptions& options,
                     const TextCallback& on_text);

// Structured records for SFT: each JSON/JSONL record (or CSV row, converted to a JSON object of
// strings; or Parquet row, converted to a JSON object of its columns) as JSON text that is known to
// parse. Plain-text files are rejected with InputError (SFT needs fields). For JSON array files
// `line` is the record's 1-based index in the array.
using JsonRecordCallback =
    std::function<void(std::string_view json, const std::string& file, long long line)>;
ReadStats read_json_records(const std::vector<InputFile>& files, const ReaderOptions& options,
                            const JsonRecordCallback& on_record);

}  // namespace moai::data
