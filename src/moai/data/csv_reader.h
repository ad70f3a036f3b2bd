#pragma once
// CSV/TSV rows (RFC 4180 quoting: a field starting with '"' may hold the delimiter, newlines and
// doubled quotes). The first row is the header. Rows are returned with the line they start on.
#include <string>
#include <vector>

#include "moai/data/byte_stream.h"

namespace moai::data {

class CsvReader {
 public:
  CsvReader(LineReader& lines, char delimiter);
  // Reads the next row into `fields`; false at the end. A malformed row (unterminated quote, text
  // after a closing quote) throws InputError "file:line: ...". `start_line` is the row's first
  // line.
  bool next(std::vector<std::string>& fields, long long& start_line);

 private:
  LineReader& lines_;
  char delimiter_;
};

}  // namespace moai::data
