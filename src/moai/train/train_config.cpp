#include "moai/train/train_config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "moai/core/error.h"
#include "moai/core/file_util.h"

namespace moai::train {
namespace {

using C = TrainConfig;

// The original's YAML and train.py spellings that name one of our settings.
const std::map<std::string, std::string>& aliases() {
  static const std::map<std::string, std::string> table = {
      {"per_device_train_batch_size", "batch_size"},
      {"lr_scheduler_type", "lr_scheduler"},
      {"use_sequence_packing", "packing"},
      {"dataset_name", "dataset"},
      {"num_train_epochs", "num_epochs"},
      {"max_length", "max_seq_length"},
  };
  return table;
}

// Keys of the original's YAML that have no meaning for moai; accepted so its file loads, with a
// note when the value asks for something we do not do.
const std::set<std::string>& inert_yaml_keys() {
  static const std::set<std::string> keys = {
      "dataloader_pin_memory", "ddp_find_unused_parameters", "use_wandb", "wandb_project",
      "wandb_entity",          "generation_config",          "metrics"};
  return keys;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? " " : "") + items[i];
  return out;
}

std::string format_double(double value) {
  std::ostringstream stream;
  stream.precision(17);
  stream << value;
  return stream.str();
}

template <typename T>
T parse_number(const std::string& text, const std::string& where, const char* name,
               const char* expected) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty())
    throw_input_error(where,
                      std::string(name) + ": expected " + expected + ", got \"" + text + "\"");
  return value;
}

bool parse_bool(const std::string& text, const std::string& where, const char* name) {
  if (text == "true" || text == "True" || text == "1" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "False" || text == "0" || text == "no" || text == "off")
    return false;
  throw_input_error(where, std::string(name) + ": expected true or false, got \"" + text + "\"");
}

nlohmann::json yaml_to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Sequence: {
      nlohmann::json array = nlohmann::json::array();
      for (const auto& item : node) array.push_back(yaml_to_json(item));
      return array;
    }
    case YAML::NodeType::Map: {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& item : node)
        object[item.first.as<std::string>()] = yaml_to_json(item.second);
      return object;
    }
    case YAML::NodeType::Scalar: {
      const std::string& text = node.Scalar();
      if (node.Tag() == "!") return text;  // quoted: keep as a string
      if (text == "true" || text == "false") return text == "true";
      int64_t integer = 0;
      auto [iptr, iec] = std::from_chars(text.data(), text.data() + text.size(), integer);
      if (iec == std::errc() && iptr == text.data() + text.size()) return integer;
      double real = 0;
      auto [dptr, dec] = std::from_chars(text.data(), text.data() + text.size(), real);
      if (dec == std::errc() && dptr == text.data() + text.size()) return real;
      return text;
    }
  }
  return nullptr;
}

std::string yaml_where(const std::string& path, const YAML::Node& node) {
  return file_line(path, node.Mark().line >= 0 ? node.Mark().line + 1 : 0);
}

}  // namespace

const std::vector<ConfigField>& train_config_fields() {
  static const std::vector<ConfigField> fields = {
      {"mode", &C::mode, "pretrain or sft"},
      {"dataset", &C::dataset,
       "training data: prepared dirs (moai data prepare) or text/JSONL/JSON files or dirs"},
      {"dataset_config", &C::dataset_config,
       "Hub config (subset) of the first Hub --dataset; NAME:CONFIG sets one dataset's"},
      {"split", &C::split, "Hub split of --dataset, HF slicing allowed (train, train[:10%])"},
      {"eval_split", &C::eval_split, "split of a Hub --eval_dataset"},
      {"revision", &C::revision, "Hub revision (branch, tag or commit) of Hub datasets"},
      {"train_file", &C::train_file, "extra local training files (txt, jsonl, json)"},
      {"text_column", &C::text_column, "JSON field that holds the text (default: detect)"},
      {"tokenizer_path", &C::tokenizer_path, "tokenizer.json or a directory holding one"},
      {"eval_dataset", &C::eval_dataset,
       "held-out data for evaluation (default: split off the training data)"},
      {"eval_fraction", &C::eval_fraction,
       "fraction of documents held out when --eval_dataset is not given"},
      {"model_config", &C::model_config,
       "model config.json for a new model (e.g. configs/tiny.json)"},
      {"pretrained_model", &C::pretrained_model, "HF model directory to start from"},
      {"model_inline_json", &C::model_inline_json, "model config from the YAML model: section",
       false},
      {"output_dir", &C::output_dir, "where checkpoints, metrics.jsonl and final_model/ go"},
      {"run_name", &C::run_name,
       "a name for the run (kept in each checkpoint's train_config.json)"},
      {"num_epochs", &C::num_epochs,
       "passes over the training data (fractions allowed); used when --max_steps <= 0"},
      {"batch_size", &C::batch_size, "micro-batch size per rank (sequences)"},
      {"gradient_accumulation_steps", &C::gradient_accumulation_steps,
       "micro-batches per optimizer step"},
      {"max_seq_length", &C::max_seq_length, "tokens per sequence"},
      {"max_steps", &C::max_steps, "optimizer steps; <= 0 trains num_epochs"},
      {"learning_rate", &C::learning_rate, "peak learning rate"},
      {"weight_decay", &C::weight_decay, "AdamW decoupled weight decay (not applied to norms)"},
      {"adam_beta1", &C::adam_beta1, "AdamW beta1"},
      {"adam_beta2", &C::adam_beta2, "AdamW beta2"},
      {"adam_epsilon", &C::adam_epsilon, "AdamW epsilon"},
      {"max_grad_norm", &C::max_grad_norm, "clip the global gradient norm to this; <= 0 disables"},
      {"lr_scheduler", &C::lr_scheduler, "linear, cosine, constant or wsd"},
      {"warmup_steps", &C::warmup_steps, "warmup updates; < 0 uses --warmup_ratio of the run"},
      {"warmup_ratio", &C::warmup_ratio, "warmup as a fraction of the run when --warmup_steps < 0"},
      {"stable_ratio", &C::stable_ratio,
       "wsd: stable fraction (must be 1 - warmup_ratio - decay_ratio)"},
      {"decay_ratio", &C::decay_ratio, "wsd: decay fraction of the run"},
      {"decay_shape", &C::decay_shape, "wsd: decay shape linear, cosine or 1-sqrt"},
      {"min_lr_ratio", &C::min_lr_ratio,
       "final lr as a fraction of the peak; < 0: 0 (linear/cosine), 0.1 (wsd)"},
      {"loss_type", &C::loss_type, "cross_entropy, focal, label_smoothing or multi_objective"},
      {"ce_weight", &C::ce_weight, "multi_objective: cross-entropy weight"},
      {"focal_weight", &C::focal_weight, "multi_objective: focal weight"},
      {"smooth_weight", &C::smooth_weight, "multi_objective: label-smoothing weight"},
      {"focal_gamma", &C::focal_gamma, "focal loss gamma"},
      {"smoothing", &C::smoothing, "label smoothing epsilon"},
      {"device", &C::device,
       "auto, cpu, cuda or cuda:N (auto: cuda when built with it and a GPU is present)"},
      {"precision", &C::precision,
       "fp32, or bf16 mixed precision (fp32 master weights and AdamW moments)"},
      {"save_dtype", &C::save_dtype, "dtype of the HF weights in checkpoints: fp32 or bf16"},
      {"bf16", &C::bf16, "the original's flag: same as --precision bf16"},
      {"fp16", &C::fp16, "not supported (use --precision bf16); accepted to give a clear error"},
      {"gradient_checkpointing", &C::gradient_checkpointing,
       "recompute each layer's forward in backward"},
      {"overlap_comm", &C::overlap_comm,
       "MPI: reduce each layer's gradients on a communication thread as soon as its backward is "
       "done"},
      {"zero_stage", &C::zero_stage,
       "0: every rank keeps all AdamW state; 1: each rank keeps 1/N (ZeRO-1); -1: 1 when > 1 rank"},
      {"packing", &C::packing,
       "pack several documents per row (pretrain: concatenate; sft: bin-pack)"},
      {"sequential", &C::sequential,
       "train the --dataset entries one after another, one stage each"},
      {"logging_steps", &C::logging_steps, "write a metrics line every N steps"},
      {"save_steps", &C::save_steps,
       "write checkpoint-<step>/ every N steps; <= 0 only at the end"},
      {"save_total_limit", &C::save_total_limit,
       "keep at most N checkpoints (oldest pruned); <= 0 keeps all"},
      {"eval_steps", &C::eval_steps,
       "evaluate on the held-out data every N steps; <= 0 only at the end"},
      {"eval_batches", &C::eval_batches,
       "cap each evaluation at N micro-batches; 0 = the whole held-out set"},
      {"evaluation_strategy", &C::evaluation_strategy, "steps (evaluate) or no"},
      {"eval_tasks", &C::eval_tasks,
       "comma-separated benchmark tasks (moai eval) scored at each evaluation, logged as "
       "<task>/<metric>"},
      {"eval_limit", &C::eval_limit, "eval_tasks: documents per task; 0 = all"},
      {"eval_dataset_path", &C::eval_dataset_path,
       "eval_tasks: local dataset file or directory (moai eval --dataset_path)"},
      {"resume_from_checkpoint", &C::resume_from_checkpoint,
       "a checkpoint dir, or auto (the latest complete one)"},
      {"seed", &C::seed, "seed for initialisation and data order"},
      {"threads", &C::threads, "CPU threads per rank; 0 = all cores / ranks"},
      {"collective_timeout", &C::collective_timeout,
       "seconds a rank may wait in one of a training step's collectives (a dead or stuck peer) "
       "before the job is aborted with status 3; <= 0: wait forever"},
      {"max_bad_steps", &C::max_bad_steps,
       "stop after this many consecutive steps with NaN/Inf loss or gradients"},
      {"peak_tflops", &C::peak_tflops, "peak TFLOP/s per rank for the MFU column; 0 hides it"},
      {"debug_kill_at", &C::debug_kill_at,
       "testing: SIGKILL this process at step:N (after update N), save:N (mid-save) or eval:N"},
      {"num_proc", &C::num_proc, "accepted for compatibility; tokenisation uses --threads"},
      {"dataloader_num_workers", &C::dataloader_num_workers,
       "accepted for compatibility; the loader is memory-mapped"},
      {"flash_attention", &C::flash_attention,
       "accepted for compatibility; attention is always the fused one"},
      {"compile", &C::compile, "accepted for compatibility; moai is compiled already"},
      {"cache_dir", &C::cache_dir,
       "accepted for compatibility; prepared data is cached by moai data prepare"},
  };
  return fields;
}

const ConfigField* find_config_field(const std::string& name) {
  std::string canonical = name;
  if (auto it = aliases().find(name); it != aliases().end()) canonical = it->second;
  for (const ConfigField& field : train_config_fields())
    if (canonical == field.name) return &field;
  return nullptr;
}

void set_config_value(TrainConfig& config, const std::string& name, const std::string& value,
                      const std::string& where, bool append) {
  const ConfigField* field = find_config_field(name);
  if (!field) throw_input_error(where, "unknown setting \"" + name + "\" (see moai train --help)");
  std::visit(
      [&](auto member) {
        using T = std::remove_reference_t<decltype(config.*member)>;
        T& slot = config.*member;
        if constexpr (std::is_same_v<T, std::string>) {
          slot = value;
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          if (!append) slot.clear();
          slot.push_back(value);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          slot = parse_number<int64_t>(value, where, field->name, "an integer");
        } else if constexpr (std::is_same_v<T, double>) {
          slot = parse_number<double>(value, where, field->name, "a number");
          if (!std::isfinite(slot))
            throw_input_error(where, std::string(field->name) + ": expected a finite number");
        } else {
          slot = parse_bool(value, where, field->name);
        }
      },
      field->member);
}

std::string get_config_value(const TrainConfig& config, const ConfigField& field) {
  return std::visit(
      [&](auto member) -> std::string {
        using T = std::remove_cvref_t<decltype(config.*member)>;
        const T& slot = config.*member;
        if constexpr (std::is_same_v<T, std::string>)
          return slot;
        else if constexpr (std::is_same_v<T, std::vector<std::string>>)
          return join(slot);
        else if constexpr (std::is_same_v<T, int64_t>)
          return std::to_string(slot);
        else if constexpr (std::is_same_v<T, double>)
          return format_double(slot);
        else
          return slot ? "true" : "false";
      },
      field.member);
}

void load_train_config_yaml(TrainConfig& config, const std::string& path,
                            std::vector<std::string>* notes) {
  YAML::Node root;
  try {
    root = YAML::Load(read_file(path));
  } catch (const YAML::Exception& e) {
    throw_input_error(file_line(path, e.mark.line + 1), "not valid YAML: " + e.msg);
  }
  if (root.IsNull()) return;
  if (!root.IsMap()) throw_input_error(path, "expected a mapping of settings at the top level");

  // Applies one key: value (a scalar or, for list settings, a sequence of scalars).
  const auto apply = [&](const std::string& key, const YAML::Node& value) {
    const std::string where = yaml_where(path, value);
    if (inert_yaml_keys().count(key)) {
      const bool asks_for_wandb =
          key == "use_wandb" && value.IsScalar() && value.as<std::string>() == "true";
      if (notes && asks_for_wandb)
        notes->push_back(where +
                         ": use_wandb: Weights & Biases is not supported; metrics go to "
                         "output_dir/metrics.jsonl (plot them with moai plot)");
      if (key == "metrics" && value.IsSequence()) {
        for (const auto& metric : value) {
          const std::string name = metric.as<std::string>();
          if (name != "perplexity" && name != "loss")
            throw_input_error(yaml_where(path, metric),
                              "evaluation.metrics: \"" + name +
                                  "\" is not computed; expected loss or perplexity");
        }
      }
      return;
    }
    const ConfigField* field = find_config_field(key);
    if (!field || !field->is_flag) throw_input_error(where, "unknown setting \"" + key + "\"");
    if (value.IsSequence()) {
      if (!std::holds_alternative<std::vector<std::string> TrainConfig::*>(field->member))
        throw_input_error(where, key + ": expected a single value, got a list");
      bool first = true;
      for (const auto& item : value) {
        set_config_value(config, key, item.as<std::string>(), yaml_where(path, item), !first);
        first = false;
      }
    } else if (value.IsScalar()) {
      set_config_value(config, key, value.Scalar(), where);
    } else if (value.IsNull()) {
      // "key: null" keeps the default (the original writes rope_scaling: null, wandb_entity: null).
    } else {
      throw_input_error(where, key + ": expected a value, got a mapping");
    }
  };

  for (const auto& entry : root) {
    const std::string key = entry.first.as<std::string>();
    const YAML::Node& value = entry.second;
    if (key == "model") {
      if (!value.IsMap())
        throw_input_error(yaml_where(path, value), "model: expected a mapping of config.json keys");
      config.model_inline_json = yaml_to_json(value).dump();
    } else if (key == "loss") {
      if (!value.IsMap()) throw_input_error(yaml_where(path, value), "loss: expected a mapping");
      for (const auto& item : value) {
        const std::string loss_key = item.first.as<std::string>();
        if (loss_key == "type") {
          set_config_value(config, "loss_type", item.second.as<std::string>(),
                           yaml_where(path, item.second));
        } else if (loss_key == "params") {
          for (const auto& param : item.second) apply(param.first.as<std::string>(), param.second);
        } else {
          throw_input_error(yaml_where(path, item.second),
                            "loss: unknown key \"" + loss_key + "\"");
        }
      }
    } else if (key == "data" || key == "training" || key == "evaluation") {
      if (!value.IsMap()) throw_input_error(yaml_where(path, value), key + ": expected a mapping");
      for (const auto& item : value) {
        const std::string item_key = item.first.as<std::string>();
        if (key == "data" && item_key == "packing_method") {
          const std::string method = item.second.as<std::string>();
          if (method != "basic" && method != "hierarchical")
            throw_input_error(
                yaml_where(path, item.second),
                "packing_method: expected basic or hierarchical, got \"" + method + "\"");
          continue;  // the packer is chosen by mode (docs/training.md)
        }
        apply(item_key, item.second);
      }
    } else {
      apply(key, value);
    }
  }
}

EngineSettings resolve_engine_settings(const TrainConfig& config) {
  if (config.fp16)
    throw_input_error("fp16",
                      "fp16 training is not supported yet (it needs loss scaling); use "
                      "--precision bf16");
  EngineSettings out;
  out.device = ops::parse_device(config.device, "device");
  out.precision = ops::parse_precision(config.precision, "precision");
  if (config.bf16) out.precision = ops::Precision::kBf16;
  const ops::Precision save = ops::parse_precision(config.save_dtype, "save_dtype");
  out.save_dtype = ops::compute_dtype(save);
  return out;
}

namespace {

data::DatasetMode parse_mode(const std::string& name) {
  if (name == "pretrain") return data::DatasetMode::kPretrain;
  if (name == "sft") return data::DatasetMode::kSft;
  throw_input_error("mode", "expected pretrain or sft, got \"" + name + "\"");
}

EvalStrategy parse_eval_strategy(const std::string& name) {
  if (name == "steps") return EvalStrategy::kSteps;
  if (name == "no") return EvalStrategy::kNo;
  throw_input_error("evaluation_strategy", "expected steps or no, got \"" + name + "\"");
}

ZeroStage zero_stage_of(int64_t stage) {
  if (stage == -1) return ZeroStage::kAuto;
  if (stage == 0) return ZeroStage::kNone;
  if (stage == 1) return ZeroStage::kOptimizer;
  throw_input_error("zero_stage", "expected 0, 1 or -1 (auto), got " + std::to_string(stage));
}

ops::LossSettings loss_settings_of(const TrainConfig& config) {
  ops::LossSettings loss;
  loss.kind = ops::parse_loss_kind(config.loss_type, "loss_type");
  loss.focal_gamma = config.focal_gamma;
  loss.smoothing = config.smoothing;
  loss.ce_weight = config.ce_weight;
  loss.focal_weight = config.focal_weight;
  loss.smooth_weight = config.smooth_weight;
  return loss;
}

void validate_sizes(const TrainConfig& config) {
  if (config.dataset.empty() && config.train_file.empty())
    throw_input_error("dataset", "give at least one --dataset or --train_file");
  if (config.output_dir.empty()) throw_input_error("output_dir", "required");
  if (config.batch_size <= 0) throw_input_error("batch_size", "expected a positive integer");
  if (config.gradient_accumulation_steps <= 0)
    throw_input_error("gradient_accumulation_steps", "expected a positive integer");
  if (config.max_seq_length < 2) throw_input_error("max_seq_length", "expected at least 2");
  if (config.max_steps <= 0 && !(config.num_epochs > 0))
    throw_input_error("num_epochs", "expected a positive number when --max_steps <= 0");
  if (config.eval_fraction < 0 || config.eval_fraction >= 1)
    throw_input_error("eval_fraction", "expected a value in [0, 1)");
  if (config.max_bad_steps <= 0) throw_input_error("max_bad_steps", "expected a positive integer");
  if (config.threads < 0) throw_input_error("threads", "expected 0 (auto) or a positive count");
  if (config.sequential && config.dataset.size() + config.train_file.size() < 2)
    throw_input_error("sequential", "needs at least two datasets to train one after another");
}

void validate_optimizer(const TrainConfig& config, ScheduleKind scheduler) {
  if (config.adam_beta1 < 0 || config.adam_beta1 >= 1)
    throw_input_error("adam_beta1", "expected [0, 1)");
  if (config.adam_beta2 < 0 || config.adam_beta2 >= 1)
    throw_input_error("adam_beta2", "expected [0, 1)");
  if (!(config.adam_epsilon > 0)) throw_input_error("adam_epsilon", "expected a positive number");
  if (config.weight_decay < 0) throw_input_error("weight_decay", "expected a non-negative number");
  if (config.warmup_ratio < 0 || config.warmup_ratio > 1)
    throw_input_error("warmup_ratio", "expected [0, 1]");
  if (config.decay_ratio < 0 || config.decay_ratio > 1)
    throw_input_error("decay_ratio", "expected [0, 1]");
  if (scheduler == ScheduleKind::kWsd &&
      std::abs(config.warmup_ratio + config.stable_ratio + config.decay_ratio - 1.0) > 1e-6)
    throw_input_error("stable_ratio", "warmup_ratio + stable_ratio + decay_ratio must sum to 1");
}

}  // namespace

TrainSettings validate_train_config(const TrainConfig& config) {
  TrainSettings settings;
  settings.mode = parse_mode(config.mode);
  validate_sizes(config);
  settings.engine = resolve_engine_settings(config);
  settings.evaluation = parse_eval_strategy(config.evaluation_strategy);
  settings.lr_scheduler = parse_schedule_kind(config.lr_scheduler, "lr_scheduler");
  settings.decay_shape = parse_decay_shape(config.decay_shape, "decay_shape");
  validate_optimizer(config, settings.lr_scheduler);
  settings.zero_stage = zero_stage_of(config.zero_stage);
  settings.loss = loss_settings_of(config);
  ops::loss_config_for(settings.loss);  // multi_objective: the weights must sum to 1
  return settings;
}

std::vector<std::string> inert_setting_notes(const TrainConfig& config) {
  const TrainConfig defaults;
  std::vector<std::string> notes;
  const auto note = [&](bool changed, const char* name, const char* why) {
    if (changed) notes.push_back(std::string(name) + " has no effect in moai: " + why);
  };
  note(config.num_proc != defaults.num_proc, "num_proc", "tokenisation uses --threads");
  note(config.dataloader_num_workers != defaults.dataloader_num_workers, "dataloader_num_workers",
       "batches come from memory-mapped token shards");
  note(config.flash_attention, "flash_attention", "the fused attention kernel is always used");
  note(config.compile, "compile", "there is nothing to compile at run time");
  note(!config.cache_dir.empty(), "cache_dir",
       "moai data prepare decides where prepared data lives");
  return notes;
}

std::string train_config_to_json(const TrainConfig& config) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const ConfigField& field : train_config_fields()) {
    std::visit([&](auto member) { out[field.name] = config.*member; }, field.member);
  }
  return out.dump(2);
}

TrainConfig train_config_from_json(const std::string& json_text, const std::string& where) {
  nlohmann::json in;
  try {
    in = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    throw_input_error(where, std::string("not valid JSON: ") + e.what());
  }
  if (!in.is_object()) throw_input_error(where, "expected a JSON object");
  TrainConfig config;
  for (auto it = in.begin(); it != in.end(); ++it) {
    const ConfigField* field = find_config_field(it.key());
    if (!field) throw_input_error(where, "unknown setting \"" + it.key() + "\"");
    try {
      std::visit(
          [&](auto member) {
            using T = std::remove_reference_t<decltype(config.*member)>;
            config.*member = it.value().template get<T>();
          },
          field->member);
    } catch (const nlohmann::json::exception& e) {
      throw_input_error(where, it.key() + ": " + e.what());
    }
  }
  return config;
}

}  // namespace moai::train
