#include "moai/data/dataset_info.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace moai::data {

LengthHistogram document_length_histogram(const PreparedDataset& dataset,
                                          const std::string& split) {
  LengthHistogram h;
  std::vector<uint64_t> lengths;
  for (const ShardReader& shard : dataset.shards(split)) {
    auto offsets = shard.offsets();
    for (uint64_t d = 0; d < shard.num_documents(); ++d)
      lengths.push_back(offsets[d + 1] - offsets[d]);
  }
  if (lengths.empty()) return h;
  uint64_t total = 0;
  for (uint64_t length : lengths) {
    size_t bucket = length <= 1 ? 0 : 63 - __builtin_clzll(length);
    if (h.buckets.size() <= bucket) h.buckets.resize(bucket + 1, 0);
    ++h.buckets[bucket];
    total += length;
  }
  std::nth_element(lengths.begin(), lengths.begin() + lengths.size() / 2, lengths.end());
  h.median_length = lengths[lengths.size() / 2];
  h.min_length = *std::min_element(lengths.begin(), lengths.end());
  h.max_length = *std::max_element(lengths.begin(), lengths.end());
  h.mean_length = static_cast<double>(total) / lengths.size();
  return h;
}

namespace {

void report_split(std::ostringstream& out, const PreparedDataset& dataset, const std::string& name,
                  const SplitInfo& info) {
  char line[256];
  out << name << ":\n";
  std::snprintf(line, sizeof(line), "  documents       %llu\n  tokens          %llu\n",
                static_cast<unsigned long long>(info.documents),
                static_cast<unsigned long long>(info.tokens));
  out << line;
  if (info.tokens > 0) {
    std::snprintf(line, sizeof(line), "  bytes/token     %.3f (%llu text bytes)\n",
                  static_cast<double>(info.text_bytes) / info.tokens,
                  static_cast<unsigned long long>(info.text_bytes));
    out << line;
  }
  if (dataset.mode() == DatasetMode::kSft && info.tokens > 0) {
    std::snprintf(line, sizeof(line), "  trained tokens  %llu (%.1f%% of all tokens)\n",
                  static_cast<unsigned long long>(info.trained_tokens),
                  100.0 * info.trained_tokens / info.tokens);
    out << line;
  }
  out << "  shards          " << info.shards.size();
  for (const auto& shard : info.shards) out << " " << shard;
  out << "\n";
  LengthHistogram h = document_length_histogram(dataset, name);
  if (h.buckets.empty()) return;
  std::snprintf(line, sizeof(line),
                "  length          min %llu, median %llu, mean %.1f, max %llu tokens\n",
                static_cast<unsigned long long>(h.min_length),
                static_cast<unsigned long long>(h.median_length), h.mean_length,
                static_cast<unsigned long long>(h.max_length));
  out << line;
  uint64_t peak = *std::max_element(h.buckets.begin(), h.buckets.end());
  for (size_t b = 0; b < h.buckets.size(); ++b) {
    if (h.buckets[b] == 0) continue;
    int bar = static_cast<int>(std::lround(40.0 * h.buckets[b] / std::max<uint64_t>(peak, 1)));
    std::snprintf(line, sizeof(line), "  %8llu-%-8llu %8llu %s\n", 1ULL << b, (2ULL << b) - 1,
                  static_cast<unsigned long long>(h.buckets[b]),
                  std::string(std::max(bar, 1), '#').c_str());
    out << line;
  }
}

}  // namespace

std::string format_dataset_report(const PreparedDataset& dataset) {
  const DatasetManifest& m = dataset.manifest();
  std::ostringstream out;
  out << "dataset         " << dataset.directory() << "\n";
  out << "mode            " << (m.mode == DatasetMode::kSft ? "sft" : "pretrain") << "\n";
  out << "tokenizer       " << m.tokenizer_path << " (vocab " << m.vocab_size << ")\n";
  out << "inputs          " << m.inputs.size() << " file(s)\n";
  for (const auto& input : m.inputs) out << "  " << input << "\n";
  if (!m.fields_detected.empty()) {
    out << "fields detected\n";
    for (const auto& f : m.fields_detected) out << "  " << f << "\n";
  }
  if (!m.sft_formats.empty()) {
    out << "sft formats\n";
    for (const auto& f : m.sft_formats) out << "  " << f << "\n";
  }
  out << "skipped         " << m.bad_records << " bad record(s), " << m.empty_records
      << " empty record(s)";
  if (m.mode == DatasetMode::kSft) {
    out << ", " << m.truncated_samples << " truncated and " << m.dropped_samples
        << " dropped over-long sample(s)";
  }
  out << "\n";
  report_split(out, dataset, "train", m.train);
  if (m.validation.documents > 0) report_split(out, dataset, "validation", m.validation);
  return out.str();
}

}  // namespace moai::data
