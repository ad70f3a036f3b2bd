#pragma once
// Where a task's documents come from: a local file or directory in the Hub's own formats
// (--dataset_path; JSONL/JSON/CSV today, Parquet through data/'s record reader), or a Hub dataset
// name resolved by resolve_hub_dataset (the one place the Hub client plugs in).
#include <cstdint>
#include <string>
#include <vector>

#include "moai/eval/tasks.h"

namespace moai::eval {

struct DatasetSource {
  std::string local_path;  // file or directory; empty = the Hub
};

// The local directory holding the Hub dataset `repo` (config `name`). Not wired yet: throws
// InputError asking for --dataset_path.
std::string resolve_hub_dataset(const std::string& repo, const std::string& name);

// Files holding `split` of the task's dataset. A FILE source is the evaluation split itself. A
// DIRECTORY is searched first under <dir>/<repo>/ (a local mirror of several Hub datasets, e.g.
// <dir>/cais/mmlu/anatomy/), then under <dir>/ itself (one dataset's snapshot); in each, in
// <config>/, <config>/data/, data/, . for files named <split>.<ext> or <split>-*.<ext> (the Hub's
// "test-00000-of-00001.parquet").
std::vector<std::string> split_files(const DatasetSource& source, const TaskSpec& task,
                                     const std::string& split);

// Reads and processes the documents of `split` (at most `limit` when limit >= 0). A malformed
// record throws InputError "file:line: field ...".
std::vector<Doc> load_docs(const DatasetSource& source, const TaskSpec& task,
                           const std::string& split, int64_t limit = -1);

}  // namespace moai::eval
