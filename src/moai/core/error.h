#pragma once
// Typed errors. Library code throws; src/cli/main.cpp catches once and maps the category to an exit
// code: InputError -> 2 (bad usage or bad input: the message names the file, line or field and what
// was expected), IoError and InternalError -> 1.
#include <stdexcept>
#include <string>

namespace moai {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  virtual int exit_code() const { return 1; }
};

// The user gave us something wrong: a flag, a file, a record. Exit code 2.
class InputError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return 2; }
};

// The operating system failed us: disk full, permission denied, short read.
class IoError : public Error {
 public:
  using Error::Error;
};

// A bug in moai: an invariant that user input cannot break was broken.
class InternalError : public Error {
 public:
  using Error::Error;
};

// Builders that put the location first, so every message reads "where: what".
[[noreturn]] void throw_input_error(const std::string& where, const std::string& what);
[[noreturn]] void throw_io_error(const std::string& where, const std::string& what);
[[noreturn]] void throw_internal_error(const char* file, int line, const std::string& what);

// "file:line" for messages about a record in a text file (line is 1-based; 0 omits it).
std::string file_line(const std::string& path, long long line);

}  // namespace moai

// Always-on check for programmer errors (never for user input).
#define MOAI_CHECK(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) ::moai::throw_internal_error(__FILE__, __LINE__, "check failed: " #cond); \
  } while (0)

#ifdef NDEBUG
#define MOAI_DCHECK(cond) \
  do {                    \
  } while (0)
#else
#define MOAI_DCHECK(cond) MOAI_CHECK(cond)
#endif
