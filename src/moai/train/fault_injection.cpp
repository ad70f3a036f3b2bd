#include "moai/train/fault_injection.h"

#include <cstdlib>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "moai/core/error.h"

namespace moai::train {

namespace {

int64_t parse_step(const std::string& text, const std::string& spec) {
  size_t used = 0;
  long long value = -1;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
  }
  if (text.empty() || used != text.size() || value < 1)
    throw_input_error("MOAI_DEBUG_NAN_AT",
                      "expected steps like 3, 3-5 or 2,7-9 (1-based), got \"" + spec + "\"");
  return value;
}

std::vector<std::pair<int64_t, int64_t>> parse_ranges(const std::string& spec) {
  std::vector<std::pair<int64_t, int64_t>> ranges;
  std::stringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) {
    const size_t dash = item.find('-');
    const int64_t first = parse_step(item.substr(0, dash), spec);
    const int64_t last =
        dash == std::string::npos ? first : parse_step(item.substr(dash + 1), spec);
    ranges.emplace_back(first, last);
  }
  return ranges;
}

}  // namespace

bool debug_nan_at(int64_t step) {
  static const auto ranges = [] {
    const char* env = std::getenv("MOAI_DEBUG_NAN_AT");
    return env ? parse_ranges(env) : std::vector<std::pair<int64_t, int64_t>>{};
  }();
  for (const auto& [first, last] : ranges)
    if (step >= first && step <= last) return true;
  return false;
}

}  // namespace moai::train
