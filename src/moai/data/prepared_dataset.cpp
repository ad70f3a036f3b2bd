#include "moai/data/prepared_dataset.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/json_util.h"

namespace moai::data {
namespace {

using nlohmann::json;

json split_to_json(const SplitInfo& split) {
  return {{"shards", split.shards},
          {"documents", split.documents},
          {"tokens", split.tokens},
          {"text_bytes", split.text_bytes},
          {"trained_tokens", split.trained_tokens}};
}

SplitInfo split_from_json(const json& j) {
  SplitInfo split;
  split.shards = j.at("shards").get<std::vector<std::string>>();
  split.documents = json_integer<uint64_t>(j, "documents", "manifest.json");
  split.tokens = json_integer<uint64_t>(j, "tokens", "manifest.json");
  split.text_bytes = json_integer<uint64_t>(j, "text_bytes", "manifest.json");
  split.trained_tokens = json_integer<uint64_t>(j, "trained_tokens", "manifest.json");
  return split;
}

}  // namespace

std::string DatasetManifest::to_json() const {
  json j = {{"format", "moai-dataset"},
            {"version", 1},
            {"mode", mode == DatasetMode::kSft ? "sft" : "pretrain"},
            {"cache_key", cache_key},
            {"tokenizer_path", tokenizer_path},
            {"tokenizer_hash", tokenizer_hash},
            {"vocab_size", vocab_size},
            {"options", json::parse(options_json.empty() ? "{}" : options_json)},
            {"train", split_to_json(train)},
            {"validation", split_to_json(validation)},
            {"inputs", inputs},
            {"fields_detected", fields_detected},
            {"sft_formats", sft_formats},
            {"bad_records", bad_records},
            {"empty_records", empty_records},
            {"truncated_samples", truncated_samples},
            {"dropped_samples", dropped_samples}};
  return j.dump(2) + "\n";
}

DatasetManifest DatasetManifest::from_json(const std::string& text, const std::string& where) {
  DatasetManifest m;
  try {
    json j = json::parse(text);
    if (j.value("format", "") != "moai-dataset")
      throw_input_error(where, "not a moai dataset manifest");
    std::string mode = j.at("mode").get<std::string>();
    if (mode != "sft" && mode != "pretrain")
      throw_input_error(where, "mode: expected pretrain or sft");
    m.mode = mode == "sft" ? DatasetMode::kSft : DatasetMode::kPretrain;
    m.cache_key = j.at("cache_key").get<std::string>();
    m.tokenizer_path = j.at("tokenizer_path").get<std::string>();
    m.tokenizer_hash = j.at("tokenizer_hash").get<std::string>();
    m.vocab_size = json_integer<uint64_t>(j, "vocab_size", where);
    m.options_json = j.at("options").dump();
    m.train = split_from_json(j.at("train"));
    m.validation = split_from_json(j.at("validation"));
    m.inputs = j.at("inputs").get<std::vector<std::string>>();
    m.fields_detected = j.at("fields_detected").get<std::vector<std::string>>();
    m.sft_formats = j.at("sft_formats").get<std::vector<std::string>>();
    m.bad_records = json_integer<uint64_t>(j, "bad_records", where);
    m.empty_records = json_integer<uint64_t>(j, "empty_records", where);
    m.truncated_samples = json_integer<uint64_t>(j, "truncated_samples", where);
    m.dropped_samples = json_integer<uint64_t>(j, "dropped_samples", where);
  } catch (const json::exception& e) {
    throw_input_error(where, std::string("malformed dataset manifest: ") + e.what());
  }
  return m;
}

std::string resolve_dataset_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  if (file_exists((fs::path(dir) / "manifest.json").string())) return dir;
  std::string pointer = (fs::path(dir) / "dataset.json").string();
  if (!file_exists(pointer)) {
    throw_input_error(dir,
                      "not a prepared dataset (no dataset.json or manifest.json; run `moai data "
                      "prepare --output_dir " +
                          dir + "` first)");
  }
  std::string key;
  try {
    key = nlohmann::json::parse(read_file(pointer)).at("cache_key").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw_input_error(pointer, std::string("cache_key: expected a string (") + e.what() + ")");
  }
  std::string entry = (fs::path(dir) / key).string();
  if (!file_exists((fs::path(entry) / "manifest.json").string())) {
    throw_input_error(entry,
                      "cache entry is incomplete (no manifest.json); re-run moai data prepare");
  }
  return entry;
}

PreparedDataset PreparedDataset::open(const std::string& dir, bool verify_checksums) {
  namespace fs = std::filesystem;
  PreparedDataset dataset;
  dataset.directory_ = resolve_dataset_dir(dir);
  std::string manifest_path = (fs::path(dataset.directory_) / "manifest.json").string();
  dataset.manifest_ = DatasetManifest::from_json(read_file(manifest_path), manifest_path);
  auto load = [&](const SplitInfo& info, Split& split, const char* name) {
    uint64_t docs = 0;
    uint64_t tokens = 0;
    for (const auto& shard : info.shards) {
      split.first_doc.push_back(docs);
      split.shards.emplace_back((fs::path(dataset.directory_) / shard).string(), verify_checksums);
      const ShardReader& reader = split.shards.back();
      if (reader.has_loss_mask() != (dataset.manifest_.mode == DatasetMode::kSft)) {
        throw_input_error(reader.path(), "loss mask presence does not match the dataset mode");
      }
      docs += reader.num_documents();
      tokens += reader.num_tokens();
    }
    if (docs != info.documents || tokens != info.tokens) {
      throw_input_error(manifest_path,
                        std::string(name) + ": shards hold " + std::to_string(docs) +
                            " documents / " + std::to_string(tokens) + " tokens, manifest says " +
                            std::to_string(info.documents) + " / " + std::to_string(info.tokens));
    }
  };
  load(dataset.manifest_.train, dataset.train_, "train");
  load(dataset.manifest_.validation, dataset.validation_, "validation");
  return dataset;
}

const PreparedDataset::Split& PreparedDataset::split(const std::string& name) const {
  if (name == "train") return train_;
  if (name == "validation") return validation_;
  throw_input_error("split", "\"" + name + "\": expected train or validation");
}

const std::vector<ShardReader>& PreparedDataset::shards(const std::string& name) const {
  return split(name).shards;
}

uint64_t PreparedDataset::num_documents(const std::string& name) const {
  const Split& s = split(name);
  if (s.shards.empty()) return 0;
  return s.first_doc.back() + s.shards.back().num_documents();
}

DocumentView PreparedDataset::document(const std::string& name, uint64_t index) const {
  const Split& s = split(name);
  auto it = std::upper_bound(s.first_doc.begin(), s.first_doc.end(), index);
  MOAI_CHECK(it != s.first_doc.begin());
  size_t shard = static_cast<size_t>(it - s.first_doc.begin()) - 1;
  uint64_t local = index - s.first_doc[shard];
  return {s.shards[shard].document(local), s.shards[shard].document_mask(local)};
}

}  // namespace moai::data
