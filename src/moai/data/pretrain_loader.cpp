// Pretrain loader: windows of seq_len + 1 tokens over the split's token stream (loader.h explains
// the conventions).
#include <algorithm>

#include "moai/core/error.h"
#include "moai/data/row_loader.h"

namespace moai::data {
namespace {

class PretrainLoader : public RowLoader {
 public:
  PretrainLoader(const PreparedDataset& dataset, const LoaderOptions& options)
      : RowLoader(options), dataset_(dataset) {
    uint64_t position = 0;
    for (const ShardReader& shard : dataset.shards(options.split)) {
      shard_start_.push_back(position);
      auto offsets = shard.offsets();
      for (uint64_t d = 0; d < shard.num_documents(); ++d) {
        if (offsets[d + 1] > offsets[d]) doc_start_.push_back(position + offsets[d]);
      }
      position += shard.num_tokens();
    }
    total_tokens_ = position;
    if (total_tokens_ < 2) {
      throw_input_error(dataset.directory(), "split \"" + options.split + "\" has " +
                                                 std::to_string(total_tokens_) +
                                                 " tokens; a training window needs at least 2");
    }
    const uint64_t seq = static_cast<uint64_t>(options.seq_len);
    num_windows_ = (total_tokens_ - 1 + seq - 1) / seq;
    if (num_windows_ > UINT32_MAX)
      throw_input_error("--max_seq_length", "too many windows (> 2^32)");
    initialize();
  }

  uint64_t num_rows() const override { return num_windows_; }

  double token_efficiency() const override {
    return static_cast<double>(total_tokens_ - 1) /
           (static_cast<double>(num_windows_) * static_cast<double>(options_.seq_len));
  }

 protected:
  void start_epoch(uint64_t epoch) override {
    if (options_.shuffle) {
      order_ = shuffled_indices(num_windows_, options_.seed, epoch, 0x7072657472ULL);
    } else {
      order_.resize(num_windows_);
      for (uint64_t i = 0; i < num_windows_; ++i) order_[i] = static_cast<uint32_t>(i);
    }
  }

  void fill_row(uint64_t row, const RowView& out, int64_t& used, int32_t& segments) override {
    const uint64_t seq = static_cast<uint64_t>(options_.seq_len);
    const uint64_t begin = static_cast<uint64_t>(order_[row]) * seq;
    const uint64_t end = std::min(begin + seq + 1, total_tokens_);
    copy_tokens(begin, end, window_);
    const uint64_t inputs = end - begin - 1;
    // Index of the last document starting at or before `begin`.
    auto doc =
        std::upper_bound(doc_start_.begin(), doc_start_.end(), begin) - doc_start_.begin() - 1;
    int32_t segment = 0;
    int32_t segment_begin = 0;
    for (uint64_t t = 0; t < inputs; ++t) {
      uint64_t position = begin + t;
      bool starts_doc =
          static_cast<size_t>(doc + 1) < doc_start_.size() && doc_start_[doc + 1] == position;
      if (starts_doc) {
        ++doc;
        if (options_.document_masking && t > 0) {
          ++segment;
          segment_begin = static_cast<int32_t>(t);
        }
      }
      bool next_starts_doc =
          static_cast<size_t>(doc + 1) < doc_start_.size() && doc_start_[doc + 1] == position + 1;
      out.input_ids[t] = static_cast<int32_t>(window_[t]);
      out.labels[t] = options_.document_masking && next_starts_doc
                          ? kIgnoreLabel
                          : static_cast<int32_t>(window_[t + 1]);
      out.position_ids[t] = static_cast<int32_t>(t) - segment_begin;
      out.segment_ids[t] = segment;
    }
    used = static_cast<int64_t>(inputs);
    segments = segment + 1;
  }

 private:
  // Copies stream[begin, end) across shard boundaries.
  void copy_tokens(uint64_t begin, uint64_t end, std::vector<uint32_t>& out) const {
    out.clear();
    const auto& shards = dataset_.shards(options_.split);
    size_t shard = std::upper_bound(shard_start_.begin(), shard_start_.end(), begin) -
                   shard_start_.begin() - 1;
    uint64_t position = begin;
    while (position < end) {
      auto tokens = shards[shard].tokens();
      uint64_t local = position - shard_start_[shard];
      uint64_t take = std::min<uint64_t>(end - position, tokens.size() - local);
      out.insert(out.end(), tokens.begin() + local, tokens.begin() + local + take);
      position += take;
      ++shard;
    }
  }

  const PreparedDataset& dataset_;
  std::vector<uint64_t> shard_start_;
  std::vector<uint64_t> doc_start_;  // stream positions where non-empty documents start
  uint64_t total_tokens_ = 0;
  uint64_t num_windows_ = 0;
  std::vector<uint32_t> order_;
  std::vector<uint32_t> window_;
};

}  // namespace

std::unique_ptr<BatchLoader> make_pretrain_loader(const PreparedDataset& dataset,
                                                  const LoaderOptions& options) {
  return std::make_unique<PretrainLoader>(dataset, options);
}

}  // namespace moai::data
