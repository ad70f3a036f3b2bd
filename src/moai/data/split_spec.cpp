// HF split slicing (split_spec.h).
#include "moai/data/split_spec.h"

#include <cctype>
#include <cfenv>
#include <cmath>
#include <limits>

#include "moai/core/error.h"

namespace moai::data {
namespace {

bool is_split_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

// "-12" or "12%" (or empty) -> value, percent flag.
bool parse_bound(const std::string& s, std::optional<int64_t>& value, bool& percent) {
  percent = false;
  value.reset();
  if (s.empty()) return true;
  std::string digits = s;
  if (digits.back() == '%') {
    percent = true;
    digits.pop_back();
  }
  size_t start = !digits.empty() && digits[0] == '-' ? 1 : 0;
  if (digits.size() == start || digits.size() > 18) return false;
  for (size_t i = start; i < digits.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(digits[i]))) return false;
  }
  value = std::stoll(digits);
  return true;
}

SplitSlice parse_one(const std::string& part, const std::string& where) {
  auto bad = [&](const std::string& why) -> SplitSlice {
    throw_input_error(where,
                      "\"" + part + "\": " + why +
                          " (expected e.g. train, train[:10%], train[100:200], train[-5%:])");
  };
  SplitSlice slice;
  size_t bracket = part.find('[');
  slice.split = part.substr(0, bracket);
  if (!is_split_name(slice.split)) return bad("bad split name");
  if (bracket == std::string::npos) return slice;
  if (part.back() != ']') return bad("missing ']'");
  std::string inside = part.substr(bracket + 1, part.size() - bracket - 2);
  size_t colon = inside.find(':');
  if (colon == std::string::npos) return bad("a slice needs ':'");
  bool from_pct = false, to_pct = false;
  if (!parse_bound(inside.substr(0, colon), slice.from, from_pct) ||
      !parse_bound(inside.substr(colon + 1), slice.to, to_pct)) {
    return bad("bounds must be integers, optionally with %");
  }
  if (slice.from && slice.to && from_pct != to_pct)
    return bad("both bounds must use the same unit");
  slice.percent = from_pct || to_pct;
  for (const auto& b : {slice.from, slice.to}) {
    if (slice.percent && b && (*b < -100 || *b > 100))
      return bad("percent bounds lie in -100..100");
  }
  return slice;
}

// int(round(pct * n / 100)) with Python's round (ties to even).
int64_t pct_to_abs_closest(int64_t pct, uint64_t total) {
  const double x = static_cast<double>(pct) * static_cast<double>(total) / 100.0;
  std::fesetround(FE_TONEAREST);
  return static_cast<int64_t>(std::nearbyint(x));
}

}  // namespace

bool SplitSlice::needs_total() const {
  return percent || (from && *from < 0) || (to && *to < 0);
}

std::pair<uint64_t, uint64_t> SplitSlice::resolve(uint64_t total) const {
  const int64_t n = static_cast<int64_t>(total);
  int64_t begin = 0, end = n;
  if (from) begin = percent ? pct_to_abs_closest(*from, total) : *from;
  if (to) end = percent ? pct_to_abs_closest(*to, total) : *to;
  if (begin < 0) begin = std::max<int64_t>(n + begin, 0);
  if (end < 0) end = std::max<int64_t>(n + end, 0);
  begin = std::min(begin, n);
  end = std::min(end, n);
  return {static_cast<uint64_t>(begin), static_cast<uint64_t>(std::max(begin, end))};
}

std::pair<uint64_t, uint64_t> SplitSlice::resolve_without_total() const {
  MOAI_CHECK(!needs_total());
  uint64_t begin = from ? static_cast<uint64_t>(*from) : 0;
  uint64_t end = to ? static_cast<uint64_t>(*to) : std::numeric_limits<uint64_t>::max();
  return {begin, std::max(begin, end)};
}

std::string SplitSlice::text() const {
  if (whole()) return split;
  const std::string unit = percent ? "%" : "";
  return split + "[" + (from ? std::to_string(*from) + unit : "") + ":" +
         (to ? std::to_string(*to) + unit : "") + "]";
}

std::vector<SplitSlice> parse_split_spec(const std::string& spec, const std::string& where) {
  std::vector<SplitSlice> out;
  std::string compact;
  for (char c : spec) {
    if (!std::isspace(static_cast<unsigned char>(c))) compact += c;
  }
  size_t start = 0;
  while (true) {
    size_t plus = compact.find('+', start);
    out.push_back(parse_one(compact.substr(start, plus - start), where));
    if (plus == std::string::npos) break;
    start = plus + 1;
  }
  return out;
}

RowSelector::RowSelector(const std::vector<InputSlice>& slices,
                         const std::vector<uint64_t>& totals) {
  for (size_t i = 0; i < slices.size(); ++i) {
    const SplitSlice& s = slices[i].slice;
    auto [begin, end] = s.needs_total() ? s.resolve(totals.at(i)) : s.resolve_without_total();
    parts_.push_back({begin, end, 0});
    for (const std::string& file : slices[i].files) part_of_file_[file] = i;
  }
}

bool RowSelector::keep(const std::string& file) {
  auto it = part_of_file_.find(file);
  if (it == part_of_file_.end()) return true;
  Part& part = parts_[it->second];
  uint64_t index = part.seen++;
  return index >= part.begin && index < part.end;
}

}  // namespace moai::data
