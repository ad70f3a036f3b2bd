#include "moai/eval/documents.h"

#include <algorithm>
#include <filesystem>

#include "moai/core/error.h"
#include "moai/data/hub_dataset.h"
#include "moai/data/record_reader.h"

namespace moai::eval {

namespace fs = std::filesystem;

std::vector<std::string> hub_split_files(const TaskSpec& task, const std::string& split) {
  data::hub::DatasetSelection selection;
  selection.config = task.dataset_name;
  selection.split = split;
  const data::hub::DatasetSources sources = data::hub::resolve_dataset_sources(
      {task.dataset_path}, selection, data::hub::HubEnv::from_environment());
  return sources.inputs;
}

namespace {

bool split_file_name(const std::string& file, const std::string& split) {
  if (file.rfind(split, 0) != 0 || file.size() == split.size()) return false;
  const char next = file[split.size()];
  return next == '.' || next == '-';
}

std::vector<std::string> files_in(const fs::path& dir, const std::string& split) {
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_regular_file() && split_file_name(entry.path().filename().string(), split))
      out.push_back(entry.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::vector<std::string> split_files(const DatasetSource& source, const TaskSpec& task,
                                     const std::string& split) {
  if (source.local_path.empty()) return hub_split_files(task, split);
  const std::string& root = source.local_path;
  std::error_code ec;
  if (fs::is_regular_file(root, ec)) {
    if (split != task.eval_split)
      throw_input_error(root, "a single file holds only the evaluation split; the " + split +
                                  " split (few-shot examples) needs --dataset_path DIR");
    return {root};
  }
  if (!fs::is_directory(root, ec)) throw_input_error(root, "dataset path not found");
  std::vector<fs::path> dirs;
  for (const fs::path& base : {fs::path(root) / task.dataset_path, fs::path(root)}) {
    if (!task.dataset_name.empty()) {
      dirs.push_back(base / task.dataset_name);
      dirs.push_back(base / task.dataset_name / "data");
    }
    dirs.push_back(base / "data");
    dirs.push_back(base);
  }
  for (const fs::path& dir : dirs) {
    std::vector<std::string> files = files_in(dir, split);
    if (!files.empty()) return files;
  }
  throw_input_error(root, "no " + split + " split for " + task.name + " (looked for " + split +
                              ".jsonl or " + split + "-*.* under " + task.dataset_path + "/, " +
                              (task.dataset_name.empty() ? "" : task.dataset_name + "/, ") +
                              "data/ and the directory itself)");
}

std::vector<Doc> load_docs(const DatasetSource& source, const TaskSpec& task,
                           const std::string& split, int64_t limit) {
  std::vector<Doc> docs;
  if (limit == 0) return docs;
  const std::vector<data::InputFile> files = data::expand_inputs(split_files(source, task, split));
  data::ReaderOptions options;
  struct Enough {};
  try {
    data::read_json_records(files, options,
                            [&](std::string_view json, const std::string&, long long) {
                              Doc doc;
                              doc.raw = nlohmann::ordered_json::parse(json);
                              task.process(doc);
                              docs.push_back(std::move(doc));
                              if (limit > 0 && int64_t(docs.size()) >= limit) throw Enough{};
                            });
  } catch (const Enough&) {
  }
  if (docs.empty())
    throw_input_error(files.front().path, "no documents in the " + split + " split");
  return docs;
}

}  // namespace moai::eval
