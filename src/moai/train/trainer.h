#pragma once
// `moai train` as a library call: pretraining and SFT with micro-batches and gradient accumulation,
// the loss normalised over the whole optimizer step (all micro-batches and ranks), data parallel
// through a Communicator, evaluation on the held-out split, checkpoints with exact resume,
// metrics.jsonl, and final_model/ (an HF model directory with the tokenizer).
//
// Step s (0-based) of a run, on every rank:
//   1. fetch the step's gradient_accumulation_steps micro-batches from this rank's loader;
//   2. all-reduce [valid target tokens, stop request] so every rank knows the step's token
//      count N and whether anyone was asked to stop (Ctrl-C/SIGTERM): all ranks stop at the
//      same step;
//   3. zero the gradients; forward+backward each micro-batch with loss normaliser N
//      (gradients add up);
//   4. all-reduce-sum the gradients (bucketed) and the loss: the result is the gradient of
//      the mean loss over all N tokens, identical on every rank. Under ZeRO-1 (--zero_stage 1,
//      the default with > 1 rank) the gradients are reduce-scattered instead, each rank's AdamW
//      updates its 1/N slice and the slices are all-gathered after the update; the norm is the
//      all-reduced sum of the slices' squares;
//   5. non-finite loss or gradient norm: skip the update and count it (after max_bad_steps
//      in a row: save a checkpoint of the last good weights and stop); else clip and AdamW
//      at lr = schedule(s).
// Rank 0 writes checkpoints, metrics and final_model/.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "moai/ops/ops.h"
#include "moai/train/communicator.h"
#include "moai/train/train_config.h"

namespace moai::train {

struct TrainResult {
  int64_t steps_done = 0;  // optimizer steps completed (including those of a resumed-from run)
  int64_t total_steps = 0;
  bool interrupted = false;  // stopped by SIGINT/SIGTERM after saving a checkpoint
  int64_t resumed_from_step = -1;
  double last_loss = 0;
  double final_eval_loss = -1;  // < 0: no evaluation ran
  int64_t bad_steps = 0;
  std::string final_model_dir;  // empty when interrupted
  std::string last_checkpoint;
};

struct TrainerHooks {
  bool show_progress = true;  // the progress line on rank 0
  // Builds the communicator for device buffers (NCCL) once a GPU backend exists: a multi-rank run
  // on the CUDA backend sends its collectives through it, bootstrapped over `comm` (MPI broadcasts
  // the NCCL id). Set by the CLI in CUDA builds; without it such a run is refused.
  std::function<std::unique_ptr<Communicator>(Communicator& bootstrap, ops::Backend& backend)>
      device_communicator;
};

// Runs a whole training job. InputError for bad settings, data or model files; Error when the loss
// or gradients stay non-finite for max_bad_steps steps (the last good checkpoint is left intact).
TrainResult run_training(const TrainConfig& config, Communicator& comm,
                         const TrainerHooks& hooks = {});

}  // namespace moai::train
