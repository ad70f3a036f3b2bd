#include "moai/eval/eval_model.h"

#include <filesystem>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/log.h"
#include "moai/model/hf_checkpoint.h"

namespace moai::eval {

EvalModel load_eval_model(const std::string& model_dir, const EvalModelOptions& options) {
  if (!is_directory(model_dir)) throw_input_error(model_dir, "model directory not found");
  if (!file_exists(model_dir + "/config.json"))
    throw_input_error(model_dir + "/config.json", "missing");
  const std::string tok_path = options.tokenizer_path.empty() ? model_dir : options.tokenizer_path;
  EvalModel out;
  out.tokenizer = std::make_unique<tok::Tokenizer>(tok::Tokenizer::load(tok_path));
  const model::Qwen3Config config = model::load_qwen3_config(model_dir);
  if (int64_t(out.tokenizer->vocab_size()) > config.vocab_size)
    throw_input_error(tok_path, "tokenizer has " + std::to_string(out.tokenizer->vocab_size()) +
                                    " tokens but the model's vocab_size is " +
                                    std::to_string(config.vocab_size));
  const model::ParamLayout layout(config);
  std::vector<float> params = model::read_hf_params(model_dir, layout);
  out.backend = ops::make_backend(options.device, options.threads);
  ScorerOptions scorer = options.scorer;
  scorer.precision = options.precision.value_or(
      ops::default_inference_precision(config.torch_dtype, out.backend->device()));
  MOAI_INFO("engine: " << out.backend->name() << ", precision "
                       << ops::precision_name(scorer.precision));
  out.scorer = std::make_unique<Scorer>(config, std::move(params), *out.backend, scorer);
  out.name = std::filesystem::path(model_dir).lexically_normal().filename().string();
  return out;
}

}  // namespace moai::eval
