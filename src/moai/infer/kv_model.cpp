#include "moai/infer/kv_model.h"

#include <algorithm>
#include <cstring>

#include "moai/core/error.h"
#include "moai/core/log.h"
#include "moai/model/hf_checkpoint.h"
#include "moai/model/param_layout.h"

namespace moai::infer {
namespace {

// Token rows per forward_cached call: prompts longer than this are prefilled in chunks (the
// activation arena is sized for it, not for the whole context).
constexpr int64_t kChunkRows = 256;

}  // namespace

std::unique_ptr<InferenceModel> InferenceModel::load(const std::string& model_dir,
                                                     int64_t max_context, int threads,
                                                     const ops::DeviceSpec& device,
                                                     std::optional<ops::Precision> precision) {
  const model::Qwen3Config config = model::load_qwen3_config(model_dir);
  const model::ParamLayout layout(config);
  std::unique_ptr<ops::Backend> backend = ops::make_backend(device, threads);
  const ops::Precision mode =
      precision.value_or(ops::default_inference_precision(config.torch_dtype, backend->device()));
  const std::vector<float> params = model::read_hf_params(model_dir, layout);
  MOAI_INFO("engine: " << backend->name() << ", precision " << ops::precision_name(mode));
  return std::make_unique<InferenceModel>(config, params, max_context, threads, std::move(backend),
                                          mode);
}

InferenceModel::InferenceModel(const model::Qwen3Config& config, std::span<const float> host_params,
                               int64_t max_context, int threads,
                               std::unique_ptr<ops::Backend> backend, ops::Precision precision)
    : backend_(backend ? std::move(backend)
                       : ops::make_backend({ops::DeviceChoice::kCpu, 0}, threads)),
      max_context_(max_context > 0 ? max_context : config.max_position_embeddings) {
  if (max_context_ <= 0)
    throw_input_error("config.json: max_position_embeddings", "expected a positive context");
  model::ModelOptions options;
  options.max_batch = 1;
  options.max_seq = std::min(max_context_, kChunkRows);
  options.training = false;
  options.precision = precision;
  options.max_positions = max_context_;
  model_ = std::make_unique<model::Qwen3Model>(config, *backend_, options);
  MOAI_CHECK(int64_t(host_params.size()) == model_->layout().total_floats());
  model_->set_params(host_params.data());
}

InferenceModel::~InferenceModel() = default;

void InferenceModel::check_tokens(std::span<const uint32_t> tokens) const {
  for (uint32_t id : tokens)
    if (int64_t(id) >= vocab_size())
      throw_input_error("generate", "token id " + std::to_string(id) +
                                        " is outside the vocabulary (" +
                                        std::to_string(vocab_size()) + ")");
}

void InferenceModel::forward(KvCache& cache, std::span<const uint32_t> tokens, float* logits_out,
                             float* all_logits) {
  const int64_t n = int64_t(tokens.size()), V = vocab_size();
  if (n == 0) throw_input_error("generate", "empty input: at least one token is needed");
  if (cache.length() + n > max_context_)
    throw_input_error("generate", "context full: " + std::to_string(cache.length()) + " cached + " +
                                      std::to_string(n) + " new tokens exceed the context of " +
                                      std::to_string(max_context_) + " tokens");
  check_tokens(tokens);
  const int64_t chunk = model_->max_tokens();
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t rows = std::min(chunk, n - begin);
    ids_.assign(tokens.begin() + begin, tokens.begin() + begin + rows);
    const model::CachedSegment segment[1] = {{&cache, rows}};
    if (all_logits) {
      rows_.resize(size_t(rows));
      for (int64_t i = 0; i < rows; ++i) rows_[size_t(i)] = i;
      model_->forward_cached(segment, ids_, rows_, all_logits + begin * V);
    } else if (begin + rows == n) {
      rows_.assign(1, rows - 1);
      model_->forward_cached(segment, ids_, rows_, logits_out);
    } else {
      model_->forward_cached(segment, ids_, {}, nullptr);
    }
  }
  if (all_logits) std::memcpy(logits_out, all_logits + (n - 1) * V, size_t(V) * sizeof(float));
}

void InferenceModel::forward_batch(std::span<KvCache* const> caches,
                                   std::span<const uint32_t> tokens, float* logits_out) {
  const int64_t n = int64_t(tokens.size()), V = vocab_size();
  MOAI_CHECK(caches.size() == tokens.size());
  if (n == 0) return;
  for (size_t i = 0; i < caches.size(); ++i) {
    MOAI_CHECK(std::find(caches.begin(), caches.begin() + i, caches[i]) == caches.begin() + i);
    if (caches[i]->length() + 1 > max_context_)
      throw_input_error("generate", "context full: " + std::to_string(caches[i]->length()) +
                                        " cached tokens fill the context of " +
                                        std::to_string(max_context_) + " tokens");
  }
  check_tokens(tokens);
  const int64_t chunk = model_->max_tokens();
  std::vector<model::CachedSegment> segments;
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t rows = std::min(chunk, n - begin);
    segments.clear();
    rows_.resize(size_t(rows));
    for (int64_t i = 0; i < rows; ++i) {
      segments.push_back({caches[size_t(begin + i)], 1});
      rows_[size_t(i)] = i;
    }
    ids_.assign(tokens.begin() + begin, tokens.begin() + begin + rows);
    model_->forward_cached(segments, ids_, rows_, logits_out + begin * V);
  }
}

}  // namespace moai::infer
