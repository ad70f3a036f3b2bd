#pragma once
// Paths of the committed reference data (tests/eval/data, written by tests/eval/make_reference.py).
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "test_paths.h"

namespace moai::test {

inline std::string eval_data_dir() {
  return source_dir() + "/tests/eval/data";
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

}  // namespace moai::test
