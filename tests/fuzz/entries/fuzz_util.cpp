#include "fuzz_util.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace moai::fuzz {

namespace {
// A per-process directory, removed at exit.
struct ScratchDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("moai-fuzz-" + std::to_string(getpid()));
  ScratchDir() { std::filesystem::create_directories(path); }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};
}  // namespace

std::string scratch_file(std::string_view bytes, const std::string& suffix) {
  static const ScratchDir dir;
  const std::string path = (dir.path / ("input" + suffix)).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) std::perror(path.c_str());
  return path;
}

}  // namespace moai::fuzz
