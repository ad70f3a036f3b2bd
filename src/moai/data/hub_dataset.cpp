// Hub datasets by name (hub_dataset.h).
#include "moai/data/hub_dataset.h"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/log.h"
#include "moai/core/progress.h"
#include "moai/data/record_reader.h"

namespace moai::data::hub {
namespace fs = std::filesystem;
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Splits of the Parquet conversion: "{config}/{split}/NNNN.parquet" (or older
// "{config}/{name}-{split}.parquet") on refs/convert/parquet.
std::vector<HubConfig> parquet_configs(HubClient& client) {
  std::vector<HubConfig> out;
  std::vector<std::string> names;
  for (const auto& [config, splits] : client.parquet_configs()) names.push_back(config);
  HubClient branch = client.parquet_branch();
  std::vector<RepoFile> files;
  try {
    files = branch.list_files();
  } catch (const InputError&) {
    if (!names.empty()) throw;  // the listing says there is a conversion: report why it failed
    return out;
  }
  std::map<std::string, std::vector<RepoFile>> by_config;
  for (const RepoFile& file : files) {
    size_t slash = file.path.find('/');
    if (slash == std::string::npos || !ends_with(file.path, ".parquet")) continue;
    by_config[file.path.substr(0, slash)].push_back(file);
  }
  for (auto& [config, config_files] : by_config) {
    HubConfig hub{config, false, "Parquet conversion", true, {}};
    std::map<std::string, std::vector<RepoFile>> by_split;
    for (const RepoFile& file : config_files) {
      std::string rest = file.path.substr(config.size() + 1);
      size_t slash = rest.find('/');
      if (slash != std::string::npos) by_split[rest.substr(0, slash)].push_back(file);
    }
    for (auto& [split, split_files] : by_split) hub.splits.push_back({split, split_files});
    if (hub.splits.empty()) hub.splits = infer_splits(config_files);
    hub.is_default = config == "default";
    out.push_back(std::move(hub));
  }
  return out;
}

std::string split_names(const HubConfig& config) {
  std::string out;
  for (const SplitFiles& split : config.splits) out += (out.empty() ? "" : ", ") + split.split;
  return out;
}

uint64_t total_size(const std::vector<RepoFile>& files) {
  uint64_t total = 0;
  for (const RepoFile& file : files) total += file.size;
  return total;
}

// "name" or "name:config" (the part after the last ':' when the whole is no local path).
std::pair<std::string, std::string> split_name_config(const std::string& entry) {
  size_t colon = entry.rfind(':');
  if (colon == std::string::npos) return {entry, ""};
  return {entry.substr(0, colon), entry.substr(colon + 1)};
}

const SplitFiles& find_split(const HubConfig& config, const std::string& split,
                             const std::string& repo_id, bool cache_only) {
  for (const SplitFiles& s : config.splits) {
    if (s.split == split && !s.files.empty()) return s;
    if (s.split == split) {  // only offline: the card names files that are not cached
      throw_input_error(
          repo_id,
          "config " + config.name + " split " + split +
              ": HF_HUB_OFFLINE is set (or the Hub is unreachable) and its files are not in the "
              "cache; run once with network access");
    }
  }
  throw_input_error("--split", repo_id + " config " + config.name + " has no split \"" + split +
                                   "\" (it has: " + split_names(config) + ")" +
                                   (cache_only ? "; HF_HUB_OFFLINE is set (or the Hub is "
                                                 "unreachable): only cached files count"
                                               : ""));
}

// Downloads the files of one split part; with an absolute end and a record counter, only as many
// files as hold the records up to that end.
std::vector<std::string> download_part(HubClient& client, const SplitFiles& split,
                                       const SplitSlice& slice, const DatasetSelection& selection) {
  std::vector<std::string> paths;
  const bool bounded = selection.count_records && !slice.needs_total() && slice.to;
  uint64_t records = 0;
  for (const RepoFile& file : split.files) {
    paths.push_back(client.download(file.path, selection.show_progress));
    if (bounded) {
      records += selection.count_records(paths.back());
      if (records >= static_cast<uint64_t>(*slice.to)) break;
    }
  }
  return paths;
}

// A missing entry that reads as a file path (glob characters, a data-file extension, a leading '.'
// or '/') is a missing local file, not a Hub name.
bool looks_like_path(const std::string& entry) {
  if (entry.find_first_of("*?[") != std::string::npos) return true;
  if (entry.empty() || entry[0] == '.' || entry[0] == '/' || entry[0] == '~') return true;
  return is_data_file(entry) || ends_with(entry, ".md");
}

}  // namespace

std::vector<HubConfig> list_hub_configs(HubClient& client) {
  const std::vector<RepoFile> files = client.list_files();
  const std::string where = client.repo_id() + "/README.md";
  std::vector<HubConfig> out;
  if (client.has_file("README.md")) {
    std::string readme = read_file(client.download("README.md", false));
    for (const ConfigSpec& spec : parse_card_configs(readme, where)) {
      out.push_back({spec.name, spec.is_default, "dataset card", false,
                     resolve_card_config(spec, files, where, client.cache_only())});
    }
    if (!out.empty()) return out;
  }
  std::vector<SplitFiles> splits = infer_splits(files);
  if (!splits.empty()) return {{"default", true, "file names", false, std::move(splits)}};
  out = parquet_configs(client);
  if (!out.empty()) return out;
  for (const RepoFile& file : files) {
    if (ends_with(file.path, ".py")) {
      throw_input_error(client.repo_id(),
                        "a script-based dataset (" + file.path +
                            ") without a Parquet conversion on the Hub; moai does not run "
                            "dataset scripts (download its data files and pass them as paths)");
    }
  }
  throw_input_error(client.repo_id(),
                    "the repo holds no data files moai reads (.parquet .jsonl "
                    ".json .csv .tsv .txt) and has no Parquet conversion");
}

const HubConfig& choose_config(const std::vector<HubConfig>& configs, const std::string& name,
                               const std::string& repo_id) {
  std::string available;
  for (const HubConfig& config : configs) {
    if (config.name == name) return config;
    available += (available.empty() ? "" : ", ") + config.name;
  }
  if (name.empty()) {
    if (configs.size() == 1) return configs.front();
    for (const HubConfig& config : configs) {
      if (config.is_default) return config;
    }
    throw_input_error("--dataset_config", repo_id +
                                              " has several configs; choose one with "
                                              "--dataset_config (or NAME:CONFIG): " +
                                              available);
  }
  throw_input_error("--dataset_config",
                    repo_id + " has no config \"" + name + "\" (it has: " + available + ")");
}

std::string format_hub_info(HubClient& client) {
  std::ostringstream out;
  const std::vector<HubConfig> configs = list_hub_configs(client);
  out << "Hub dataset " << client.repo_id() << " (revision " << client.revision() << ", commit "
      << client.commit() << ")\n";
  out << "configs: " << configs.size() << "\n";
  for (const HubConfig& config : configs) {
    out << "config " << config.name << (config.is_default ? " (default)" : "") << ", from the "
        << config.source << "\n";
    for (const SplitFiles& split : config.splits) {
      out << "  split " << split.split << ": " << split.files.size() << " file(s), "
          << format_bytes(static_cast<double>(total_size(split.files))) << "\n";
      for (const RepoFile& file : split.files) {
        out << "    " << file.path << "  " << format_bytes(static_cast<double>(file.size)) << "\n";
      }
    }
  }
  return out.str();
}

bool is_local_source(const std::string& name) {
  std::error_code ec;
  if (fs::exists(name, ec)) return true;
  glob_t matches{};
  bool found = glob(name.c_str(), 0, nullptr, &matches) == 0 && matches.gl_pathc > 0;
  globfree(&matches);
  return found;
}

namespace {

// A local entry: its files whole, or the records of a single-part slice.
void add_local(const std::string& entry, const std::vector<SplitSlice>& parts,
               DatasetSources& out) {
  out.inputs.push_back(entry);
  if (parts.size() == 1 && !parts[0].whole()) {
    InputSlice slice{{}, parts[0]};
    for (const InputFile& file : expand_inputs({entry})) slice.files.push_back(file.path);
    out.slices.push_back(std::move(slice));
  }
}

// A Hub entry: each split part of the chosen config, downloaded.
void add_hub(const std::string& name, const std::string& config,
             const std::vector<SplitSlice>& parts, const DatasetSelection& selection,
             const HubEnv& env, DatasetSources& out) {
  HubClient client(env, name, selection.revision);
  const std::vector<HubConfig> configs = list_hub_configs(client);
  const HubConfig& chosen = choose_config(configs, config, name);
  HubClient parquet = client.parquet_branch();
  HubClient& source = chosen.parquet_branch ? parquet : client;
  for (const SplitSlice& part : parts) {
    const SplitFiles& split = find_split(chosen, part.split, name, client.cache_only());
    InputSlice slice{download_part(source, split, part, selection), part};
    out.notes.push_back(name + " config " + chosen.name + " split " + part.text() + ": " +
                        std::to_string(slice.files.size()) + " of " +
                        std::to_string(split.files.size()) + " file(s) from the " + chosen.source +
                        " (" + source.commit() + ")");
    for (const std::string& path : slice.files) {
      if (std::find(out.inputs.begin(), out.inputs.end(), path) != out.inputs.end()) {
        throw_input_error("--split", "\"" + selection.split + "\" reads " + path +
                                         " twice; give each split once");
      }
      out.inputs.push_back(path);
    }
    if (!part.whole()) out.slices.push_back(std::move(slice));
  }
}

}  // namespace

DatasetSources resolve_dataset_sources(const std::vector<std::string>& datasets,
                                       const DatasetSelection& selection, const HubEnv& env) {
  DatasetSources out;
  const std::vector<SplitSlice> parts = parse_split_spec(selection.split, "--split");
  bool config_used = false;
  for (const std::string& entry : datasets) {
    if (is_local_source(entry)) {
      add_local(entry, parts, out);
      continue;
    }
    if (looks_like_path(entry))
      throw_input_error(entry, "no such file, directory or matching glob");
    auto [name, config] = split_name_config(entry);
    if (config.empty() && !config_used) {
      config = selection.config;
      config_used = true;
    }
    add_hub(name, config, parts, selection, env, out);
  }
  if (!selection.config.empty() && !config_used) {
    MOAI_WARN("--dataset_config " << selection.config
                                  << " has no effect: it selects the config of a Hub dataset, and "
                                     "every --dataset is a local path");
  }
  return out;
}

void resolve_prepare_inputs(PrepareOptions& options, const std::vector<std::string>& datasets,
                            DatasetSelection selection) {
  if (!selection.count_records) {
    selection.count_records = [&options](const std::string& path) {
      return count_records(options, {path});
    };
  }
  DatasetSources sources = resolve_dataset_sources(datasets, selection, HubEnv::from_environment());
  for (const std::string& note : sources.notes) MOAI_INFO(note);
  options.inputs = std::move(sources.inputs);
  options.slices = std::move(sources.slices);
}

}  // namespace moai::data::hub
