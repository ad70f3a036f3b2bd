// Entry points for what the Hub client reads from the network: the API's JSON answers (revision,
// file tree pages, Parquet conversion listing), the Link header that pages them, and a dataset
// card's YAML `configs:` front matter with its data_files globs resolved over a file listing.
#include <string>
#include <vector>

#include "fuzz_entries.h"
#include "fuzz_util.h"
#include "moai/core/error.h"
#include "moai/data/hub_client.h"
#include "moai/data/hub_files.h"

namespace moai::fuzz {

namespace {
namespace hub = data::hub;

// A repo listing that the fuzzed card's globs are matched against.
const std::vector<hub::RepoFile>& sample_listing() {
  static const std::vector<hub::RepoFile> files = {
      {"README.md", 100},
      {"data/train-00000-of-00002.parquet", 10},
      {"data/train-00001-of-00002.parquet", 10},
      {"data/validation.jsonl.gz", 5},
      {"en/test/part-0.csv", 7},
      {"ko/wiki.train.txt", 3},
      {"nested/a/b/c.tsv.zst", 2},
  };
  return files;
}

void split_files(const std::vector<hub::RepoFile>& files) {
  for (const hub::SplitFiles& split : hub::infer_splits(files)) (void)split.files.size();
  for (const hub::RepoFile& file : files) (void)hub::is_data_file(file.path);
}
}  // namespace

// Byte 0 picks the answer: revision, tree page, Parquet listing or Link header.
int hub_api_one(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string body(as_text(data + 1, size - 1));
  try {
    switch (data[0] % 4) {
      case 0:
        (void)hub::parse_revision_answer(body, "fuzz");
        break;
      case 1: {
        std::vector<hub::RepoFile> files;
        hub::parse_tree_page(body, "fuzz", files);
        split_files(files);
        break;
      }
      case 2:
        (void)hub::parse_parquet_listing(body, "fuzz");
        break;
      default:
        (void)hub::next_link(body);
    }
  } catch (const InputError&) {
  }
  return 0;
}

// A README.md: its configs, each resolved over the sample listing (strictly, then as an offline
// partial listing), and every pattern matched against every path.
int hub_card_one(const uint8_t* data, size_t size) {
  try {
    const auto configs = hub::parse_card_configs(std::string(as_text(data, size)), "README.md");
    for (const hub::ConfigSpec& config : configs) {
      for (const hub::SplitPatterns& split : config.splits)
        for (const std::string& pattern : split.patterns)
          for (const hub::RepoFile& file : sample_listing())
            (void)hub::glob_match(pattern, file.path);
      (void)hub::resolve_card_config(config, sample_listing(), "README.md", true);
      (void)hub::resolve_card_config(config, sample_listing(), "README.md", false);
    }
  } catch (const InputError&) {
  }
  return 0;
}

}  // namespace moai::fuzz
