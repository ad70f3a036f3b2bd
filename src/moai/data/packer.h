#pragma once
// Balanced packing of variable-length samples into fixed-capacity rows: the packer the original
// advertised as HierarchicalBalancePacker but never shipped (inventory §3.10). Best-fit-decreasing:
// samples sorted by length (longest first, ties by index for determinism) each go to the open row
// with the least room that still fits them, else to a new row. BFD uses at most 11/9 OPT + 1 rows;
// on typical SFT length distributions it fills > 95% of each row.
#include <cstdint>
#include <span>
#include <vector>

namespace moai::data {

struct PackedRow {
  std::vector<uint32_t> samples;  // indices into the input lengths, in placement order
  uint64_t used = 0;              // sum of their lengths
};

// lengths[i] must be in [1, capacity]; InternalError otherwise (callers check and report).
std::vector<PackedRow> pack_best_fit_decreasing(std::span<const uint32_t> lengths,
                                                uint64_t capacity);

// used / (rows * capacity): 1.0 is perfect.
double packing_efficiency(const std::vector<PackedRow>& rows, uint64_t capacity);

}  // namespace moai::data
