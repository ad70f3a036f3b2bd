#pragma once
// Batch loaders over a prepared dataset, for the trainer and evaluators.
//
// Pretrain: the split's documents form one token stream (shards in order). It is cut into windows
// of seq_len + 1 tokens with stride seq_len (window w covers stream[w*T, w*T + T]); inputs are its
// first T tokens, labels its last T (already shifted). The final partial window is kept and padded,
// so every token is trained on exactly once per epoch. Each document was stored as the tokenizer's
// post-processed encoding plus an EOS when it does not already end with one (Qwen3: "doc
// <|endoftext|>", moai_kor_eng:
// "<s> doc </s>"), so EOS separates documents in the stream.
// With document_masking (the default): position ids restart at 0 at each document start, segment
// ids number the documents inside a row (attention is allowed only within equal segment ids,
// causally), and the label of a document's last token (whose target is the next document's first
// token) is -100. Without it, positions run 0..T-1 and every row is one segment, like the
// original's concatenate-and-chunk.
//
// SFT: each sample (one rendered conversation) keeps its own loss mask; labels[t] = tokens[t+1]
// when token t+1 is trainable and in the same sample, else -100. With packing (the default) samples
// are packed into rows of seq_len by best-fit-decreasing over windows of pack_window samples taken
// in a seeded shuffled order (packer.h); without it, one sample per row, padded. The grouping into
// rows is made once; each epoch shuffles the rows, so the epoch length never changes.
//
// Padding tokens: input pad_token_id, label -100, position 0, and a segment id of their own (one
// past the row's last document), so padding never attends to real tokens nor they to it.
//
// Order: per epoch, windows (pretrain) or packed rows (SFT) are permuted by a Fisher-Yates shuffle
// seeded by (seed, epoch). Rows are dealt round-robin to ranks (global row r goes to rank r %
// world_size); every rank gets ceil(rows / world_size) rows, rounded up to whole batches, the
// missing ones filled with all-padding rows, so all ranks take the same number of steps and no
// document is seen twice or missed in an epoch. Resuming: state() after k batches, restored into a
// fresh loader, yields exactly batch k+1 onwards.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "moai/data/prepared_dataset.h"

namespace moai::data {

inline constexpr int32_t kIgnoreLabel = -100;

// Row-major [batch_size, seq_len] arrays.
struct Batch {
  int64_t batch_size = 0;
  int64_t seq_len = 0;
  std::vector<int32_t> input_ids;
  std::vector<int32_t> labels;        // target of input t; kIgnoreLabel = no loss
  std::vector<int32_t> position_ids;  // restart per document with document_masking
  std::vector<int32_t> segment_ids;   // document index within the row (0, 1, ...); padding its own
  int64_t num_target_tokens = 0;      // labels != kIgnoreLabel
  int64_t num_real_tokens = 0;        // non-padding inputs
};

struct LoaderOptions {
  std::string split = "train";  // or "validation"
  int64_t seq_len = 2048;       // T
  int64_t batch_size = 1;       // rows per batch on this rank
  uint64_t seed = 42;
  bool shuffle = true;
  int rank = 0;
  int world_size = 1;
  bool document_masking = true;  // pretrain: position reset + segments + boundary labels masked
  bool packing = true;           // SFT: pack several samples per row (false: one per row, padded)
  size_t pack_window = 8192;     // SFT: samples considered together by the packer
  int32_t pad_token_id = 0;
};

// Where a loader is in its sequence of batches; saved in checkpoints.
struct LoaderState {
  uint64_t epoch = 0;
  uint64_t batch_in_epoch = 0;  // batches already produced in this epoch on this rank
  uint64_t seed = 0;            // checked on restore: a different seed is a different sequence
  std::string to_json() const;
  static LoaderState from_json(const std::string& text);  // InputError on malformed text
};

class BatchLoader {
 public:
  virtual ~BatchLoader() = default;
  // Fills `batch` (resized as needed) with the next batch, moving to the next epoch at the end of
  // one.
  virtual void next(Batch& batch) = 0;
  virtual uint64_t batches_per_epoch() const = 0;  // per rank, same on every rank
  virtual LoaderState state() const = 0;
  virtual void restore(const LoaderState& state) = 0;  // InputError if it does not fit this loader
  // Share of real (non-padding) tokens over all rows of one epoch, all ranks (packing efficiency).
  virtual double token_efficiency() const = 0;
};

// Picks the pretrain or SFT loader from the dataset's mode. Throws InputError for seq_len < 2,
// batch_size < 1, a rank outside [0, world_size), an empty split, or (SFT without truncation) a
// sample longer than seq_len, naming the flag or value.
std::unique_ptr<BatchLoader> make_loader(const PreparedDataset& dataset,
                                         const LoaderOptions& options);

}  // namespace moai::data
