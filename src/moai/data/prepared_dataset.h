#pragma once
// A prepared (tokenized, sharded) dataset on disk, as written by `moai data prepare`:
//
//   <output_dir>/dataset.json          {"cache_key": "<hex>"}: which cache entry is current
//   <output_dir>/<cache_key>/manifest.json   mode, tokenizer, options, counts, shard list (written
//   last) <output_dir>/<cache_key>/train-00000.bin, validation-00000.bin, ...   token shards
//   (token_shard.h)
//
// open() accepts the output dir or the cache entry itself. An entry without manifest.json is
// incomplete (an interrupted prepare) and is never opened.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "moai/data/token_shard.h"

namespace moai::data {

enum class DatasetMode { kPretrain, kSft };

struct SplitInfo {
  std::vector<std::string> shards;  // file names relative to the entry directory
  uint64_t documents = 0;
  uint64_t tokens = 0;
  uint64_t text_bytes = 0;      // UTF-8 bytes of the source text that produced these tokens
  uint64_t trained_tokens = 0;  // SFT: tokens with loss mask 1
};

struct DatasetManifest {
  DatasetMode mode = DatasetMode::kPretrain;
  std::string cache_key;
  std::string tokenizer_path;
  std::string tokenizer_hash;
  uint64_t vocab_size = 0;
  std::string options_json;  // the options that went into the key, as JSON
  SplitInfo train;
  SplitInfo validation;
  std::vector<std::string> inputs;           // source files
  std::vector<std::string> fields_detected;  // per structured file
  std::vector<std::string> sft_formats;      // per file, SFT only
  uint64_t bad_records = 0;
  uint64_t empty_records = 0;
  uint64_t truncated_samples = 0;  // SFT over-long, truncated
  uint64_t dropped_samples = 0;    // SFT over-long, dropped

  std::string to_json() const;
  static DatasetManifest from_json(const std::string& text, const std::string& where);
};

// A document view spanning one shard: tokens and (SFT) its loss mask.
struct DocumentView {
  std::span<const uint32_t> tokens;
  std::span<const uint8_t> loss_mask;  // empty for pretrain
};

class PreparedDataset {
 public:
  // dir: an output dir with dataset.json, or a cache entry with manifest.json. Throws InputError
  // when it is neither, naming what was expected (e.g. "run moai data prepare first").
  static PreparedDataset open(const std::string& dir, bool verify_checksums = true);

  const DatasetManifest& manifest() const { return manifest_; }
  const std::string& directory() const { return directory_; }
  DatasetMode mode() const { return manifest_.mode; }

  // Split = "train" or "validation".
  const std::vector<ShardReader>& shards(const std::string& split) const;
  uint64_t num_documents(const std::string& split) const;
  DocumentView document(const std::string& split,
                        uint64_t index) const;  // global index in the split

 private:
  struct Split {
    std::vector<ShardReader> shards;
    std::vector<uint64_t> first_doc;  // first global document index of each shard
  };
  const Split& split(const std::string& name) const;

  std::string directory_;
  DatasetManifest manifest_;
  Split train_;
  Split validation_;
};

// Resolves an output dir to its current cache entry directory (or returns dir when it is an entry).
std::string resolve_dataset_dir(const std::string& dir);

}  // namespace moai::data
