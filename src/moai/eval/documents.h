#pragma once
// Where a task's documents come from: a local file or directory in the Hub's own formats
// (--dataset_path; JSONL/JSON/CSV/Parquet through data/'s record reader), or the task's Hub dataset
// (lm-eval's dataset_path/dataset_name), downloaded into the shared HF cache (data/hub_dataset.h).
#include <cstdint>
#include <string>
#include <vector>

#include "moai/eval/tasks.h"

namespace moai::eval {

struct DatasetSource {
  std::string local_path;  // file or directory; empty = the task's Hub dataset
};

// The cached files of `split` of the task's Hub dataset (config = task.dataset_name), downloaded
// on demand; HF_HUB_OFFLINE=1 uses the cache only.
std::vector<std::string> hub_split_files(const TaskSpec& task, const std::string& split);

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
