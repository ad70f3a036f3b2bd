#pragma once
// The inference forward: Qwen3 with a KV cache, for prefill (many tokens at once, BLAS matmuls) and
// incremental decode (one token, memory-bound matrix-vector products). It reuses the CPU backend's
// kernels (RMSNorm, RoPE, attention with a cache, SwiGLU) and the model layer's parameter layout
// and HF checkpoint loader; what it adds is the cache, position bookkeeping and a decode path that
// reads each weight once per token.
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

#include "moai/model/param_layout.h"
#include "moai/model/qwen3_config.h"
#include "moai/ops/backend_factory.h"
#include "moai/ops/ops.h"

namespace moai::infer {

// Keys and values of one sequence: per layer [rows, KV, D] each, filled up to length(). Memory
// grows with use (doubling, up to capacity()), so a server with several sequences, or a model with
// a long context, pays only for the tokens actually cached.
class KvCache {
 public:
  KvCache(const model::Qwen3Config& config, int64_t capacity);
  int64_t length() const { return length_; }
  int64_t capacity() const { return capacity_; }
  void clear() { length_ = 0; }
  // Forget everything after the first `length` tokens (a chat that shares a prefix with the last
  // turn keeps its cache up to there).
  void truncate(int64_t length);

 private:
  friend class InferenceModel;
  void reserve(int64_t rows);  // room for `rows` tokens (<= capacity)
  int64_t capacity_;
  int64_t length_ = 0;
  int64_t allocated_ = 0;  // token rows allocated per layer
  int64_t row_;            // KV * D floats per token per layer
  std::vector<std::vector<float>> k_, v_;
};

class InferenceModel {
 public:
  // Loads config.json and the safetensors weights of an HF directory (F32/BF16/F16 -> fp32).
  // max_context 0 = config.max_position_embeddings; threads 0 = default_thread_count().
  // `device` comes from --device (auto = cpu here: the KV-cache forward still runs on the CPU
  // backend, so cuda is an InputError); `precision` from --precision, unset = the checkpoint's
  // torch_dtype. bf16 rounds the weights to bf16 and computes in fp32 until inference moves onto
  // the shared engine (docs/model.md). Logs the engine and precision.
  static std::unique_ptr<InferenceModel> load(const std::string& model_dir, int64_t max_context = 0,
                                              int threads = 0, const ops::DeviceSpec& device = {},
                                              std::optional<ops::Precision> precision = {});
  // From parameters already in memory (tests, benchmarks): host_params has layout.total_floats().
  // A null backend is the CPU backend with `threads`.
  InferenceModel(const model::Qwen3Config& config, std::vector<float> host_params,
                 int64_t max_context = 0, int threads = 0,
                 std::unique_ptr<ops::Backend> backend = nullptr);
  ~InferenceModel();

  const model::Qwen3Config& config() const { return config_; }
  int64_t max_context() const { return max_context_; }
  int64_t vocab_size() const { return config_.vocab_size; }
  KvCache new_cache() const { return KvCache(config_, max_context_); }

  // Appends `tokens` to the cache (positions cache.length() ...) and writes the next-token logits
  // of the last token into logits_out[V]. With all_logits non-null it also receives every new
  // token's logits [tokens.size(), V] (tests; costs a full classifier pass per token). Throws
  // InputError when an id is out of range or the cache would exceed max_context.
  void forward(KvCache& cache, std::span<const uint32_t> tokens, float* logits_out,
               float* all_logits = nullptr);
  // One decode step for several sequences at once: tokens[i] is appended to *caches[i], and its
  // next-token logits go to logits_out[i * V, (i + 1) * V). Every weight is read once for the whole
  // batch (matrix-matrix products instead of one matrix-vector product per sequence), which is what
  // makes concurrent requests cheaper than serving them one after another. Same errors as forward.
  void forward_batch(std::span<KvCache* const> caches, std::span<const uint32_t> tokens,
                     float* logits_out);

 private:
  void ensure_scratch(int64_t n);
  void linear(float* out, const float* inp, int64_t param_offset, int64_t n, int64_t in_c,
              int64_t out_c);
  // Rows [first_row, first_row + rows) of the scratch belong to `cache`, at positions start...
  struct Segment {
    KvCache* cache;
    int64_t start;
    int64_t rows;
    int64_t first_row;
  };
  void check_tokens(std::span<const uint32_t> tokens) const;
  void run_layers(std::span<const Segment> segments, int64_t n);
  void layer(std::span<const Segment> segments, int64_t layer, int64_t n);

  model::Qwen3Config config_;
  model::ParamLayout layout_;
  std::vector<float> params_;
  std::unique_ptr<ops::Backend> backend_;
  int64_t max_context_;
  int threads_;
  std::vector<float> rope_cos_, rope_sin_;
  // Scratch sized for the largest chunk seen so far.
  int64_t scratch_rows_ = 0;
  std::vector<float> x_, ln_, q_, k_, v_, att_, gate_, up_, rstd_;
  std::vector<int32_t> ids_, positions_;
};

// y[rows] = W[rows, cols] · x[cols], W row-major: the decode hot path (OpenMP over rows, SIMD dot
// products, each weight read once).
void matvec(float* y, const float* w, const float* x, int64_t rows, int64_t cols);
// out[n, out_c] = inp[n, in_c] · w[out_c, in_c]^T + beta * out: OpenMP threads over slices of w,
// each a single-threaded BLAS call (the prefill path).
void gemm_nt(float* out, const float* inp, const float* w, int64_t n, int64_t out_c, int64_t in_c,
             float beta);

}  // namespace moai::infer
