#pragma once
// Task definitions as lm-evaluation-harness v0.4.9.2 writes them in lm_eval/tasks/*/ (dataset,
// splits, doc_to_text / doc_to_choice / doc_to_target, description, few-shot sampler, metrics,
// version), and the groups that aggregate them (mmlu, kmmlu and their categories, kobest).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moai::eval {

enum class OutputType { kMultipleChoice, kLoglikelihoodRolling };
enum class SamplerKind { kRandom, kFirstN };

// One evaluation document after the task's processing.
struct Doc {
  nlohmann::ordered_json raw;        // the record as read, fields in order (lm-eval's `doc`)
  std::string text;                  // doc_to_text
  std::vector<std::string> choices;  // doc_to_choice
  int gold = 0;                      // index into choices
  std::string target;                // loglikelihood_rolling: the string scored
  int64_t words = 0;                 // wikitext: len(re.split(r"\s+", page))
  int64_t bytes = 0;                 //           len(page.encode("utf-8"))
};

struct TaskSpec {
  std::string name;
  std::string dataset_path;   // Hub repository
  std::string dataset_name;   // Hub config ("" = none)
  std::string eval_split;     // test_split, else validation_split
  std::string fewshot_split;  // fewshot_split, else training_split, else validation_split
  // The harness draws one extra few-shot document when config.fewshot_split == config.test_split
  // (both unset for hellaswag and piqa).
  bool extra_fewshot_draw = false;
  OutputType output_type = OutputType::kMultipleChoice;
  SamplerKind sampler = SamplerKind::kRandom;
  std::string description;
  std::vector<std::string> metrics;  // acc, acc_norm, f1, word_perplexity, ...
  double version = 1.0;
  std::string format;  // which processing applies (hellaswag, arc, mmlu, ...)
  // Fills text/choices/gold (or target/words/bytes) from doc.raw; throws data::BadRecord naming
  // the field on a malformed record.
  void process(Doc& doc) const;
};

struct GroupSpec {
  std::string name;
  std::vector<std::string> members;  // tasks or groups, in the harness's order
  std::vector<std::string> metrics;  // aggregate_metric_list (weight_by_size: true)
  double version = 1.0;
};

// The task named `name` (InputError listing the known names otherwise).
TaskSpec find_task(const std::string& name);
// Expands a --tasks list: groups to their tasks (depth first), duplicates dropped. InputError
// "unknown task X; known: ..." for a name that is neither.
std::vector<std::string> expand_tasks(const std::vector<std::string>& names);
// The groups reachable from `names` (innermost first, so each aggregates finished members).
std::vector<GroupSpec> groups_for(const std::vector<std::string>& names);
std::vector<std::string> known_task_names();  // top-level names: tasks and groups

}  // namespace moai::eval
