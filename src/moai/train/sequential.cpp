#include "moai/train/sequential.h"

#include <filesystem>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/log.h"

namespace moai::train {
namespace fs = std::filesystem;

namespace {

// Replaces `to` with a copy of the directory `from`: copied beside it, then renamed into place, so
// a crash leaves either the old copy or the new one.
void replace_directory_with_copy(const fs::path& from, const fs::path& to) {
  const fs::path staging = to.string() + ".tmp-copy";
  std::error_code ec;
  fs::remove_all(staging, ec);
  fs::copy(from, staging, fs::copy_options::recursive, ec);
  if (ec) throw_io_error(staging.string(), "cannot copy " + from.string() + ": " + ec.message());
  fs::remove_all(to, ec);
  rename_atomic(staging.string(), to.string());
}

}  // namespace

TrainResult run_sequential_training(const TrainConfig& config, Communicator& comm,
                                    const TrainerHooks& hooks) {
  validate_train_config(config);
  if (!config.resume_from_checkpoint.empty() && config.resume_from_checkpoint != "auto")
    throw_input_error("--resume_from_checkpoint",
                      "with --sequential only auto is supported (each stage resumes from its "
                      "own output_dir/stage_k checkpoints)");
  std::vector<std::string> sources = config.dataset;
  sources.insert(sources.end(), config.train_file.begin(), config.train_file.end());
  const size_t stages = sources.size();
  const fs::path root = config.output_dir;

  TrainResult result;
  std::string previous_model = config.pretrained_model;
  for (size_t k = 1; k <= stages; ++k) {
    const fs::path stage_dir = root / ("stage_" + std::to_string(k));
    const fs::path final_model = stage_dir / "final_model";
    if (config.resume_from_checkpoint == "auto" &&
        file_exists((stage_dir / kStageCompleteMarker).string())) {
      if (comm.is_root())
        MOAI_INFO("stage " << k << "/" << stages << " (" << sources[k - 1]
                           << ") already complete: continuing from " << final_model.string());
      previous_model = final_model.string();
      continue;
    }
    if (comm.is_root())
      MOAI_INFO("stage " << k << "/" << stages << ": " << sources[k - 1] << " -> "
                         << stage_dir.string());
    TrainConfig stage = config;
    stage.sequential = false;
    stage.dataset = {sources[k - 1]};
    stage.train_file.clear();
    stage.output_dir = stage_dir.string();
    stage.pretrained_model = previous_model;
    // A stage that starts from the previous one's model takes its shapes from it.
    if (k > 1) {
      stage.model_config.clear();
      stage.model_inline_json.clear();
    }
    // The tokenizer travels with each stage's final_model, so a later stage needs no path.
    if (k > 1 && config.tokenizer_path.empty()) stage.tokenizer_path = previous_model;
    result = run_training(stage, comm, hooks);
    if (result.interrupted) return result;
    if (comm.is_root())
      write_file_atomic((stage_dir / kStageCompleteMarker).string(),
                        "stage " + std::to_string(k) + " of " + std::to_string(stages) + ": " +
                            sources[k - 1] + "\n");
    comm.barrier();
    previous_model = final_model.string();
  }
  result.final_model_dir = (root / "final_model").string();
  if (comm.is_root()) {
    replace_directory_with_copy(previous_model, result.final_model_dir);
    MOAI_INFO("sequential training complete (" << stages << " stages): model saved to "
                                               << result.final_model_dir);
  }
  comm.barrier();
  return result;
}

}  // namespace moai::train
