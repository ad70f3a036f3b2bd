#pragma once
// Runs tasks the way lm-evaluation-harness v0.4.9.2's simple_evaluate does for a causal LM:
// contexts (description + few-shot examples + doc_to_text, seeded sampler per task), requests,
// log-likelihoods, per-document metrics, aggregation (mean with the sample standard error, macro
// F1, weighted perplexities), group aggregation over leaf tasks (size-weighted mean, pooled
// standard error), and the files lm-eval writes (results_<time>.json, samples_<task>_<time>.jsonl).
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moai/eval/documents.h"
#include "moai/eval/loglikelihood.h"
#include "moai/eval/py_random.h"
#include "moai/eval/tasks.h"

namespace moai::eval {

struct EvalOptions {
  int num_fewshot = 0;
  int64_t limit = -1;            // documents per task; -1 = all
  uint64_t fewshot_seed = 1234;  // lm-eval's fewshot_random_seed
  bool apply_chat_template = false;
  bool log_samples = false;
  int64_t docs_per_chunk = 256;  // documents whose requests are scored together (bounds memory)
  // Data parallel (mpirun): every rank builds every context (the few-shot sampler stays the
  // single-process one), scores the documents with doc_id % world_size == rank, and
  // allreduce_sum (element-wise over ranks, in place) gives every rank all results.
  int rank = 0;
  int world_size = 1;
  std::function<void(std::vector<double>&)> allreduce_sum;
};

struct MetricValue {
  double value = 0.0;
  std::optional<double> stderr_value;  // empty = "N/A"
};

struct TaskResult {
  TaskSpec spec;
  int num_fewshot = 0;
  int64_t samples = 0;
  std::map<std::string, MetricValue> metrics;
  std::vector<nlohmann::ordered_json> sample_records;  // with log_samples
};

struct GroupResult {
  GroupSpec spec;
  int64_t samples = 0;
  std::map<std::string, MetricValue> metrics;
  std::vector<std::string> leaves;
};

struct EvalResults {
  std::vector<TaskResult> tasks;
  std::vector<GroupResult> groups;
};

// The context string of one document (few-shot examples drawn from `fewshot` with `rnd`).
class ContextBuilder {
 public:
  ContextBuilder(const TaskSpec& task, const std::vector<Doc>* fewshot, int num_fewshot,
                 uint64_t seed, bool apply_chat_template);
  std::string build(const Doc& doc);
  const std::string& target_delimiter() const { return delimiter_; }

 private:
  const TaskSpec& task_;
  const std::vector<Doc>* fewshot_;
  int num_fewshot_;
  bool chat_;
  std::string delimiter_ = " ";
  PyRandom rnd_;
};

// Evaluates each task of `task_names` (already expanded) and the groups of `requested`.
EvalResults evaluate(Scorer& scorer, const tok::Tokenizer& tokenizer,
                     const std::vector<std::string>& requested, const DatasetSource& source,
                     const EvalOptions& options);

// Group aggregation over leaf task results (exposed for tests).
GroupResult aggregate_group(const GroupSpec& group, const std::vector<std::string>& leaves,
                            const std::vector<TaskResult>& tasks);

// lm-eval's table: one row per task/group and metric.
std::string format_table(const EvalResults& results);
// results_<time>.json content (lm-eval 0.4 layout).
nlohmann::json results_json(const EvalResults& results, const nlohmann::json& config);
// Writes results_<time>.json and, with samples, samples_<task>_<time>.jsonl into `dir`; returns
// the results file's path.
std::string write_outputs(const std::string& dir, const EvalResults& results,
                          const nlohmann::json& config, bool log_samples);

}  // namespace moai::eval
