// SFT loader: whole samples with their loss masks, packed by best-fit-decreasing or one per row.
#include <algorithm>

#include "moai/core/error.h"
#include "moai/data/packer.h"
#include "moai/data/row_loader.h"

namespace moai::data {
namespace {

class SftLoader : public RowLoader {
 public:
  SftLoader(const PreparedDataset& dataset, const LoaderOptions& options)
      : RowLoader(options), dataset_(dataset) {
    uint64_t count = dataset.num_documents(options.split);
    if (count == 0) {
      throw_input_error(dataset.directory(), "split \"" + options.split + "\" has no samples");
    }
    if (count > UINT32_MAX) throw_input_error(dataset.directory(), "more than 2^32 samples");
    lengths_.resize(count);
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t length = dataset.document(options.split, i).tokens.size();
      if (length > static_cast<uint64_t>(options.seq_len)) {
        throw_input_error("--max_seq_length",
                          "sample " + std::to_string(i) + " has " + std::to_string(length) +
                              " tokens, more than the sequence length " +
                              std::to_string(options.seq_len) +
                              "; prepare the data with --max_seq_length <= the training length");
      }
      if (length == 0)
        throw_input_error(dataset.directory(), "sample " + std::to_string(i) + " is empty");
      lengths_[i] = static_cast<uint32_t>(length);
    }
    build_layout();
    initialize();
  }

  uint64_t num_rows() const override { return layout_.size(); }

  double token_efficiency() const override {
    uint64_t used = 0;
    for (uint32_t length : lengths_) used += length;
    return static_cast<double>(used) /
           (static_cast<double>(layout_.size()) * static_cast<double>(options_.seq_len));
  }

 protected:
  // Each epoch deals the same rows in a new order (so the epoch length, which schedules and resume
  // positions rely on, never changes).
  void start_epoch(uint64_t epoch) override {
    if (options_.shuffle) {
      row_order_ = shuffled_indices(layout_.size(), options_.seed, epoch, 0x726f7773ULL);
    } else {
      row_order_.resize(layout_.size());
      for (size_t i = 0; i < layout_.size(); ++i) row_order_[i] = static_cast<uint32_t>(i);
    }
  }

  void fill_row(uint64_t row, const RowView& out, int64_t& used, int32_t& segments) override {
    int64_t t = 0;
    int32_t segment = 0;
    for (uint32_t sample : layout_[row_order_[row]]) {
      DocumentView doc = dataset_.document(options_.split, sample);
      const int64_t length = static_cast<int64_t>(doc.tokens.size());
      for (int64_t i = 0; i < length; ++i) {
        out.input_ids[t + i] = static_cast<int32_t>(doc.tokens[i]);
        bool trained = i + 1 < length && doc.loss_mask[i + 1];
        out.labels[t + i] = trained ? static_cast<int32_t>(doc.tokens[i + 1]) : kIgnoreLabel;
        out.position_ids[t + i] = static_cast<int32_t>(options_.document_masking ? i : t + i);
        out.segment_ids[t + i] = options_.document_masking ? segment : 0;
      }
      t += length;
      ++segment;
    }
    used = t;
    segments = options_.document_masking ? segment : 1;
  }

 private:
  // Groups samples into rows once: without packing one sample per row; with packing, the samples in
  // a seeded shuffled order are cut into windows of pack_window and each window packed by BFD.
  void build_layout() {
    const size_t count = lengths_.size();
    std::vector<uint32_t> order = options_.shuffle
                                      ? shuffled_indices(count, options_.seed, 0, 0x736674ULL)
                                      : std::vector<uint32_t>(count);
    if (!options_.shuffle) {
      for (size_t i = 0; i < count; ++i) order[i] = static_cast<uint32_t>(i);
    }
    if (!options_.packing) {
      for (uint32_t sample : order) layout_.push_back({sample});
      return;
    }
    const size_t window = std::max<size_t>(options_.pack_window, 1);
    std::vector<uint32_t> window_lengths;
    for (size_t start = 0; start < count; start += window) {
      size_t stop = std::min(count, start + window);
      window_lengths.clear();
      for (size_t i = start; i < stop; ++i) window_lengths.push_back(lengths_[order[i]]);
      for (const PackedRow& packed :
           pack_best_fit_decreasing(window_lengths, static_cast<uint64_t>(options_.seq_len))) {
        std::vector<uint32_t> row;
        for (uint32_t local : packed.samples) row.push_back(order[start + local]);
        layout_.push_back(std::move(row));
      }
    }
  }

  const PreparedDataset& dataset_;
  std::vector<uint32_t> lengths_;
  std::vector<std::vector<uint32_t>> layout_;  // rows of sample indices
  std::vector<uint32_t> row_order_;            // this epoch's order of layout_
};

}  // namespace

std::unique_ptr<BatchLoader> make_sft_loader(const PreparedDataset& dataset,
                                             const LoaderOptions& options) {
  return std::make_unique<SftLoader>(dataset, options);
}

std::unique_ptr<BatchLoader> make_pretrain_loader(const PreparedDataset& dataset,
                                                  const LoaderOptions& options);

std::unique_ptr<BatchLoader> make_loader(const PreparedDataset& dataset,
                                         const LoaderOptions& options) {
  if (dataset.mode() == DatasetMode::kSft) return make_sft_loader(dataset, options);
  return make_pretrain_loader(dataset, options);
}

}  // namespace moai::data
