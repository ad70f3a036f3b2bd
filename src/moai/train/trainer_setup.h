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

// Start-up agreement: every rank must run the same build with the same settings. Rank 0's digest
// of the resolved settings and of the build is broadcast and compared; any difference is an
// InputError on every rank. A rank that does not answer within timeout_s (dead, stuck, or its host
// unreachable) makes the waiting ranks print which one they are and exit with status 3 instead of
// hanging. The environment variable MOAI_STARTUP_TIMEOUT_S overrides timeout_s;
// MOAI_TEST_STARTUP_DELAY_RANK=R:S makes rank R sleep S seconds first (tests).
void check_ranks_agree(const TrainConfig& config, Communicator& comm, double timeout_s = 300);

// True when every rank sees the same directory `dir` (created if needed): rank 0 writes a probe
// file and every rank looks for it. Always true on one node.
bool directory_shared_by_all_ranks(const std::string& dir, Communicator& comm);

// The training data: a prepared dataset given directly, or raw files/directories prepared now into
// output_dir/prepared: once by rank 0 when output_dir is on a filesystem every node sees, else once
// per node by its local rank 0; the others wait (a second run reuses the cache entry).
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
