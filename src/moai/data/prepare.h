#pragma once
// `moai data prepare`: read, tokenize (in parallel) and shard a dataset into a cache entry keyed by
// the input contents, the tokenizer files and the options (prepared_dataset.h describes the
// layout).
//
// Pretrain documents are stored as encode(text, add_special_tokens = true) (the tokenizer's
// post-processor, e.g. moai_kor_eng's "<s> ... </s>") followed by <|endoftext|> (or the EOS token
// when there is none) unless the encoding already ends with EOS or <|endoftext|>. SFT samples are
// ChatML conversations with a loss mask (sft_encode.h); a sample longer than max_seq_length is
// truncated (and dropped if no trained token survives) or dropped, by option, and counted.
//
// A document goes to the validation split when XXH3(seed, its text) mod 10000 < percentage * 100,
// so the split is deterministic, independent of file order, and duplicates land on the same side.
//
// The entry is built in "<key>.tmp-<pid>" and renamed into place after its manifest is written; a
// leftover temporary directory from an interrupted run is removed by the next run and never read.
#include <cstdint>
#include <string>
#include <vector>

#include "moai/core/error.h"
#include "moai/data/prepared_dataset.h"
#include "moai/data/record_reader.h"
#include "moai/data/sft_format.h"
#include "moai/data/split_spec.h"

namespace moai::data {

enum class OverlongPolicy { kTruncate, kDrop };

struct PrepareOptions {
  DatasetMode mode = DatasetMode::kPretrain;
  std::vector<std::string> inputs;  // files, directories, globs
  // Record slices of some input files (--split train[:10%] ...; split_spec.h): a file listed in a
  // slice contributes only the slice's records, counted over the slice's files in order.
  std::vector<InputSlice> slices;
  std::string tokenizer_path;  // tokenizer.json or a directory holding one
  std::string output_dir;
  ReaderOptions reader;
  SftFormat sft_format = SftFormat::kAuto;
  int64_t max_seq_length = 2048;  // SFT: longest sample kept whole
  OverlongPolicy overlong = OverlongPolicy::kTruncate;
  double validation_split_percentage = 0.0;
  uint64_t seed = 42;
  size_t num_threads = 0;            // 0: default_thread_count()
  uint64_t shard_tokens = 1u << 24;  // tokens per shard before starting the next (memory bound)
  bool force = false;                // rebuild even if the cache entry exists
  bool show_progress = true;
};

struct PrepareResult {
  std::string entry_dir;
  bool reused = false;
  DatasetManifest manifest;
  double seconds = 0.0;            // whole call
  double tokenizer_seconds = 0.0;  // of which loading the tokenizer
  uint64_t input_bytes = 0;        // bytes of the input files (as stored)
};

// Ctrl-C during prepare: nothing is left that a later run would accept. Exit code 130 like a shell.
class Interrupted : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return 130; }
};

PrepareResult prepare_dataset(const PrepareOptions& options);

// Records the readers deliver from `paths` in this mode (what slices count): JSON records for SFT,
// texts for pretraining.
uint64_t count_records(const PrepareOptions& options, const std::vector<std::string>& paths);

// The cache key prepare would use (for tests and `info`).
std::string dataset_cache_key(const PrepareOptions& options);

}  // namespace moai::data
