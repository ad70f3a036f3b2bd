#pragma once
// Internal to the trainer: turning settings into a prepared dataset, a tokenizer path and a model
// config.
#include <optional>
#include <string>
#include <vector>

#include "moai/data/prepared_dataset.h"
#include "moai/model/qwen3_config.h"
#include "moai/train/communicator.h"
#include "moai/train/train_config.h"

namespace moai::train {

// True for a `moai data prepare` output directory or cache entry.
bool is_prepared_dataset(const std::string& path);

// The training data: a prepared dataset given directly, or raw files/directories prepared now into
// output_dir/prepared (rank 0 prepares, the others wait; a second run reuses the cache entry).
// hold_out_fraction > 0 asks prepare to put that share of documents in the validation split.
// Sources that are no local path are Hub datasets (data/hub_dataset.h), read at `split` (HF
// syntax), config.dataset_config and config.revision; rank 0 downloads them into the shared HF
// cache.
data::PreparedDataset open_training_data(const TrainConfig& config,
                                         const std::vector<std::string>& sources,
                                         const std::string& tokenizer_path,
                                         double hold_out_fraction, Communicator& comm,
                                         const std::string& cache_subdir,
                                         const std::string& split = "train");

// --tokenizer_path, else the pretrained model's directory when it holds tokenizer.json, else the
// one a prepared dataset was made with. InputError when none is found.
std::string resolve_tokenizer_path(const TrainConfig& config);

// The model to build: the checkpoint's config when resuming, --pretrained_model's config.json, the
// YAML model: section, or --model_config. InputError when none is given.
model::Qwen3Config resolve_model_config(const TrainConfig& config, const std::string& resume_dir);

}  // namespace moai::train
