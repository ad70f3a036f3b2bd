#pragma once
// Hugging Face `datasets` split syntax: "train", "train[:1%]", "train[10:20]", "train[-5%:]",
// "train[:50%]+validation". Bounds are record indices (or percentages of the split's records) as
// moai's readers deliver them; percentages round to the closest record, ties to even, like
// datasets' ReadInstruction with rounding "closest" (int(round(pct * n / 100))). Negative bounds
// count from the end; bounds are clamped to [0, n].
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace moai::data {

struct SplitSlice {
  std::string split = "train";
  std::optional<int64_t> from;
  std::optional<int64_t> to;
  bool percent = false;

  bool whole() const { return !from && !to; }
  // True when resolving needs the split's record count (percentages, negative bounds).
  bool needs_total() const;
  // [begin, end) record indices for a split of `total` records.
  std::pair<uint64_t, uint64_t> resolve(uint64_t total) const;
  // [begin, end) when no total is needed (needs_total() false); end is UINT64_MAX when open.
  std::pair<uint64_t, uint64_t> resolve_without_total() const;
  std::string text() const;  // canonical spelling, e.g. "train[10:20]"
};

// Parses "a[..]+b[..]"; InputError naming `where` on bad syntax.
std::vector<SplitSlice> parse_split_spec(const std::string& spec, const std::string& where);

// A slice of the records read from some input files (prepare applies it).
struct InputSlice {
  std::vector<std::string> files;  // the slice's files, in order
  SplitSlice slice;
};

// Decides, record by record, whether a record of a sliced file is kept. Files not in any slice are
// kept whole. Feed every record, in reading order.
class RowSelector {
 public:
  RowSelector() = default;
  // totals[i]: record count of slices[i] (only used when slices[i].needs_total()).
  RowSelector(const std::vector<InputSlice>& slices, const std::vector<uint64_t>& totals);
  bool keep(const std::string& file);

 private:
  struct Part {
    uint64_t begin = 0, end = 0, seen = 0;
  };
  std::vector<Part> parts_;
  std::map<std::string, size_t> part_of_file_;
};

}  // namespace moai::data
