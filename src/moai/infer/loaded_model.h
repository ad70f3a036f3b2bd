#pragma once
// Loading what chat / generate / serve need: the inference model and its tokenizer, checked against
// each other (a tokenizer with ids beyond the model's embedding rows is a mismatch, not a crash
// later).
#include <memory>
#include <optional>
#include <string>

#include "moai/infer/kv_model.h"
#include "moai/tokenizer/tokenizer.h"

namespace moai::infer {

struct LoadedModel {
  std::unique_ptr<InferenceModel> model;
  std::unique_ptr<tok::Tokenizer> tokenizer;
  std::string name;  // the model directory's name (OpenAI "model" field)
};

struct LoadOptions {
  std::string tokenizer_path;               // empty = the model directory
  int64_t max_context = 0;                  // 0 = config max_position_embeddings
  int threads = 0;                          // 0 = default thread count
  ops::DeviceSpec device;                   // --device (auto = cpu for generation today)
  std::optional<ops::Precision> precision;  // --precision; unset = the checkpoint's torch_dtype
};

// InputError naming the directory or file when something is missing or the two do not fit together.
LoadedModel load_model(const std::string& model_dir, const LoadOptions& options = {});

}  // namespace moai::infer
