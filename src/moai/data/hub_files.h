#pragma once
// Which files of a Hub dataset repo make each config and split, as Hugging Face `datasets` decides:
//  1. the README.md YAML front matter `configs:` list (config_name, data_files, default) when
//  present;
//  2. else one config "default" whose splits come from the conventional file names: a split keyword
//     (train/training, validation/valid/val/dev, test/testing/eval/evaluation) standing alone in a
//     file name ("train.jsonl", "data/train-00000-of-00002.parquet", "wiki.test.txt") or as a
//     directory name ("train/part-0.csv"); when no file names a split, every data file is "train";
//  3. (hub_dataset.h) else the Hub's Parquet conversion (refs/convert/parquet).
// Data files are those moai reads: .parquet .jsonl .ndjson .json .csv .tsv .txt (optionally
// .gz/.zst).
#include <cstdint>
#include <string>
#include <vector>

namespace moai::data::hub {

struct RepoFile {
  std::string path;  // relative to the repo root, '/'-separated
  uint64_t size = 0;
};

struct SplitPatterns {
  std::string split;
  std::vector<std::string> patterns;  // globs relative to the repo root
};

struct ConfigSpec {
  std::string name;
  std::vector<SplitPatterns> splits;
  bool is_default = false;
};

struct SplitFiles {
  std::string split;
  std::vector<RepoFile> files;
};

// The `configs:` list of a dataset card (README.md); empty when the card has none. InputError
// naming `where` for a malformed list.
std::vector<ConfigSpec> parse_card_configs(const std::string& readme, const std::string& where);

// Glob match as datasets/fsspec: '*' and '?' stay within one path segment, '**' spans segments,
// [...] is a character class.
bool glob_match(const std::string& pattern, const std::string& path);

bool is_data_file(const std::string& path);

// The files of each split of a card config, in path order (splits in card order). Patterns that
// match no data file are an InputError naming `where`, the split and the pattern, unless
// `partial_listing` (offline: only the cached files are listed).
std::vector<SplitFiles> resolve_card_config(const ConfigSpec& config,
                                            const std::vector<RepoFile>& files,
                                            const std::string& where, bool partial_listing = false);

// The conventional splits of a repo without card configs (rule 2 above); empty when the repo has
// no data files.
std::vector<SplitFiles> infer_splits(const std::vector<RepoFile>& files);

}  // namespace moai::data::hub
