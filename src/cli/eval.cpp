// moai eval: lm-evaluation-harness scoring of a saved model (moai/eval/evaluator.h). Flags follow
// lm-eval's names (--tasks, --num_fewshot, --limit, --batch_size, --output_path, --log_samples,
// --seed, --apply_chat_template); the model ones are moai's.
#include <cstdio>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/engine_flags.h"
#include "moai/core/error.h"
#include "moai/eval/eval_model.h"
#include "moai/eval/evaluator.h"
#include "moai/train/communicator.h"

namespace moai::cli {
namespace {

struct EvalFlags {
  std::string model_path;
  std::string tokenizer_path;
  std::string tasks;
  int num_fewshot = 0;
  int64_t limit = -1;
  int64_t batch_size = 8;
  int64_t max_length = 0;
  EngineFlags engine;
  std::string output_path;
  bool log_samples = false;
  uint64_t seed = 1234;
  bool apply_chat_template = false;
  std::string dataset_path;
  int threads = 0;
};

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

void run(const EvalFlags& f) {
  if (f.num_fewshot < 0) throw_input_error("--num_fewshot", "must be >= 0");
  const std::vector<std::string> tasks = split_commas(f.tasks);
  if (tasks.empty()) throw_input_error("--tasks", "give at least one task");
  eval::expand_tasks(tasks);  // unknown names fail before the model loads
  if (f.log_samples && f.output_path.empty())
    throw_input_error("--log_samples", "needs --output_path");
  eval::EvalModelOptions mo;
  mo.tokenizer_path = f.tokenizer_path;
  mo.threads = f.threads;
  mo.device = ops::parse_device(f.engine.device, "--device");
  mo.precision = requested_precision(f.engine);
  mo.scorer.batch_size = f.batch_size;
  mo.scorer.max_length = f.max_length;
  eval::EvalModel model = eval::load_eval_model(f.model_path, mo);
  eval::EvalOptions options;
  options.num_fewshot = f.num_fewshot;
  options.limit = f.limit;
  options.fewshot_seed = f.seed;
  options.apply_chat_template = f.apply_chat_template;
  options.log_samples = f.log_samples;
  // Under mpirun the documents are split across ranks; rank 0 prints and writes.
  std::unique_ptr<train::Communicator> comm = train::launched_by_mpi()
                                                  ? train::make_mpi_communicator()
                                                  : train::make_single_process_communicator();
  options.rank = comm->rank();
  options.world_size = comm->world_size();
  options.allreduce_sum = [&comm](std::vector<double>& values) {
    comm->allreduce_sum(values.data(), int64_t(values.size()));
  };
  const eval::EvalResults results =
      eval::evaluate(*model.scorer, *model.tokenizer, tasks, {f.dataset_path}, options);
  if (!comm->is_root()) return;
  if (comm->world_size() > 1) std::fprintf(stderr, "%s\n", comm->name().c_str());
  std::fputs(eval::format_table(results).c_str(), stdout);
  if (!f.output_path.empty()) {
    const nlohmann::json config = {{"model", "moai"},
                                   {"model_args", "pretrained=" + f.model_path},
                                   {"batch_size", f.batch_size},
                                   {"device", f.engine.device},
                                   {"limit", f.limit >= 0 ? nlohmann::json(f.limit) : nullptr},
                                   {"fewshot_seed", f.seed}};
    const std::string path = eval::write_outputs(f.output_path, results, config, f.log_samples);
    std::fprintf(stderr, "results written to %s\n", path.c_str());
  }
}

void register_eval(CLI::App& root) {
  auto f = std::make_shared<EvalFlags>();
  CLI::App* cmd = root.add_subcommand(
      "eval", "Score a model on benchmark tasks exactly as lm-evaluation-harness 0.4 does");
  cmd->add_option(flag("model_path"), f->model_path, "HF Qwen3 model directory")->required();
  cmd->add_option(flag("tokenizer_path"), f->tokenizer_path,
                  "tokenizer.json or its directory (default: the model directory)");
  cmd->add_option(flag("tasks"), f->tasks,
                  "comma-separated tasks or groups: wikitext, hellaswag, arc_easy, arc_challenge, "
                  "piqa, mmlu (or mmlu_<subject>), kobest (or kobest_*), kmmlu (or kmmlu_*)")
      ->required();
  cmd->add_option(flag("num_fewshot"), f->num_fewshot, "few-shot examples per item (default 0)");
  cmd->add_option(flag("limit"), f->limit, "evaluate the first N documents of each task");
  cmd->add_option(flag("batch_size"), f->batch_size, "requests per forward (default 8)");
  cmd->add_option(flag("max_length"), f->max_length,
                  "context window in tokens (default: max_position_embeddings, as HFLM)");
  add_engine_flags(cmd, f->engine, "the checkpoint's torch_dtype on CUDA, fp32 on the CPU");
  cmd->add_option(flag("output_path"), f->output_path,
                  "directory for results_<time>.json (and samples with --log_samples)");
  cmd->add_flag(flag("log_samples"), f->log_samples, "write samples_<task>_<time>.jsonl");
  cmd->add_option(flag("seed"), f->seed, "few-shot sampler seed (default 1234, as lm-eval)");
  cmd->add_flag(flag("apply_chat_template"), f->apply_chat_template,
                "wrap each context as a ChatML user turn (lm-eval --apply_chat_template)");
  cmd->add_option(flag("dataset_path"), f->dataset_path,
                  "local dataset file or directory in the Hub's layout (offline)");
  cmd->add_option(flag("threads"), f->threads, "CPU threads (0 = MOAI_THREADS or all cores)");
  cmd->callback([f] { run(*f); });
}

}  // namespace

MOAI_REGISTER_COMMAND("eval", register_eval);

}  // namespace moai::cli
