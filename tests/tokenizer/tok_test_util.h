#pragma once
// Shared helpers of the tokenizer tests: the three reference tokenizers (loaded once per process),
// the golden document split, and small file readers.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "moai/core/file_util.h"
#include "moai/tokenizer/tokenizer.h"
#include "test_paths.h"

namespace moai::test {

// Path of reference tokenizer `name` (qwen3 | moai_kor_eng | hf_bpe30k) under the shared assets.
inline std::string reference_tokenizer_path(const std::string& name) {
  if (name == "qwen3") return assets_dir() + "/qwen3/tokenizer.json";
  if (name == "moai_kor_eng") return assets_dir() + "/moai_kor_eng/tokenizer.json";
  return assets_dir() + "/oracles/hf_bpe30k_samples.tokenizer.json";
}

// Loads each reference tokenizer once per test binary (the Qwen3 file is 11 MB).
inline const tok::Tokenizer& reference_tokenizer(const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, std::unique_ptr<tok::Tokenizer>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[name];
  if (!slot)
    slot = std::make_unique<tok::Tokenizer>(tok::Tokenizer::load(reference_tokenizer_path(name)));
  return *slot;
}

// The golden convention: split on "\n\n", drop empty pieces, append "\n\n" to each.
inline std::vector<std::string> split_golden_docs(const std::string& text) {
  std::vector<std::string> docs;
  size_t start = 0;
  while (start <= text.size()) {
    size_t pos = text.find("\n\n", start);
    const size_t end = pos == std::string::npos ? text.size() : pos;
    if (end > start) docs.push_back(text.substr(start, end - start) + "\n\n");
    if (pos == std::string::npos) break;
    start = pos + 2;
  }
  return docs;
}

}  // namespace moai::test
