#pragma once
// Internal base of the pretrain and SFT loaders: epochs, deterministic shuffles, dealing rows to
// ranks, batching and resume state. A subclass says how many rows an epoch has and how to fill one.
#include <cstdint>
#include <vector>

#include "moai/data/loader.h"

namespace moai::data {

// Portable deterministic permutation of [0, n): Fisher-Yates driven by splitmix64 of (seed, epoch,
// salt), so the order is the same on every platform and standard library.
std::vector<uint32_t> shuffled_indices(uint64_t n, uint64_t seed, uint64_t epoch, uint64_t salt);

// Pointers to one row (seq_len entries each) inside a Batch.
struct RowView {
  int32_t* input_ids;
  int32_t* labels;
  int32_t* position_ids;
  int32_t* segment_ids;
};

class RowLoader : public BatchLoader {
 public:
  explicit RowLoader(const LoaderOptions& options);
  void next(Batch& batch) override;
  uint64_t batches_per_epoch() const override;
  LoaderState state() const override;
  void restore(const LoaderState& state) override;

 protected:
  // Called before the first row of an epoch is filled (and after restore). Must be deterministic.
  virtual void start_epoch(uint64_t epoch) = 0;
  virtual uint64_t num_rows() const = 0;  // rows of one epoch over all ranks (same every epoch)
  // Fills entries [0, seq_len) of row; entries it does not reach are padded by the caller: returns
  // how many positions hold real tokens and the number of segments used.
  virtual void fill_row(uint64_t row, const RowView& out, int64_t& used, int32_t& segments) = 0;
  // Call once num_rows() is known (end of the subclass constructor).
  void initialize();

  LoaderOptions options_;

 private:
  uint64_t epoch_ = 0;
  uint64_t batch_in_epoch_ = 0;
  uint64_t prepared_epoch_ = UINT64_MAX;
  uint64_t batches_per_epoch_ = 0;
};

}  // namespace moai::data
