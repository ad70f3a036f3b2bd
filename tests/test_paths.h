#pragma once
// Where tests find shared reference data. MOAI_GOLDEN_DIR / MOAI_ASSETS_DIR win; otherwise
// ../shared beside the checkout. A test that needs them calls MOAI_REQUIRE_GOLDEN() /
// MOAI_REQUIRE_ASSETS(), which skips with a clear message when the folder is absent (CI always has
// it).
#include <gtest/gtest.h>

#include <string>

namespace moai::test {

std::string golden_dir();   // empty when not found
std::string assets_dir();   // empty when not found
std::string shared_dir();   // ../shared (peers/ lives there); empty when not found
std::string source_dir();   // the checkout root
std::string moai_binary();  // path of the built moai CLI
std::string temp_dir(
    const std::string& name);  // a fresh empty directory under the build tree, per process

}  // namespace moai::test

#define MOAI_REQUIRE_GOLDEN()                                                                   \
  do {                                                                                          \
    if (::moai::test::golden_dir().empty())                                                     \
      GTEST_SKIP()                                                                              \
          << "golden data not found: set MOAI_GOLDEN_DIR or put ../shared beside the checkout"; \
  } while (0)
#define MOAI_REQUIRE_ASSETS()                                                              \
  do {                                                                                     \
    if (::moai::test::assets_dir().empty())                                                \
      GTEST_SKIP()                                                                         \
          << "assets not found: set MOAI_ASSETS_DIR or put ../shared beside the checkout"; \
  } while (0)
