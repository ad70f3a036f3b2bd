#include "moai/train/trainer_setup.h"

#include <filesystem>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/log.h"
#include "moai/data/hub_dataset.h"
#include "moai/data/prepare.h"

namespace moai::train {
namespace fs = std::filesystem;

bool is_prepared_dataset(const std::string& path) {
  return is_directory(path) && (file_exists((fs::path(path) / "dataset.json").string()) ||
                                file_exists((fs::path(path) / "manifest.json").string()));
}

data::PreparedDataset open_training_data(const TrainConfig& config,
                                         const std::vector<std::string>& sources,
                                         const std::string& tokenizer_path,
                                         double hold_out_fraction, Communicator& comm,
                                         const std::string& cache_subdir,
                                         const std::string& split) {
  size_t prepared = 0;
  for (const std::string& source : sources) prepared += is_prepared_dataset(source) ? 1 : 0;
  if (prepared == 1 && sources.size() == 1) return data::PreparedDataset::open(sources[0]);
  if (prepared > 0)
    throw_input_error("--dataset",
                      "a prepared dataset cannot be mixed with other inputs; prepare them "
                      "together with moai data prepare, or use --sequential");
  if (tokenizer_path.empty())
    throw_input_error("--tokenizer_path", "required to tokenize raw input files");

  data::PrepareOptions options;
  options.mode = config.mode == "sft" ? data::DatasetMode::kSft : data::DatasetMode::kPretrain;
  options.tokenizer_path = tokenizer_path;
  options.output_dir = (fs::path(config.output_dir) / cache_subdir).string();
  if (!config.text_column.empty()) options.reader.text_column = config.text_column;
  options.max_seq_length = config.max_seq_length;
  options.validation_split_percentage = hold_out_fraction * 100.0;
  options.seed = static_cast<uint64_t>(config.seed);
  options.num_threads = static_cast<size_t>(config.threads);
  options.show_progress = comm.is_root();
  // Rank 0 tokenizes; the others open the finished cache entry afterwards. An error on rank 0 must
  // not leave the others waiting forever, so the outcome is shared before anyone proceeds.
  int64_t failed = 0;
  std::string message;
  if (comm.is_root()) {
    try {
      // Hub datasets download here, on rank 0 (the cache's locks keep other processes waiting).
      data::hub::DatasetSelection selection;
      selection.config = config.dataset_config;
      selection.split = split;
      selection.revision = config.revision;
      selection.show_progress = comm.is_root();
      data::hub::resolve_prepare_inputs(options, sources, selection);
      const data::PrepareResult result = data::prepare_dataset(options);
      MOAI_INFO((result.reused ? "reusing prepared data " : "prepared data ")
                << result.entry_dir << ": " << result.manifest.train.documents << " train / "
                << result.manifest.validation.documents << " held-out documents, "
                << result.manifest.train.tokens << " train tokens");
    } catch (...) {
      failed = 1;
      comm.allreduce_max(&failed, 1);
      throw;
    }
  }
  comm.allreduce_max(&failed, 1);
  if (failed) throw_input_error("--dataset", "rank 0 failed to prepare the data (see its message)");
  return data::PreparedDataset::open(options.output_dir);
}

std::string resolve_tokenizer_path(const TrainConfig& config) {
  if (!config.tokenizer_path.empty()) return config.tokenizer_path;
  if (!config.pretrained_model.empty() &&
      file_exists((fs::path(config.pretrained_model) / "tokenizer.json").string()))
    return config.pretrained_model;
  for (const std::string& source : config.dataset) {
    if (is_prepared_dataset(source)) {
      const auto dataset = data::PreparedDataset::open(source, /*verify_checksums=*/false);
      if (!dataset.manifest().tokenizer_path.empty()) return dataset.manifest().tokenizer_path;
    }
  }
  throw_input_error("--tokenizer_path",
                    "required (no tokenizer.json in --pretrained_model and no "
                    "prepared dataset that names one)");
}

model::Qwen3Config resolve_model_config(const TrainConfig& config, const std::string& resume_dir) {
  if (!resume_dir.empty()) return model::load_qwen3_config(resume_dir);
  if (!config.pretrained_model.empty()) return model::load_qwen3_config(config.pretrained_model);
  if (!config.model_config.empty()) return model::load_qwen3_config(config.model_config);
  if (!config.model_inline_json.empty())
    return model::parse_qwen3_config(config.model_inline_json, "--config model:");
  throw_input_error("--model_config",
                    "give --model_config (e.g. configs/tiny.json), --pretrained_model, "
                    "or a model: section in --config");
}

}  // namespace moai::train
