#pragma once
// Statistics of a prepared dataset for `moai data info` (the original's check_dataset, made
// useful): documents, tokens, bytes per token, a document-length histogram, detected fields and SFT
// formats, shards, and for SFT the share of tokens that are training targets.
#include <cstdint>
#include <string>
#include <vector>

#include "moai/data/prepared_dataset.h"

namespace moai::data {

struct LengthHistogram {
  // Bucket b counts documents with length in [2^b, 2^(b+1)) tokens (bucket 0 also holds length 0).
  std::vector<uint64_t> buckets;
  uint64_t min_length = 0;
  uint64_t max_length = 0;
  double mean_length = 0.0;
  uint64_t median_length = 0;
};

LengthHistogram document_length_histogram(const PreparedDataset& dataset, const std::string& split);

// A human-readable multi-line report.
std::string format_dataset_report(const PreparedDataset& dataset);

}  // namespace moai::data
