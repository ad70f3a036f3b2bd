#include "test_paths.h"

#include <unistd.h>
#include <cstdlib>

#include <filesystem>

namespace moai::test {
namespace fs = std::filesystem;

namespace {
std::string from_env_or(const char* env, const std::string& fallback) {
  if (const char* value = std::getenv(env); value != nullptr && *value != '\0') {
    return fs::is_directory(value) ? std::string(value) : std::string();
  }
  return fs::is_directory(fallback) ? fallback : std::string();
}
}  // namespace

std::string source_dir() {
  return MOAI_SOURCE_DIR;
}
std::string shared_dir() {
  return from_env_or("MOAI_SHARED_DIR", source_dir() + "/../shared");
}
std::string golden_dir() {
  return from_env_or("MOAI_GOLDEN_DIR", source_dir() + "/../shared/golden");
}
std::string assets_dir() {
  return from_env_or("MOAI_ASSETS_DIR", source_dir() + "/../shared/assets");
}

std::string moai_binary() {
  if (const char* value = std::getenv("MOAI_BIN"); value != nullptr && *value != '\0') return value;
  return std::string(MOAI_BINARY_DIR) + "/moai";
}

std::string temp_dir(const std::string& name) {
  // CTest runs each test in its own process, several at once: the process id keeps two tests that
  // use the same name (a suite's shared fixture, say) from deleting each other's files.
  fs::path dir = fs::path(MOAI_BINARY_DIR) / "test_tmp" / (name + "." + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  return dir.string();
}

}  // namespace moai::test
