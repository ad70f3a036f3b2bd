#include "moai/core/error.h"

#include <cerrno>
#include <cstring>

namespace moai {

void throw_input_error(const std::string& where, const std::string& what) {
  throw InputError(where.empty() ? what : where + ": " + what);
}

void throw_io_error(const std::string& where, const std::string& what) {
  throw IoError(where.empty() ? what : where + ": " + what);
}

void throw_internal_error(const char* file, int line, const std::string& what) {
  throw InternalError(std::string("internal error at ") + file + ":" + std::to_string(line) + ": " +
                      what);
}

std::string file_line(const std::string& path, long long line) {
  return line > 0 ? path + ":" + std::to_string(line) : path;
}

}  // namespace moai
