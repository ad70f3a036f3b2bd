// Replays every committed fuzz input (tests/fuzz/corpus/<target>/: seeds, inputs libFuzzer found
// interesting, and every crash once fixed) through its entry point in the normal build, so the
// sanitizer pass of `make test` guards each of them.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "entries/fuzz_entries.h"

namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class FuzzReplay : public testing::TestWithParam<moai::fuzz::Entry> {};

TEST_P(FuzzReplay, CommittedCorpusRunsClean) {
  const auto& entry = GetParam();
  const fs::path dir = fs::path(MOAI_SOURCE_DIR) / "tests/fuzz/corpus" / entry.name;
  ASSERT_TRUE(fs::is_directory(dir))
      << "no seed corpus for fuzz target " << entry.name << " in " << dir;
  std::vector<fs::path> files;
  for (const auto& item : fs::directory_iterator(dir))
    if (item.is_regular_file()) files.push_back(item.path());
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty()) << dir << " is empty";
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const auto bytes = read_bytes(file);
    EXPECT_NO_THROW(entry.fn(bytes.data(), bytes.size()));
  }
}

INSTANTIATE_TEST_SUITE_P(AllTargets, FuzzReplay, testing::ValuesIn(moai::fuzz::entries()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
