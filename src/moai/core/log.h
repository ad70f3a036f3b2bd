#pragma once
// Minimal leveled logging to stderr. The level comes from MOAI_LOG (debug|info|warn|error) or
// set_log_level.
#include <sstream>
#include <string>

namespace moai {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kQuiet = 4 };

void set_log_level(LogLevel level);
LogLevel log_level();
void log_message(LogLevel level, const std::string& message);

}  // namespace moai

#define MOAI_LOG(level, expr)                                               \
  do {                                                                      \
    if (::moai::LogLevel::level >= ::moai::log_level()) {                   \
      std::ostringstream moai_log_stream_;                                  \
      /* NOLINTNEXTLINE(bugprone-macro-parentheses): expr is a << chain */  \
      moai_log_stream_ << expr;                                             \
      ::moai::log_message(::moai::LogLevel::level, moai_log_stream_.str()); \
    }                                                                       \
  } while (0)
#define MOAI_DEBUG(expr) MOAI_LOG(kDebug, expr)
#define MOAI_INFO(expr) MOAI_LOG(kInfo, expr)
#define MOAI_WARN(expr) MOAI_LOG(kWarn, expr)
#define MOAI_ERROR(expr) MOAI_LOG(kError, expr)
