#pragma once
// Loading what `moai eval` scores with: an HF model directory (config.json + safetensors) into a
// Scorer on a backend, and its tokenizer. Uses only model/ and tokenizer/ (eval sits below infer).
#include <memory>
#include <optional>
#include <string>

#include "moai/eval/loglikelihood.h"
#include "moai/ops/backend_factory.h"
#include "moai/ops/ops.h"
#include "moai/tokenizer/tokenizer.h"

namespace moai::eval {

struct EvalModelOptions {
  std::string tokenizer_path;               // empty = the model directory
  int threads = 0;                          // CPU threads (0 = default)
  ops::DeviceSpec device;                   // --device (ops/backend_factory.h)
  std::optional<ops::Precision> precision;  // --precision; unset = default_inference_precision
  ScorerOptions scorer;
};

struct EvalModel {
  std::unique_ptr<ops::Backend> backend;
  std::unique_ptr<tok::Tokenizer> tokenizer;
  std::unique_ptr<Scorer> scorer;
  std::string name;  // the directory's name
};

// InputError naming the directory or file when something is missing or the tokenizer has more ids
// than the model's vocabulary.
EvalModel load_eval_model(const std::string& model_dir, const EvalModelOptions& options);

}  // namespace moai::eval
