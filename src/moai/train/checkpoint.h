#pragma once
// Checkpoint directories and the training state that makes resume exact.
//
//   output_dir/checkpoint-<step>/
//     config.json, model.safetensors, ...   an HF model directory (loads in transformers and moai
//     as-is) tokenizer.json, tokenizer_config.json, special_tokens_map.json optimizer.safetensors
//     AdamW moments exp_avg / exp_avg_sq (F32, the parameter layout) trainer_state.json step,
//     optimizer step count, data-loader position, counters train_config.json                    the
//     resolved settings of the run COMPLETE                             written last; a directory
//     without it is never used
//
// A checkpoint is assembled in checkpoint-<step>.partial/, each file written atomically, the marker
// last, then the directory is renamed into place and the parent fsync'ed. A crash at any moment
// leaves either the previous complete checkpoints or the new one too; never a directory that looks
// complete but is not. Pruning (save_total_limit) runs only after the new checkpoint is complete.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace moai::train {

inline constexpr const char* kCheckpointMarker = "COMPLETE";

// Counters that continue across a resume. The only randomness in training (initialisation, data
// order) is derived from the seed and the loader position, so those two are the RNG state.
struct TrainerState {
  int64_t step = 0;  // optimizer steps completed
  int64_t optimizer_steps =
      0;  // AdamW's bias-correction count (steps actually applied; skipped ones excluded)
  std::string loader_state;  // data::LoaderState JSON (identical on every rank)
  uint64_t seed = 0;
  int64_t world_size = 1;
  // Rows per micro-batch per rank and micro-batches per step of the saving run (0: unknown, an
  // older checkpoint). With world_size they give the global batch a resume on another world size
  // keeps.
  int64_t batch_size = 0;
  int64_t accumulation = 0;
  int64_t tokens_seen = 0;  // target tokens trained on, all ranks
  int64_t bad_steps_total = 0;
  int64_t bad_steps_in_row = 0;
  double elapsed_seconds = 0;  // training time before this run segment
  double log_loss_sum = 0;     // running window of the metrics line in progress
  int64_t log_loss_count = 0;
  int64_t stage = 0;  // --sequential: index of the dataset being trained
  // The step of the last evaluation logged before this state was saved (-1: none) and its loss. The
  // checkpoint at the final step is written after the final evaluation, so a resume from it must
  // not evaluate (and log) that step again.
  int64_t last_eval_step = -1;
  double last_eval_loss = 0;

  std::string to_json() const;
  static TrainerState from_json(const std::string& text, const std::string& where);
};

struct CheckpointInfo {
  int64_t step = 0;
  std::string path;
};

class CheckpointManager {
 public:
  // total_limit <= 0 keeps every checkpoint.
  CheckpointManager(std::string output_dir, int64_t total_limit);

  // Builds checkpoint-<step>/: `write_contents(dir)` writes every file into the temporary
  // directory; then the marker, the rename and pruning. Returns the final path. A leftover .partial
  // directory or an existing checkpoint of the same step is replaced.
  std::string save(int64_t step, const std::function<void(const std::string& dir)>& write_contents);

  // The temporary directory save(step) writes into (other ranks add their files there while the
  // writer's write_contents runs).
  std::string partial_dir(int64_t step) const;

  // Complete checkpoints in output_dir, oldest first.
  std::vector<CheckpointInfo> list_complete() const;
  std::optional<CheckpointInfo> latest_complete() const;
  // Removes leftovers of interrupted saves (*.partial). Returns how many were removed.
  int remove_partial() const;

  // Resolves --resume_from_checkpoint: "auto" gives the newest complete checkpoint that verifies
  // (checkpoint_verify.h; corrupt ones are skipped with a warning; nullopt when none is left), a
  // path must be a complete checkpoint that verifies (InputError naming it otherwise).
  std::optional<CheckpointInfo> resolve_resume(const std::string& request) const;
  std::optional<CheckpointInfo> newest_verified() const;

  static bool is_complete(const std::string& dir);

 private:
  void prune();
  std::string output_dir_;
  int64_t total_limit_;
};

// Creates the run's output directory and proves it writable (a probe file is written and removed),
// so a bad --output_dir fails before any training: InputError naming it (exit 2).
void prepare_output_dir(const std::string& dir);

// Step number of a "checkpoint-<step>" directory name (-1 when the name does not match).
int64_t checkpoint_step_from_name(const std::string& name);

// The optimizer moments file inside a checkpoint.
void save_optimizer_moments(const std::string& dir, const float* m, const float* v, int64_t count,
                            int64_t optimizer_steps);
// Fills m and v (count floats each); InputError when the file is missing or sized for another
// model.
void load_optimizer_moments(const std::string& dir, float* m, float* v, int64_t count);

// ZeRO-1: each rank writes the moments of its slice [begin, end) of the `total`-float parameter
// buffer as optimizer-rank<R>-of-<W>.safetensors (metadata begin/end/total), beside the shared
// model files.
void save_optimizer_shard(const std::string& dir, const float* m, const float* v, int64_t begin,
                          int64_t end, int64_t total, int64_t optimizer_steps, int rank, int world);
// Fills m and v with the slice [begin, end) of the moments, read from optimizer.safetensors or
// from the shard files of any world size (shards are re-cut on resume). InputError when the files
// are missing, sized for another model, or leave part of the slice uncovered.
void load_optimizer_range(const std::string& dir, int64_t begin, int64_t end, int64_t total,
                          float* m, float* v);

}  // namespace moai::train
