#include "moai/train/trainer.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/interrupt.h"
#include "moai/core/log.h"
#include "moai/core/progress.h"
#include "moai/core/thread_pool.h"
#include "moai/data/loader.h"
#include "moai/eval/evaluator.h"
#include "moai/model/hf_checkpoint.h"
#include "moai/model/qwen3_model.h"
#include "moai/tokenizer/tokenizer.h"
#include "moai/train/adamw.h"
#include "moai/train/checkpoint.h"
#include "moai/train/collective_watchdog.h"
#include "moai/train/fault_injection.h"
#include "moai/train/grad_clip.h"
#include "moai/train/grad_sync.h"
#include "moai/train/lr_schedule.h"
#include "moai/train/metrics.h"
#include "moai/train/trainer_setup.h"

namespace moai::train {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// --debug_kill_at "what:N": the test harness's deterministic stand-in for `kill -9` at a chosen
// point.
void maybe_kill(const TrainConfig& config, const std::string& what, int64_t step) {
  if (config.debug_kill_at == what + ":" + std::to_string(step)) {
    std::fprintf(stderr, "moai: debug_kill_at %s: SIGKILL\n", config.debug_kill_at.c_str());
    std::fflush(stderr);
    ::raise(SIGKILL);
  }
}

model::Batch model_batch(const data::Batch& batch) {
  return {batch.batch_size, batch.seq_len,      batch.input_ids,
          batch.labels,     batch.position_ids, batch.segment_ids};
}

// MemAvailable from /proc/meminfo in bytes (0 when unknown).
double available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  double kilobytes = 0;
  std::string unit;
  while (meminfo >> key >> kilobytes >> unit)
    if (key == "MemAvailable:") return kilobytes * 1024.0;
  return 0;
}

// A field of /proc/self/status in bytes ("VmRSS:", "VmHWM:"; 0 when unknown).
double process_status_bytes(const std::string& field) {
  std::ifstream status("/proc/self/status");
  std::string key;
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(field, 0) == 0) return std::stod(line.substr(field.size())) * 1024.0;  // kB
  return 0;
}

void write_generation_config(const std::string& dir, const model::Qwen3Config& config,
                             const tok::Tokenizer& tokenizer) {
  nlohmann::ordered_json out;
  const auto& special = tokenizer.special_ids();
  if (special.bos) out["bos_token_id"] = *special.bos;
  std::vector<int64_t> eos;
  if (special.im_end) eos.push_back(*special.im_end);
  if (special.eos && (!special.im_end || *special.eos != *special.im_end))
    eos.push_back(*special.eos);
  if (!eos.empty())
    out["eos_token_id"] =
        eos.size() == 1 ? nlohmann::ordered_json(eos[0]) : nlohmann::ordered_json(eos);
  if (special.pad) out["pad_token_id"] = *special.pad;
  out["max_length"] = config.max_position_embeddings;
  out["transformers_version"] = "4.51.0";
  write_file_atomic((fs::path(dir) / "generation_config.json").string(), out.dump(2) + "\n");
}

// Wall-clock bookkeeping of the step loop (throughput windows, elapsed time across resumes).
struct StepClock {
  Clock::time_point segment_start;
  Clock::time_point window_start;
  double elapsed_before = 0;  // seconds of the runs this one resumed
  int64_t window_tokens = 0;
};

// Everything the step loop needs, built once.
struct Run {
  Run(const TrainConfig& config_in, const TrainSettings& settings_in, WatchedCommunicator& comm_in,
      const TrainerHooks& hooks_in)
      : config(config_in), settings(settings_in), comm(comm_in), watch(comm_in), hooks(hooks_in) {}
  const TrainConfig& config;
  const TrainSettings& settings;  // config's string settings as enums
  Communicator& comm;
  WatchedCommunicator& watch;  // the same communicator: arms the collective timeout
  const TrainerHooks& hooks;
  std::string tokenizer_path;
  std::unique_ptr<tok::Tokenizer> tokenizer;
  std::unique_ptr<data::PreparedDataset> dataset;
  std::unique_ptr<data::PreparedDataset> eval_dataset;  // null: dataset's validation split, if any
  std::unique_ptr<data::BatchLoader> loader;
  std::unique_ptr<data::BatchLoader> eval_loader;
  EngineSettings engine;
  std::unique_ptr<ops::Backend> backend;
  std::unique_ptr<Communicator> device_comm;  // NCCL on a multi-rank GPU run (after backend)
  std::unique_ptr<model::Qwen3Model> model;
  std::unique_ptr<AdamW> optimizer;
  // ZeRO-1: this rank's optimizer owns shard_range(total floats, rank, world).
  bool zero = false;
  ShardRange shard;
  double moment_bytes = 0;  // this rank's AdamW moments
  int threads = 1;
  int64_t micro_per_epoch = 0;  // this rank's micro-batches per epoch
  // Micro-batches per step (derived from the checkpoint's global batch on resume).
  int64_t accumulation = 1;
  // --overlap_comm: per-layer buckets reduced on a communication thread during the last backward.
  std::vector<ShardRange> buckets;
  std::unique_ptr<OverlappedReducer> reducer;
  model::Qwen3Config model_config;
  ops::LossConfig loss;
  ScheduleConfig schedule;
  TrainerState state;
  MetricsLog metrics;
  std::unique_ptr<CheckpointManager> checkpoints;
  std::vector<data::Batch> micro_batches;
  // Checkpoint staging (CPU backend: the parameters are host memory already).
  std::vector<float> host_buffer;
  double flops_per_token = 0;
  double baseline_rss = 0;  // resident bytes before the model was built (runtime, data, tokenizer)
  StepClock clock;
  std::unique_ptr<ProgressBar> progress;  // rank 0 with hooks.show_progress
  double last_lr = 0;                     // of the latest step, for the log line
  double last_grad_norm = 0;
};

// ZeRO-1: this rank's slice of the moments, one file per rank in the checkpoint being written.
void write_optimizer_shard(Run& run, const std::string& dir) {
  const AdamW& optimizer = *run.optimizer;
  std::vector<float> m(static_cast<size_t>(optimizer.size())), v(m.size());
  const size_t bytes = ops::byte_size(ops::DType::kF32, optimizer.size());
  run.backend->copy_to_host(m.data(), run.optimizer->m(), bytes);
  run.backend->copy_to_host(v.data(), run.optimizer->v(), bytes);
  save_optimizer_shard(dir, m.data(), v.data(), optimizer.begin(), optimizer.end(),
                       run.model->layout().total_floats(), optimizer.step_count(), run.comm.rank(),
                       run.comm.world_size());
}

// Rank 0 writes the model files; under ZeRO-1 every rank adds its optimizer shard to the same
// temporary directory between two barriers, before rank 0 marks the checkpoint complete.
void save_checkpoint(Run& run, TrainResult& result) {
  const int64_t step = run.state.step;
  if (!run.comm.is_root() && run.zero) {
    run.comm.barrier();  // rank 0 has created the directory
    const std::string dir = run.checkpoints->partial_dir(step);
    std::error_code ec;
    fs::create_directories(dir, ec);  // exists already unless output_dir is node-local
    write_optimizer_shard(run, dir);
    run.comm.barrier();
  }
  if (run.comm.is_root()) {
    run.state.loader_state = run.loader->state().to_json();
    const int64_t n = run.model->layout().total_floats();
    run.host_buffer.resize(static_cast<size_t>(n));
    result.last_checkpoint = run.checkpoints->save(step, [&](const std::string& dir) {
      run.model->get_params(run.host_buffer.data());
      model::save_hf_model(dir, run.model_config, run.model->layout(), run.host_buffer.data());
      maybe_kill(run.config, "save", step);  // half-written: weights present, no marker
      run.tokenizer->save(dir);
      write_generation_config(dir, run.model_config, *run.tokenizer);
      if (run.zero) {
        run.comm.barrier();
        write_optimizer_shard(run, dir);
        run.comm.barrier();
      } else {
        std::vector<float> m(static_cast<size_t>(n)), v(static_cast<size_t>(n));
        const size_t bytes = ops::byte_size(ops::DType::kF32, n);
        run.backend->copy_to_host(m.data(), run.optimizer->m(), bytes);
        run.backend->copy_to_host(v.data(), run.optimizer->v(), bytes);
        save_optimizer_moments(dir, m.data(), v.data(), n, run.optimizer->step_count());
      }
      write_file_atomic((fs::path(dir) / "trainer_state.json").string(),
                        run.state.to_json() + "\n");
      write_file_atomic((fs::path(dir) / "train_config.json").string(),
                        train_config_to_json(run.config) + "\n");
    });
  }
  run.comm.barrier();
}

// Micro-batches per step: --gradient_accumulation_steps, or on resume the number that keeps the
// checkpoint's global batch (saved rows per step / (--batch_size x this world size)).
int64_t resolve_accumulation(const TrainConfig& config, const Communicator& comm,
                             const std::optional<CheckpointInfo>& resume) {
  if (!resume) return config.gradient_accumulation_steps;
  const std::string where = (fs::path(resume->path) / "trainer_state.json").string();
  const TrainerState saved = TrainerState::from_json(read_file(where), where);
  if (saved.batch_size <= 0 || saved.accumulation <= 0) {  // an older checkpoint
    if (saved.world_size != comm.world_size())
      throw_input_error(where, "saved by a run with " + std::to_string(saved.world_size) +
                                   " ranks and no batch record; resume with the same number");
    return config.gradient_accumulation_steps;
  }
  const int64_t global = saved.batch_size * saved.accumulation * saved.world_size;
  const int64_t per_micro = config.batch_size * comm.world_size();
  if (global % per_micro != 0)
    throw_input_error("--batch_size",
                      std::to_string(config.batch_size) + " x " +
                          std::to_string(comm.world_size()) +
                          " rank(s) does not divide the checkpoint's global batch of " +
                          std::to_string(global) + " rows (" + std::to_string(saved.batch_size) +
                          " x " + std::to_string(saved.accumulation) + " micro-batches x " +
                          std::to_string(saved.world_size) + " rank(s))");
  const int64_t accumulation = global / per_micro;
  if (accumulation != config.gradient_accumulation_steps && comm.is_root())
    MOAI_INFO("resume keeps the global batch of " << global << " rows: " << accumulation
                                                  << " micro-batches per step (not --gradient_"
                                                     "accumulation_steps "
                                                  << config.gradient_accumulation_steps << ")");
  return accumulation;
}

// The saved loader position in this run's batches. Rows are dealt round-robin over ranks, so the
// rows consumed so far (batch_in_epoch x saved batch_size x saved world size) are the same global
// rows whatever the world size; they convert to this run's micro-batches exactly at a step end.
data::LoaderState loader_position_for(const Run& run, const std::string& where) {
  data::LoaderState position = data::LoaderState::from_json(run.state.loader_state);
  if (run.state.batch_size <= 0) return position;  // older checkpoint: same world size checked
  const uint64_t rows = position.batch_in_epoch * static_cast<uint64_t>(run.state.batch_size) *
                        static_cast<uint64_t>(run.state.world_size);
  const uint64_t per_micro =
      static_cast<uint64_t>(run.config.batch_size) * static_cast<uint64_t>(run.comm.world_size());
  if (rows % per_micro != 0)
    throw_input_error(where, "loader position of " + std::to_string(rows) +
                                 " rows is not a whole number of " + std::to_string(per_micro) +
                                 "-row micro-batches");
  position.batch_in_epoch = rows / per_micro;
  return position;
}

void resume_from(Run& run, const CheckpointInfo& checkpoint, TrainResult& result) {
  const std::string where = (fs::path(checkpoint.path) / "trainer_state.json").string();
  run.state = TrainerState::from_json(read_file(where), where);
  if (run.state.seed != static_cast<uint64_t>(run.config.seed))
    throw_input_error(where, "saved with --seed " + std::to_string(run.state.seed) + ", not " +
                                 std::to_string(run.config.seed));
  const int64_t n = run.model->layout().total_floats();
  model::load_hf_weights_into(*run.model, checkpoint.path);
  // This rank's slice of the moments (all of them without ZeRO), from the whole-buffer file or from
  // the shard files of the run that saved them.
  const AdamW& optimizer = *run.optimizer;
  std::vector<float> m(static_cast<size_t>(optimizer.size())), v(m.size());
  load_optimizer_range(checkpoint.path, optimizer.begin(), optimizer.end(), n, m.data(), v.data());
  const size_t bytes = ops::byte_size(ops::DType::kF32, optimizer.size());
  run.backend->copy_to_device(run.optimizer->m(), m.data(), bytes);
  run.backend->copy_to_device(run.optimizer->v(), v.data(), bytes);
  run.optimizer->set_step_count(run.state.optimizer_steps);
  run.loader->restore(loader_position_for(run, where));
  run.state.world_size = run.comm.world_size();
  run.state.batch_size = run.config.batch_size;
  run.state.accumulation = run.accumulation;
  result.resumed_from_step = run.state.step;
  if (run.comm.is_root())
    std::fprintf(stderr, "resumed from %s (step %lld)\n", checkpoint.path.c_str(),
                 static_cast<long long>(run.state.step));
}

std::vector<std::string> eval_task_list(const TrainConfig& config) {
  std::vector<std::string> out;
  std::stringstream in(config.eval_tasks);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// --eval_tasks: benchmark tasks scored with the training model (root rank; the others wait at the
// next collective), logged as "<task>/<metric>" on the eval line.
void run_eval_tasks(Run& run, MetricsRecord& record) {
  if (run.config.eval_tasks.empty() || !run.comm.is_root()) return;
  eval::Scorer scorer(*run.model, {run.model->options().max_batch, 0});
  eval::EvalOptions options;
  options.limit = run.config.eval_limit > 0 ? run.config.eval_limit : -1;
  const eval::EvalResults results = eval::evaluate(
      scorer, *run.tokenizer, eval_task_list(run.config), {run.config.eval_dataset_path}, options);
  auto add = [&](const std::string& name, const std::map<std::string, eval::MetricValue>& metrics) {
    for (const auto& [metric, value] : metrics)
      record.task_metrics.push_back({name + "/" + metric, value.value});
  };
  for (const eval::TaskResult& t : results.tasks) add(t.spec.name, t.metrics);
  for (const eval::GroupResult& g : results.groups) add(g.spec.name, g.metrics);
}

// Mean loss and perplexity over the whole held-out split (every rank its share, summed).
bool evaluate(Run& run, TrainResult& result) {
  if (!run.eval_loader) return false;
  maybe_kill(run.config, "eval", run.state.step);
  run.eval_loader->restore({0, 0, static_cast<uint64_t>(run.config.seed)});
  uint64_t batches = run.eval_loader->batches_per_epoch();
  if (run.config.eval_batches > 0) batches = std::min<uint64_t>(batches, run.config.eval_batches);
  double totals[2] = {0, 0};  // summed token losses, target tokens
  data::Batch batch;
  for (uint64_t index = 0; index < batches; ++index) {
    run.eval_loader->next(batch);
    if (batch.num_target_tokens == 0) continue;
    totals[0] += eval::summed_nll(*run.model, model_batch(batch));
    totals[1] += static_cast<double>(batch.num_target_tokens);
  }
  run.comm.allreduce_sum(totals, 2);
  if (totals[1] <= 0) return false;
  const double mean = totals[0] / totals[1];
  result.final_eval_loss = mean;
  run.state.last_eval_step = run.state.step;
  run.state.last_eval_loss = mean;
  MetricsRecord record;
  record.type = "eval";
  record.step = run.state.step;
  record.eval_loss = mean;
  record.eval_ppl = std::exp(mean);
  record.eval_tokens = static_cast<int64_t>(totals[1]);
  run_eval_tasks(run, record);
  if (run.comm.is_root()) {
    run.metrics.append(record);
    std::fprintf(stderr, "\reval @ step %lld: loss %.4f, perplexity %.2f (%lld tokens)\n",
                 static_cast<long long>(record.step), mean, record.eval_ppl,
                 static_cast<long long>(record.eval_tokens));
  }
  return true;
}

void setup_overlap(Run& run);

// Output directory, unfinished saves removed, the checkpoint to resume from and the accumulation
// that keeps its global batch.
std::optional<CheckpointInfo> open_output(Run& run) {
  const TrainConfig& config = run.config;
  check_ranks_agree(config, run.comm);
  run.checkpoints = std::make_unique<CheckpointManager>(config.output_dir, config.save_total_limit);
  if (run.comm.is_root()) {
    prepare_output_dir(config.output_dir);
    const int removed = run.checkpoints->remove_partial();
    if (removed)
      MOAI_INFO("removed " << removed << " unfinished checkpoint(s) of an interrupted save");
  }
  run.comm.barrier();
  std::optional<CheckpointInfo> resume =
      run.checkpoints->resolve_resume(config.resume_from_checkpoint);
  if (!resume && config.resume_from_checkpoint == "auto" && run.comm.is_root())
    MOAI_INFO("no complete checkpoint in " << config.output_dir << ": starting from scratch");
  run.accumulation = resolve_accumulation(config, run.comm, resume);
  return resume;
}

// The tokenizer, the training data and the held-out data (prepared now when given raw).
void open_data(Run& run) {
  const TrainConfig& config = run.config;
  run.tokenizer_path = resolve_tokenizer_path(config);
  run.tokenizer = std::make_unique<tok::Tokenizer>(tok::Tokenizer::load(run.tokenizer_path));
  // An unknown --eval_tasks name or a missing dataset fails before training, not at the first
  // evaluation.
  for (const std::string& name : eval::expand_tasks(eval_task_list(config))) {
    const eval::TaskSpec task = eval::find_task(name);
    eval::split_files({config.eval_dataset_path}, task, task.eval_split);
  }
  std::vector<std::string> sources = config.dataset;
  sources.insert(sources.end(), config.train_file.begin(), config.train_file.end());
  const double hold_out =
      config.eval_dataset.empty() && run.settings.evaluates() ? config.eval_fraction : 0.0;
  run.dataset = std::make_unique<data::PreparedDataset>(open_training_data(
      config, sources, run.tokenizer_path, hold_out, run.comm, "prepared", config.split));
  if (!config.eval_dataset.empty())
    run.eval_dataset = std::make_unique<data::PreparedDataset>(
        open_training_data(config, {config.eval_dataset}, run.tokenizer_path, 0.0, run.comm,
                           "prepared_eval", config.eval_split));
  const bool want_sft = run.settings.mode == data::DatasetMode::kSft;
  if (run.dataset->mode() != run.settings.mode)
    throw_input_error("--dataset", std::string("prepared for ") +
                                       (want_sft ? "pretraining" : "SFT") + " but --mode is " +
                                       config.mode);
}

// The model's shapes, checked against the data and --max_seq_length.
void resolve_model_shapes(Run& run, const std::optional<CheckpointInfo>& resume) {
  const TrainConfig& config = run.config;
  run.model_config = resolve_model_config(config, resume ? resume->path : "");
  validate_qwen3_config(run.model_config, "model config");
  if (run.dataset->manifest().vocab_size > static_cast<uint64_t>(run.model_config.vocab_size))
    throw_input_error("--model_config", "vocab_size " +
                                            std::to_string(run.model_config.vocab_size) +
                                            " is smaller than the tokenizer's " +
                                            std::to_string(run.dataset->manifest().vocab_size));
  if (config.max_seq_length > run.model_config.max_position_embeddings)
    throw_input_error("--max_seq_length",
                      std::to_string(config.max_seq_length) +
                          " exceeds the model's "
                          "max_position_embeddings " +
                          std::to_string(run.model_config.max_position_embeddings));
}

// Refuse before touching the memory: parameters (fp32 masters and any bf16 working copy),
// gradients, two fp32 moments (of this rank's shard under ZeRO-1), the activation arena.
void check_memory(const Run& run) {
  const double need = static_cast<double>(run.model->param_bytes() + run.model->grad_bytes() +
                                          run.model->activation_bytes()) +
                      run.moment_bytes;
  const double available = available_memory_bytes();
  if (available > 0 && need * run.comm.local_size() > available)
    throw_input_error("model/batch", "training needs about " + format_bytes(need) + " per rank (x" +
                                         std::to_string(run.comm.local_size()) +
                                         " ranks on this node) but only " +
                                         format_bytes(available) +
                                         " is available; lower --batch_size or "
                                         "--max_seq_length, or use --gradient_checkpointing");
}

// A multi-rank run on a GPU sends its collectives through NCCL (hooks.device_communicator),
// bootstrapped over the MPI communicator; a CPU run keeps MPI for everything.
void attach_device_communicator(Run& run) {
  if (run.comm.world_size() == 1 || run.backend->device() == ops::DeviceKind::kCpu) return;
  if (!run.hooks.device_communicator)
    throw_input_error("--device", "a multi-rank run on " + run.backend->name() +
                                      " needs the NCCL communicator, which this build lacks");
  run.device_comm = run.hooks.device_communicator(run.watch.bootstrap(), *run.backend);
  run.watch.use_collectives(*run.device_comm);
}

// Backend, model, this rank's optimizer shard, and the starting weights.
void build_model(Run& run) {
  const TrainConfig& config = run.config;
  run.threads = static_cast<int>(config.threads);
  if (run.threads == 0)
    run.threads =
        std::max<int>(1, static_cast<int>(default_thread_count()) / run.comm.local_size());
  run.engine = run.settings.engine;
  // One GPU per rank of a node: "cuda" (or auto) without an index takes the local rank's GPU.
  if (run.comm.world_size() > 1 && (config.device == "cuda" || config.device == "auto"))
    run.engine.device.index = run.comm.local_rank();
  run.backend = ops::make_backend(run.engine.device, run.threads);
  attach_device_communicator(run);
  run.model = std::make_unique<model::Qwen3Model>(
      run.model_config, *run.backend,
      model::ModelOptions{config.batch_size, config.max_seq_length, true,
                          config.gradient_checkpointing, run.engine.precision});
  run.zero = run.settings.shards_optimizer(run.comm.world_size());
  const int64_t num_floats = run.model->layout().total_floats();
  run.shard = run.zero ? shard_range(num_floats, run.comm.rank(), run.comm.world_size())
                       : ShardRange{0, num_floats};
  run.moment_bytes = 2.0 * static_cast<double>(run.shard.size()) * sizeof(float);
  check_memory(run);
  AdamWConfig adamw;
  adamw.beta1 = static_cast<float>(config.adam_beta1);
  adamw.beta2 = static_cast<float>(config.adam_beta2);
  adamw.eps = static_cast<float>(config.adam_epsilon);
  adamw.weight_decay = static_cast<float>(config.weight_decay);
  run.optimizer = std::make_unique<AdamW>(*run.backend, run.model->layout(), adamw, run.shard.begin,
                                          run.shard.end);
  if (!config.pretrained_model.empty())
    model::load_hf_weights_into(*run.model, config.pretrained_model);
  else
    run.model->init_weights(static_cast<uint64_t>(config.seed));
  run.loss = ops::loss_config_for(run.settings.loss);
  run.flops_per_token = model::model_stats(run.model_config, config.max_seq_length).flops_per_token;
}

// This rank's training loader and the held-out loader (none without held-out data).
void build_loaders(Run& run) {
  const TrainConfig& config = run.config;
  data::LoaderOptions loader;
  loader.seq_len = config.max_seq_length;
  loader.batch_size = config.batch_size;
  loader.seed = static_cast<uint64_t>(config.seed);
  loader.rank = run.comm.rank();
  loader.world_size = run.comm.world_size();
  loader.packing = config.packing;
  const auto& special = run.tokenizer->special_ids();
  loader.pad_token_id = static_cast<int32_t>(special.pad   ? *special.pad
                                             : special.eos ? *special.eos
                                                           : 0);
  run.loader = data::make_loader(*run.dataset, loader);
  run.micro_per_epoch = static_cast<int64_t>(run.loader->batches_per_epoch());
  if (!run.settings.evaluates()) return;
  const data::PreparedDataset& held_out = run.eval_dataset ? *run.eval_dataset : *run.dataset;
  const std::string split = run.eval_dataset ? "train" : "validation";
  if (held_out.num_documents(split) > 0) {
    data::LoaderOptions eval = loader;
    eval.split = split;
    eval.shuffle = false;
    run.eval_loader = data::make_loader(held_out, eval);
  } else if (run.comm.is_root()) {
    MOAI_WARN(
        "no held-out data (the validation split is empty): evaluation is skipped; give "
        "--eval_dataset or a larger --eval_fraction");
  }
}

// The number of optimizer steps and the learning-rate schedule over them.
void build_schedule(Run& run, TrainResult& result) {
  const TrainConfig& config = run.config;
  int64_t total = config.max_steps;
  if (total <= 0)
    total = static_cast<int64_t>(
        std::ceil(config.num_epochs * static_cast<double>(run.micro_per_epoch) /
                  static_cast<double>(run.accumulation)));
  run.schedule.kind = run.settings.lr_scheduler;
  run.schedule.peak_lr = config.learning_rate;
  run.schedule.total_steps = total;
  run.schedule.warmup_steps = resolve_warmup(config.warmup_steps, config.warmup_ratio, total);
  run.schedule.min_lr_ratio = config.min_lr_ratio >= 0
                                  ? config.min_lr_ratio
                                  : (run.schedule.kind == ScheduleKind::kWsd ? 0.1 : 0.0);
  run.schedule.decay_fraction = config.decay_ratio;
  run.schedule.decay_shape = run.settings.decay_shape;
  validate_schedule(run.schedule);
  result.total_steps = total;
}

void print_banner(const Run& run, int64_t total) {
  const TrainConfig& config = run.config;
  const int64_t params = run.model->layout().num_parameters();
  std::fprintf(
      stderr,
      "moai train (%s): %lld parameters, %s, precision %s; %s; %lld steps x %lld micro-batches x "
      "%lld rows x "
      "%lld tokens x %d rank(s); %lld micro-batches per epoch per rank; lr %g %s, warmup %lld\n",
      config.mode.c_str(), static_cast<long long>(params), run.backend->name().c_str(),
      ops::precision_name(run.engine.precision), run.comm.name().c_str(),
      static_cast<long long>(total), static_cast<long long>(run.accumulation),
      static_cast<long long>(config.batch_size), static_cast<long long>(config.max_seq_length),
      run.comm.world_size(), static_cast<long long>(run.micro_per_epoch), config.learning_rate,
      schedule_kind_name(run.schedule.kind).c_str(),
      static_cast<long long>(run.schedule.warmup_steps));
  std::fprintf(stderr,
               "zero stage %d: AdamW state %s per rank (%lld of %lld floats); threads per rank: "
               "%d (%d ranks on this node)\n",
               run.zero ? 1 : 0, format_bytes(run.moment_bytes).c_str(),
               static_cast<long long>(run.shard.size()),
               static_cast<long long>(run.model->layout().total_floats()), run.threads,
               run.comm.local_size());
}

// Named steps: output directory, data, model, loaders, schedule, then the saved state.
void setup(Run& run, TrainResult& result) {
  const std::optional<CheckpointInfo> resume = open_output(run);
  open_data(run);
  run.baseline_rss = process_status_bytes("VmRSS:");
  resolve_model_shapes(run, resume);
  build_model(run);
  build_loaders(run);
  build_schedule(run, result);
  run.state.seed = static_cast<uint64_t>(run.config.seed);
  run.state.world_size = run.comm.world_size();
  run.state.batch_size = run.config.batch_size;
  run.state.accumulation = run.accumulation;
  if (resume) resume_from(run, *resume, result);
  if (run.comm.is_root()) {
    run.metrics.open((fs::path(run.config.output_dir) / "metrics.jsonl").string(),
                     resume ? run.state.step : 0);
    print_banner(run, result.total_steps);
  }
  run.micro_batches.resize(static_cast<size_t>(run.accumulation));
  setup_overlap(run);
}

// Sums the gradients and the loss over ranks and returns the global gradient norm. ZeRO-1
// reduce-scatters: each rank gets the sum of its shard only, and the norm is the square root of
// the all-reduced sum of every shard's squares. `overlapped`: the layers' buckets were submitted
// during the backward; only the rest (embedding, final norm, lm_head) is reduced here.
double reduce_gradients(Run& run, double& loss, bool overlapped) {
  const int64_t num_floats = run.model->layout().total_floats();
  if (overlapped) {
    run.reducer->wait();
    run.reducer->reduce_now({0, run.buckets.front().begin});
    run.reducer->reduce_now({run.buckets.back().end, num_floats});
  } else if (run.zero) {
    run.comm.reduce_scatter_sum(run.model->grads(), num_floats);
  } else {
    run.comm.allreduce_sum_bucketed(run.model->grads(), num_floats);
  }
  run.comm.allreduce_sum(&loss, 1);
  if (!run.zero) return global_grad_norm(*run.backend, run.model->grads(), num_floats);
  const AdamW& optimizer = *run.optimizer;
  double squares = 0;
  if (optimizer.size() > 0)
    squares = run.backend->sum_squares(
        ops::view(run.model->grads() + optimizer.begin(), {optimizer.size()}));
  run.comm.allreduce_sum(&squares, 1);
  return std::sqrt(squares);
}

// --overlap_comm needs more than one rank, host gradients (the CPU backend), a communicator that
// lets a second thread run collectives, and a layout whose layers are contiguous blocks.
void setup_overlap(Run& run) {
  if (!run.config.overlap_comm || run.comm.world_size() == 1) return;
  std::string why;
  if (run.backend->device() != ops::DeviceKind::kCpu)
    why = "it needs the CPU backend (a device run would use a NCCL stream)";
  else if (!run.comm.allows_comm_thread())
    why = "the MPI library does not provide MPI_THREAD_SERIALIZED";
  else if ((run.buckets = layer_buckets(run.model->layout())).empty())
    why = "the parameter layout has no contiguous per-layer blocks";
  if (!why.empty()) {
    if (run.comm.is_root()) MOAI_WARN("--overlap_comm is off: " << why);
    return;
  }
  run.reducer = std::make_unique<OverlappedReducer>(run.comm, run.model->grads(),
                                                    run.model->layout().total_floats(), run.zero);
  if (run.comm.is_root())
    std::fprintf(stderr,
                 "gradient communication overlapped with the backward (%zu layer buckets)\n",
                 run.buckets.size());
}

// Steps 1-2: this step's micro-batches, then the step-wide token count and the stop vote. Returns
// false when some rank was asked to stop (the loader is rewound: the checkpoint starts this step
// again).
bool fetch_step(Run& run, double& step_tokens) {
  const data::LoaderState before = run.loader->state();
  double local[2] = {0, interrupt_requested() ? 1.0 : 0.0};
  for (data::Batch& micro : run.micro_batches) {
    run.loader->next(micro);
    local[0] += static_cast<double>(micro.num_target_tokens);
  }
  run.comm.allreduce_sum(local, 2);
  if (local[1] > 0) {
    run.loader->restore(before);
    return false;
  }
  step_tokens = local[0];
  return true;
}

struct StepOutcome {
  double loss = 0;
  double grad_norm = 0;
  double lr = 0;
};

// Steps 3-4: forward/backward every micro-batch with the step-wide normaliser, then the sum over
// ranks (each rank's share was already divided by the global count).
StepOutcome forward_backward(Run& run, double step_tokens) {
  run.model->zero_grads();
  StepOutcome out;
  const bool overlapped = run.reducer && step_tokens > 0;
  if (step_tokens > 0) {
    for (const data::Batch& micro : run.micro_batches) {
      out.loss += run.model->forward(model_batch(micro), run.loss, step_tokens, true);
      if (overlapped && &micro == &run.micro_batches.back())
        run.model->backward(
            [&run](int64_t layer) { run.reducer->submit(run.buckets[size_t(layer)]); });
      else
        run.model->backward();
    }
  }
  out.grad_norm = reduce_gradients(run, out.loss, overlapped);
  if (debug_nan_at(run.state.step + 1)) out.loss = std::numeric_limits<double>::quiet_NaN();
  out.lr = learning_rate_at(run.schedule, run.state.step);
  return out;
}

// Step 5, non-finite or empty step: no update; after max_bad_steps in a row, save the last good
// weights and stop.
void skip_step(Run& run, TrainResult& result, const StepOutcome& out, double step_tokens) {
  TrainerState& state = run.state;
  ++state.bad_steps_total;
  ++state.bad_steps_in_row;
  if (run.comm.is_root()) {
    MetricsRecord skip;
    skip.type = "skip";
    skip.step = state.step + 1;
    skip.reason = step_tokens <= 0 ? "no target tokens" : "non-finite loss or gradient";
    run.metrics.append(skip);
    MOAI_WARN("step " << state.step + 1 << ": " << skip.reason << " (loss " << out.loss
                      << ", grad norm " << out.grad_norm << "): update skipped");
  }
  if (state.bad_steps_in_row < run.config.max_bad_steps) return;
  run.watch.set_armed(false);    // rank 0 writes while the others wait: not a stuck collective
  ++state.step;                  // this step was attempted: a resume continues after it
  save_checkpoint(run, result);  // the weights of the last good step (skips change nothing)
  throw Error("training stopped: " + std::to_string(state.bad_steps_in_row) +
              " steps in a row had non-finite loss or gradients (last good checkpoint: " +
              (result.last_checkpoint.empty() ? "none" : result.last_checkpoint) +
              "); lower --learning_rate or check the data");
}

// Step 5: clip and AdamW at the schedule's rate; under ZeRO-1 every rank's new shard is gathered.
void update_weights(Run& run, const StepOutcome& out) {
  TrainerState& state = run.state;
  state.bad_steps_in_row = 0;
  run.optimizer->step(run.model->params(), run.model->grads(), static_cast<float>(out.lr),
                      clip_scale(out.grad_norm, run.config.max_grad_norm));
  if (run.zero) run.comm.all_gather(run.model->params(), run.model->layout().total_floats());
  run.model->weights_updated();
  state.optimizer_steps = run.optimizer->step_count();
  state.log_loss_sum += out.loss;
  state.log_loss_count += 1;
}

// One optimizer step (steps 3-5). The step counter and token counts move on either way.
void train_step(Run& run, TrainResult& result, double step_tokens) {
  const StepOutcome out = forward_backward(run, step_tokens);
  if (step_tokens <= 0 || !std::isfinite(out.loss) || !std::isfinite(out.grad_norm))
    skip_step(run, result, out, step_tokens);
  else
    update_weights(run, out);
  TrainerState& state = run.state;
  ++state.step;
  state.tokens_seen += static_cast<int64_t>(step_tokens);
  run.clock.window_tokens += static_cast<int64_t>(step_tokens);
  result.last_loss = out.loss;
  run.last_lr = out.lr;
  run.last_grad_norm = out.grad_norm;
}

double elapsed_seconds(const Run& run) {
  return run.clock.elapsed_before + seconds_since(run.clock.segment_start);
}

void show_progress(Run& run, const MetricsRecord& record) {
  std::ostringstream suffix;
  suffix.precision(4);
  suffix << "loss " << record.loss << " lr " << record.lr << " gnorm " << record.grad_norm
         << " tok/s " << static_cast<int64_t>(record.tokens_per_s);
  if (record.mfu >= 0) suffix << " mfu " << 100 * record.mfu << "%";
  run.progress->set_suffix(suffix.str());
}

// Rank 0, every logging_steps and at the last step: the mean loss of the window to metrics.jsonl
// and the progress line.
void log_step(Run& run, bool last) {
  TrainerState& state = run.state;
  const TrainConfig& config = run.config;
  if (!run.comm.is_root() || state.log_loss_count <= 0 ||
      !(state.step % std::max<int64_t>(1, config.logging_steps) == 0 || last))
    return;
  StepClock& clock = run.clock;
  const double window_seconds = std::max(1e-9, seconds_since(clock.window_start));
  MetricsRecord record;
  record.type = "train";
  record.step = state.step;
  record.loss = state.log_loss_sum / static_cast<double>(state.log_loss_count);
  record.lr = run.last_lr;
  record.grad_norm = run.last_grad_norm;
  record.tokens = state.tokens_seen;
  record.tokens_per_s = static_cast<double>(clock.window_tokens) / window_seconds;
  record.elapsed_s = elapsed_seconds(run);
  record.epoch =
      static_cast<double>(state.step * run.accumulation) / static_cast<double>(run.micro_per_epoch);
  if (config.peak_tflops > 0)
    record.mfu = record.tokens_per_s / run.comm.world_size() * run.flops_per_token /
                 (config.peak_tflops * 1e12);
  run.metrics.append(record);
  state.log_loss_sum = 0;
  state.log_loss_count = 0;
  clock.window_tokens = 0;
  clock.window_start = Clock::now();
  if (run.progress) show_progress(run, record);
}

// After a step: log, then evaluate and checkpoint on their schedules (the last step's are done
// after the loop).
void after_step(Run& run, TrainResult& result, int64_t total) {
  const TrainConfig& config = run.config;
  const int64_t step = run.state.step;
  const bool last = step == total;
  log_step(run, last);
  if (run.progress) run.progress->set(static_cast<uint64_t>(step));
  maybe_kill(config, "step", step);
  if (run.settings.evaluates() && config.eval_steps > 0 && step % config.eval_steps == 0 && !last)
    evaluate(run, result);
  if (config.save_steps > 0 && step % config.save_steps == 0 && !last) {
    run.state.elapsed_seconds = elapsed_seconds(run);
    save_checkpoint(run, result);
  }
}

// final_model/: the HF model at --save_dtype, the tokenizer and generation_config.json (rank 0).
void write_model_dir(Run& run, TrainResult& result) {
  result.final_model_dir = (fs::path(run.config.output_dir) / "final_model").string();
  if (!run.comm.is_root()) return;
  std::vector<float> host(static_cast<size_t>(run.model->layout().total_floats()));
  run.model->get_params(host.data());
  model::SaveOptions save;
  save.dtype = ops::dtype_name(run.engine.save_dtype);  // --save_dtype (checkpoints stay fp32)
  model::save_hf_model(result.final_model_dir, run.model_config, run.model->layout(), host.data(),
                       save);
  run.tokenizer->save(result.final_model_dir);
  write_generation_config(result.final_model_dir, run.model_config, *run.tokenizer);
  std::fprintf(stderr, "done: %lld steps, %lld target tokens, %.1f s; model saved to %s\n",
               static_cast<long long>(run.state.step),
               static_cast<long long>(run.state.tokens_seen), run.state.elapsed_seconds,
               result.final_model_dir.c_str());
}

// Ctrl-C/SIGTERM: a checkpoint at the step boundary, and how to continue.
void finish_interrupted(Run& run, TrainResult& result) {
  save_checkpoint(run, result);
  result.interrupted = true;
  if (run.comm.is_root())
    std::fprintf(stderr,
                 "interrupted by signal %d after step %lld: saved %s; resume with "
                 "--resume_from_checkpoint auto\n",
                 interrupt_signal(), static_cast<long long>(run.state.step),
                 result.last_checkpoint.c_str());
  run.metrics.close();
}

// The end of a complete run: final evaluation (unless a resume from the final checkpoint logged it
// already), a checkpoint that lets a later run continue, and final_model/.
void finish_run(Run& run, TrainResult& result) {
  if (run.settings.evaluates()) {
    if (run.state.last_eval_step == run.state.step)
      result.final_eval_loss = run.state.last_eval_loss;
    else
      evaluate(run, result);
  }
  save_checkpoint(run, result);
  write_model_dir(run, result);
  run.comm.barrier();
  run.metrics.close();
}

// Every rank: its peak resident memory and the part that was there before the model (the runtime
// baseline `moai model info --baseline_mib` takes).
void report_memory(const Run& run) {
  constexpr double kMib = 1024.0 * 1024.0;
  std::fprintf(stderr, "rank %d: peak RSS %.1f MiB (%.1f MiB before the model was built)\n",
               run.comm.rank(), process_status_bytes("VmHWM:") / kMib, run.baseline_rss / kMib);
}

void start_clock(Run& run, int64_t total) {
  if (run.comm.is_root() && run.hooks.show_progress) {
    run.progress = std::make_unique<ProgressBar>("train", static_cast<uint64_t>(total), "steps");
    run.progress->set(static_cast<uint64_t>(run.state.step));
  }
  run.clock.segment_start = Clock::now();
  run.clock.elapsed_before = run.state.elapsed_seconds;
  run.clock.window_start = Clock::now();
}

}  // namespace

TrainResult run_training(const TrainConfig& config, Communicator& comm, const TrainerHooks& hooks) {
  const TrainSettings settings = validate_train_config(config);
  if (config.sequential)
    throw_input_error("--sequential", "internal: staged runs go through run_sequential_training");
  TrainResult result;
  WatchedCommunicator watched(comm, config.collective_timeout);
  Run run{config, settings, watched, hooks};
  setup(run, result);
  const int64_t total = result.total_steps;
  start_clock(run, total);
  bool stopped = false;
  while (run.state.step < total) {
    double step_tokens = 0;
    maybe_stall_for_test(comm, run.state.step + 1);
    run.watch.set_step(run.state.step + 1);
    run.watch.set_armed(true);  // the step's collectives are timed (--collective_timeout)
    if (!fetch_step(run, step_tokens)) {
      stopped = true;
      break;
    }
    train_step(run, result, step_tokens);
    run.watch.set_armed(false);
    after_step(run, result, total);
  }
  run.watch.set_armed(false);
  if (run.progress) run.progress->finish();
  result.steps_done = run.state.step;
  result.bad_steps = run.state.bad_steps_total;
  run.state.elapsed_seconds = elapsed_seconds(run);
  if (stopped)
    finish_interrupted(run, result);
  else
    finish_run(run, result);
  report_memory(run);
  return result;
}

}  // namespace moai::train
