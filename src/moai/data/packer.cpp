#include "moai/data/packer.h"

#include <algorithm>
#include <map>
#include <numeric>

#include "moai/core/error.h"

namespace moai::data {

std::vector<PackedRow> pack_best_fit_decreasing(std::span<const uint32_t> lengths,
                                                uint64_t capacity) {
  std::vector<uint32_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return lengths[a] > lengths[b]; });
  std::vector<PackedRow> rows;
  // Open rows keyed by remaining room; multimap keeps equal rooms in creation order
  // (deterministic).
  std::multimap<uint64_t, size_t> room_to_row;
  for (uint32_t sample : order) {
    uint64_t length = lengths[sample];
    MOAI_CHECK(length >= 1 && length <= capacity);
    auto best = room_to_row.lower_bound(length);  // the tightest row that still fits
    size_t row_index;
    if (best == room_to_row.end()) {
      row_index = rows.size();
      rows.emplace_back();
    } else {
      row_index = best->second;
      room_to_row.erase(best);
    }
    PackedRow& row = rows[row_index];
    row.samples.push_back(sample);
    row.used += length;
    if (row.used < capacity) room_to_row.emplace(capacity - row.used, row_index);
  }
  return rows;
}

double packing_efficiency(const std::vector<PackedRow>& rows, uint64_t capacity) {
  if (rows.empty()) return 1.0;
  uint64_t used = 0;
  for (const auto& row : rows) used += row.used;
  return static_cast<double>(used) / (static_cast<double>(rows.size()) * capacity);
}

}  // namespace moai::data
