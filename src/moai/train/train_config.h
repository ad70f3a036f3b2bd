#pragma once
// Everything `moai train` needs to know, in one struct, filled in three layers: built-in defaults,
// then a YAML file (--config, the original project's configs/training_config.yaml layout or flat
// keys), then command-line flags. One table (train_config_fields) names every setting once; it
// drives the YAML reader, the flag overrides, the --help text and the resolved config saved in each
// checkpoint, so the four cannot drift apart. Unknown keys are errors, never ignored.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "moai/data/prepared_dataset.h"
#include "moai/ops/backend_factory.h"
#include "moai/ops/loss.h"
#include "moai/train/lr_schedule.h"

namespace moai::train {

struct TrainConfig {
  // What to train on.
  std::string mode = "pretrain";     // pretrain | sft
  std::vector<std::string> dataset;  // prepared data dirs, corpus files/dirs (nargs='+')
  std::string dataset_config;   // Hub config of the first Hub --dataset (NAME:CONFIG for others)
  std::string split = "train";  // Hub split / slice of --dataset (HF syntax: train[:10%])
  std::string eval_split = "validation";  // split of a Hub --eval_dataset
  std::string revision = "main";          // Hub revision (branch, tag or commit) of Hub datasets
  std::vector<std::string> train_file;    // extra local files
  std::string text_column;                // JSON field holding the text (empty: auto-detect)
  std::string tokenizer_path;
  std::string eval_dataset;  // held-out data; empty: split eval_fraction off the training data
  double eval_fraction = 0.01;

  // Model.
  std::string model_config;       // HF-style config.json (or preset file) for a new model
  std::string pretrained_model;   // HF model dir to start from (pretrain: continue; sft: fine-tune)
  std::string model_inline_json;  // the YAML file's model: section, as JSON (internal, not a flag)

  // Where results go.
  std::string output_dir;
  std::string run_name;

  // Optimisation.
  double num_epochs = 1.0;
  int64_t batch_size = 4;  // micro-batch per rank
  int64_t gradient_accumulation_steps = 8;
  int64_t max_seq_length = 2048;
  int64_t max_steps = -1;  // <= 0: num_epochs over the data
  double learning_rate = 3e-4;
  double weight_decay = 0.1;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.95;
  double adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;  // <= 0 disables clipping

  // Schedule.
  std::string lr_scheduler = "linear";  // linear | cosine | constant | wsd
  int64_t warmup_steps = -1;            // < 0: warmup_ratio of the run
  double warmup_ratio = 0.02;
  double stable_ratio = 0.78;  // wsd: informational, must equal 1 - warmup_ratio - decay_ratio
  double decay_ratio = 0.20;
  std::string decay_shape = "cosine";  // wsd: linear | cosine | 1-sqrt
  double min_lr_ratio = -1.0;          // < 0: 0 for linear/cosine/constant, 0.1 for wsd

  // Loss (the model layer computes it).
  std::string loss_type =
      "cross_entropy";  // cross_entropy | focal | label_smoothing | multi_objective
  double ce_weight = 0.6;
  double focal_weight = 0.3;
  double smooth_weight = 0.1;
  double focal_gamma = 2.0;
  double smoothing = 0.1;

  // Engine, numerics and memory (strings here; resolve_engine_settings gives the enums).
  std::string device = "auto";      // auto | cpu | cuda | cuda:N
  std::string precision = "fp32";   // fp32 | bf16 (mixed precision, fp32 masters)
  std::string save_dtype = "fp32";  // fp32 | bf16: dtype of the HF weights written in checkpoints
  bool bf16 = false;                // the original's flag: --precision bf16
  bool fp16 = false;                // an error until fp16 (loss scaling) is supported
  bool gradient_checkpointing = false;
  bool overlap_comm = false;  // reduce each layer's gradients on a thread during the backward
  int64_t zero_stage = -1;    // -1: 1 when the world size is > 1, else 0; 1: shard AdamW over ranks
  bool packing = false;
  bool sequential = false;

  // Bookkeeping.
  int64_t logging_steps = 100;
  int64_t save_steps = 1000;
  int64_t save_total_limit = 3;               // <= 0 keeps every checkpoint
  int64_t eval_steps = 1000;                  // <= 0: evaluate only at the end
  int64_t eval_batches = 0;                   // > 0: cap evaluation at this many micro-batches
  std::string evaluation_strategy = "steps";  // steps | no
  std::string eval_tasks;              // comma-separated moai eval tasks run at each evaluation
  int64_t eval_limit = 0;              // > 0: documents per task
  std::string eval_dataset_path;       // local datasets for eval_tasks (moai eval --dataset_path)
  std::string resume_from_checkpoint;  // PATH | auto | empty
  int64_t seed = 42;
  int64_t threads = 0;              // 0: default
  int64_t max_bad_steps = 10;       // consecutive non-finite steps before stopping
  double collective_timeout = 600;  // s a step's collective may wait for a peer; <= 0: no limit
  double peak_tflops = 0;           // per rank, for MFU; 0: not shown
  std::string debug_kill_at;  // tests: "step:N", "save:N" or "eval:N" SIGKILLs the process there

  // Accepted for compatibility with the original's flags and YAML; they have no effect in moai and
  // say so when set to a non-default value (see docs/training.md).
  int64_t num_proc = 4;
  int64_t dataloader_num_workers = 4;
  bool flash_attention = false;
  bool compile = false;
  std::string cache_dir;
};

// One entry of the settings table. `member` points into TrainConfig.
using ConfigMember =
    std::variant<std::string TrainConfig::*, std::vector<std::string> TrainConfig::*,
                 int64_t TrainConfig::*, double TrainConfig::*, bool TrainConfig::*>;
struct ConfigField {
  const char* name;
  ConfigMember member;
  const char* help;
  bool is_flag = true;  // false: YAML/internal only
};
const std::vector<ConfigField>& train_config_fields();
const ConfigField* find_config_field(const std::string& name);  // canonical names and aliases

// Sets one setting from text ("true"/"false" for booleans, comma-free lists get one element per
// call when append is true). InputError "where: name: expected ..., got ..." on a bad value or
// unknown key.
void set_config_value(TrainConfig& config, const std::string& name, const std::string& value,
                      const std::string& where, bool append = false);
std::string get_config_value(const TrainConfig& config, const ConfigField& field);

// Reads a YAML file into config (on top of what is there). Accepts the original's sections
// (model/data/training/loss/evaluation) and flat top-level keys. Warnings for accepted no-op keys
// are appended to `notes`.
void load_train_config_yaml(TrainConfig& config, const std::string& path,
                            std::vector<std::string>* notes = nullptr);

// --device, --precision (with the original's --bf16) and --save_dtype as enums; InputError naming
// the field for a bad value (--fp16 included).
struct EngineSettings {
  ops::DeviceSpec device;
  ops::Precision precision = ops::Precision::kFp32;
  ops::DType save_dtype = ops::DType::kF32;
};
EngineSettings resolve_engine_settings(const TrainConfig& config);

enum class EvalStrategy { kSteps, kNo };
enum class ZeroStage { kAuto, kNone, kOptimizer };  // --zero_stage -1 | 0 | 1

// The string (and coded) settings as enums: TrainConfig keeps the text only for parsing and
// printing (YAML, flags, the config saved in checkpoints); the trainer reads these.
struct TrainSettings {
  data::DatasetMode mode = data::DatasetMode::kPretrain;
  ops::LossSettings loss;
  ScheduleKind lr_scheduler = ScheduleKind::kLinear;
  DecayShape decay_shape = DecayShape::kCosine;
  EvalStrategy evaluation = EvalStrategy::kSteps;
  ZeroStage zero_stage = ZeroStage::kAuto;
  EngineSettings engine;

  bool evaluates() const { return evaluation != EvalStrategy::kNo; }
  // ZeRO-1 for this world size (auto: on with more than one rank).
  bool shards_optimizer(int world_size) const {
    return zero_stage == ZeroStage::kOptimizer ||
           (zero_stage == ZeroStage::kAuto && world_size > 1);
  }
};

// Checks every field and the cross-field rules (mode, positive sizes, ratios) and returns the enum
// form; InputError naming the field.
TrainSettings validate_train_config(const TrainConfig& config);

// Notes for accepted settings that do nothing in moai and were set to a non-default value.
std::vector<std::string> inert_setting_notes(const TrainConfig& config);

// The resolved config as JSON text (saved in checkpoints) and back.
std::string train_config_to_json(const TrainConfig& config);
TrainConfig train_config_from_json(const std::string& json_text, const std::string& where);

}  // namespace moai::train
