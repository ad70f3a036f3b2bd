#include "moai/data/csv_reader.h"

#include "moai/core/error.h"

namespace moai::data {

CsvReader::CsvReader(LineReader& lines, char delimiter) : lines_(lines), delimiter_(delimiter) {}

bool CsvReader::next(std::vector<std::string>& fields, long long& start_line) {
  std::string_view line;
  do {
    if (!lines_.next(line)) return false;
  } while (line.empty());  // blank lines between rows carry no record
  start_line = lines_.line_number();
  fields.clear();
  std::string field;
  size_t pos = 0;
  while (true) {
    field.clear();
    if (pos < line.size() && line[pos] == '"') {
      ++pos;
      while (true) {
        if (pos >= line.size()) {
          // The quoted field continues on the next physical line.
          if (!lines_.next(line)) {
            throw_input_error(file_line(lines_.path(), start_line),
                              "unterminated quoted field (expected a closing '\"')");
          }
          field.push_back('\n');
          pos = 0;
          continue;
        }
        char c = line[pos];
        if (c == '"') {
          if (pos + 1 < line.size() && line[pos + 1] == '"') {
            field.push_back('"');
            pos += 2;
            continue;
          }
          ++pos;
          break;
        }
        field.push_back(c);
        ++pos;
      }
      if (pos < line.size() && line[pos] != delimiter_) {
        throw_input_error(file_line(lines_.path(), lines_.line_number()),
                          "unexpected text after a closing quote (expected a delimiter)");
      }
    } else {
      size_t stop = line.find(delimiter_, pos);
      if (stop == std::string_view::npos) stop = line.size();
      field.assign(line.substr(pos, stop - pos));
      pos = stop;
    }
    fields.push_back(field);
    if (pos >= line.size()) break;
    ++pos;  // skip the delimiter
    if (pos == line.size()) {
      fields.emplace_back();  // trailing delimiter: one more empty field
      break;
    }
  }
  return true;
}

}  // namespace moai::data
