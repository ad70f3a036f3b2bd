// Expansion of --dataset paths (files, directories, globs) into typed input files.
#include <glob.h>

#include <algorithm>
#include <filesystem>

#include "moai/core/error.h"
#include "moai/data/byte_stream.h"
#include "moai/data/record_reader.h"

namespace moai::data {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Recognises "<name>.<format>[.gz|.zst]"; false for an unknown extension.
bool classify(const std::string& path, InputFile& out) {
  std::string name = path;
  out.path = path;
  out.compression = Compression::kNone;
  if (ends_with(name, ".gz")) {
    out.compression = Compression::kGzip;
    name.resize(name.size() - 3);
  } else if (ends_with(name, ".zst")) {
    out.compression = Compression::kZstd;
    name.resize(name.size() - 4);
  }
  if (ends_with(name, ".jsonl") || ends_with(name, ".ndjson")) {
    out.format = FileFormat::kJsonl;
  } else if (ends_with(name, ".json")) {
    out.format = FileFormat::kJsonArray;
  } else if (ends_with(name, ".csv")) {
    out.format = FileFormat::kCsv;
  } else if (ends_with(name, ".tsv")) {
    out.format = FileFormat::kTsv;
  } else if (ends_with(name, ".parquet")) {
    out.format = FileFormat::kParquet;
  } else if (ends_with(name, ".txt") || ends_with(name, ".text") || ends_with(name, ".md")) {
    out.format = FileFormat::kText;
  } else {
    out.format = FileFormat::kText;
    return false;
  }
  return true;
}

void add_file(const std::string& path, FileFormat forced, bool explicit_file,
              std::vector<InputFile>& out) {
  InputFile input;
  bool known = classify(path, input);
  if (!known && !explicit_file && forced == FileFormat::kAuto) return;  // skip e.g. README in a dir
  if (forced != FileFormat::kAuto) input.format = forced;
  sniff_content(input);
  out.push_back(input);
}

}  // namespace

std::vector<InputFile> expand_inputs(const std::vector<std::string>& paths,
                                     FileFormat forced_format) {
  namespace fs = std::filesystem;
  std::vector<InputFile> files;
  if (paths.empty())
    throw_input_error("--dataset", "no input given (expected files, directories or globs)");
  for (const std::string& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::end(it);
           it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (!name.empty() && name[0] == '.') {
          if (it->is_directory()) it.disable_recursion_pending();
          continue;
        }
        if (it->is_regular_file()) found.push_back(it->path().string());
      }
      if (ec) throw_input_error(path, "cannot list directory: " + ec.message());
      std::sort(found.begin(), found.end());
      size_t before = files.size();
      for (const auto& file : found) add_file(file, forced_format, false, files);
      if (files.size() == before) {
        throw_input_error(path, "directory holds no .txt/.jsonl/.json/.csv/.tsv/.parquet files");
      }
    } else if (fs::exists(path, ec)) {
      add_file(path, forced_format, true, files);
    } else {
      glob_t matches{};
      int rc = glob(path.c_str(), 0, nullptr, &matches);
      std::vector<std::string> found;
      if (rc == 0) {
        for (size_t i = 0; i < matches.gl_pathc; ++i) found.emplace_back(matches.gl_pathv[i]);
      }
      globfree(&matches);
      if (found.empty()) throw_input_error(path, "no such file, directory or matching glob");
      std::sort(found.begin(), found.end());
      for (const auto& file : found) {
        if (!fs::is_directory(file, ec)) add_file(file, forced_format, true, files);
      }
    }
  }
  return files;
}

}  // namespace moai::data
