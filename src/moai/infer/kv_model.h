#pragma once
// Generation state over the model layer: Qwen3Model::forward_cached runs the same layer forward as
// training, through ops::Backend, attending to a KV cache (model/kv_cache.h) that lives on the
// backend's device in the working precision. InferenceModel owns the backend and an inference-mode
// Qwen3Model, checks ids and the context, and cuts long prompts and large decode batches into
// chunks of the model's arena.
//
// Positions: a token appended at cache length p gets RoPE position p, so prefill + decode sees
// exactly the positions a full forward over the whole sequence sees (the original project got this
// wrong).
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "moai/model/kv_cache.h"
#include "moai/model/qwen3_config.h"
#include "moai/model/qwen3_model.h"
#include "moai/ops/backend_factory.h"
#include "moai/ops/ops.h"

namespace moai::infer {

using model::KvCache;

class InferenceModel {
 public:
  // Loads config.json and the safetensors weights of an HF directory (F32/BF16/F16 -> fp32
  // masters). max_context 0 = config.max_position_embeddings; threads 0 = default_thread_count().
  // `device` comes from --device (auto = cuda when available, else cpu); `precision` from
  // --precision, unset = the checkpoint's torch_dtype on CUDA and on CPUs with AVX512-BF16, else
  // fp32 (ops::default_inference_precision); bf16 is mixed precision as in
  // training, a bf16 working copy of the weights and a bf16 KV cache). Logs the engine and
  // precision.
  static std::unique_ptr<InferenceModel> load(const std::string& model_dir, int64_t max_context = 0,
                                              int threads = 0, const ops::DeviceSpec& device = {},
                                              std::optional<ops::Precision> precision = {});
  // From parameters already in memory (tests, benchmarks): host_params has layout.total_floats().
  // A null backend is the CPU backend with `threads`.
  InferenceModel(const model::Qwen3Config& config, std::span<const float> host_params,
                 int64_t max_context = 0, int threads = 0,
                 std::unique_ptr<ops::Backend> backend = nullptr,
                 ops::Precision precision = ops::Precision::kFp32);
  ~InferenceModel();

  const model::Qwen3Config& config() const { return model_->config(); }
  int64_t max_context() const { return max_context_; }
  int64_t vocab_size() const { return config().vocab_size; }
  ops::Precision precision() const { return model_->precision(); }
  KvCache new_cache() const { return model_->new_cache(max_context_); }

  // Appends `tokens` to the cache (positions cache.length() ...) and writes the next-token logits
  // of the last token into logits_out[V]. With all_logits non-null it also receives every new
  // token's logits [tokens.size(), V] (tests). Throws InputError when an id is out of range or the
  // cache would exceed max_context (the cache is then unchanged).
  void forward(KvCache& cache, std::span<const uint32_t> tokens, float* logits_out,
               float* all_logits = nullptr);
  // One decode step for several sequences at once: tokens[i] is appended to *caches[i], and its
  // next-token logits go to logits_out[i * V, (i + 1) * V). Every weight is read once per chunk of
  // sequences (matrix-matrix products instead of one matrix-vector product per sequence), which is
  // what makes concurrent requests cheaper than serving them one after another. Same errors as
  // forward.
  void forward_batch(std::span<KvCache* const> caches, std::span<const uint32_t> tokens,
                     float* logits_out);

 private:
  void check_tokens(std::span<const uint32_t> tokens) const;

  std::unique_ptr<ops::Backend> backend_;
  std::unique_ptr<model::Qwen3Model> model_;
  int64_t max_context_;
  std::vector<int32_t> ids_;
  std::vector<int64_t> rows_;
};

}  // namespace moai::infer
