#pragma once
// Hub datasets by name for the commands that read data: which configs and splits a repo has (from
// its card, its file names, or the Hub's Parquet conversion; hub_files.h), and the local cached
// files of the chosen config/split(s), downloaded on demand (hub_client.h).
//
// Name resolution for --dataset entries: a name that exists as a local path (or matches a glob) is
// local; otherwise "owner/name" (or a legacy "name", which the Hub redirects) is a Hub dataset,
// optionally "NAME:CONFIG". --dataset_config applies to the first Hub dataset without ":CONFIG".
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "moai/data/hub_client.h"
#include "moai/data/prepare.h"
#include "moai/data/split_spec.h"

namespace moai::data::hub {

struct HubConfig {
  std::string name;
  bool is_default = false;
  std::string source;              // "dataset card", "file names" or "Parquet conversion"
  bool parquet_branch = false;     // files live on refs/convert/parquet
  std::vector<SplitFiles> splits;  // data files per split
};

// Every config of the repo (downloads README.md at most). InputError for a script-only repo
// without a Parquet conversion, or one with no data files.
std::vector<HubConfig> list_hub_configs(HubClient& client);

// The config a request names ("" = the only one, or the one marked default, or "default").
const HubConfig& choose_config(const std::vector<HubConfig>& configs, const std::string& name,
                               const std::string& repo_id);

// Human-readable `moai data info` report for a Hub dataset: configs, splits, files and sizes.
std::string format_hub_info(HubClient& client);

struct DatasetSelection {
  std::string config;             // --dataset_config (first Hub dataset)
  std::string split = "train";    // --split, HF syntax
  std::string revision = "main";  // --revision
  bool show_progress = true;
  // Optional: records in a downloaded file as the caller will read them. With it, a slice with an
  // absolute end (train[:1000]) downloads only the files that hold those records.
  std::function<uint64_t(const std::string& path)> count_records;
};

// What the readers get: local inputs, and the record slices of the Hub parts.
struct DatasetSources {
  std::vector<std::string> inputs;
  std::vector<InputSlice> slices;
  std::vector<std::string> notes;  // one line per Hub part: "owner/name config split: N files"
};

// True when `name` names something on disk (file, directory or a glob that matches).
bool is_local_source(const std::string& name);

// Resolves --dataset entries; Hub entries are downloaded into the cache (env: HubEnv).
DatasetSources resolve_dataset_sources(const std::vector<std::string>& datasets,
                                       const DatasetSelection& selection, const HubEnv& env);

// For the commands that prepare data: resolves `datasets` into options.inputs / options.slices (the
// environment's HubEnv; records counted as options' mode reads them) and logs one line per Hub
// part.
void resolve_prepare_inputs(PrepareOptions& options, const std::vector<std::string>& datasets,
                            DatasetSelection selection);

}  // namespace moai::data::hub
