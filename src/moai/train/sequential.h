#pragma once
// --sequential: staged training, one dataset after another (the original's train_sequential).
//
// Stage k (1-based) trains on the k-th source alone (all --dataset entries, then all --train_file
// entries) into output_dir/stage_k/, starting from stage k-1's final_model (stage 1: from
// --pretrained_model, or a fresh model). Each stage is an ordinary moai train run with its own
// schedule and a fresh optimizer: a stage fine-tunes the previous stage's result, which is what the
// original did. Unlike the original, every stage honours --warmup_steps (it hard-coded 100 after
// stage 1), resume works (--resume_from_checkpoint auto skips finished stages and resumes the
// stage in progress from its own checkpoints), and the last stage's model is also written to
// output_dir/final_model, the path scripts/pretrain.sh prints.
#include "moai/train/trainer.h"

namespace moai::train {

// The marker written into stage_k/ once the stage's final_model is complete.
inline constexpr const char* kStageCompleteMarker = "STAGE_COMPLETE";

TrainResult run_sequential_training(const TrainConfig& config, Communicator& comm,
                                    const TrainerHooks& hooks = {});

}  // namespace moai::train
