#include "moai/infer/loaded_model.h"

#include <filesystem>

#include "moai/core/error.h"
#include "moai/core/file_util.h"

namespace moai::infer {

LoadedModel load_model(const std::string& model_dir, const LoadOptions& options) {
  namespace fs = std::filesystem;
  if (!is_directory(model_dir)) throw_input_error(model_dir, "model directory not found");
  if (!file_exists(model_dir + "/config.json"))
    throw_input_error(model_dir + "/config.json", "missing");
  const std::string tok_path = options.tokenizer_path.empty() ? model_dir : options.tokenizer_path;
  const std::string tok_file = is_directory(tok_path) ? tok_path + "/tokenizer.json" : tok_path;
  if (!file_exists(tok_file))
    throw_input_error(
        tok_file, "missing: pass --tokenizer_path or save the tokenizer into the model directory");
  LoadedModel out;
  out.tokenizer = std::make_unique<tok::Tokenizer>(tok::Tokenizer::load(tok_path));
  out.model = InferenceModel::load(model_dir, options.max_context, options.threads, options.device,
                                   options.precision);
  const size_t tok_vocab = out.tokenizer->vocab_size();
  if (int64_t(tok_vocab) > out.model->vocab_size())
    throw_input_error(tok_file, "tokenizer has " + std::to_string(tok_vocab) +
                                    " tokens but the model's vocab_size is " +
                                    std::to_string(out.model->vocab_size()) +
                                    ": mismatched model and tokenizer");
  out.name = fs::path(model_dir).lexically_normal().filename().string();
  if (out.name.empty())
    out.name = fs::path(model_dir).lexically_normal().parent_path().filename().string();
  if (out.name.empty()) out.name = "moai";
  return out;
}

}  // namespace moai::infer
