#pragma once
// The Qwen3 model (HF Qwen3ForCausalLM semantics) written once against ops::Backend.
//
// Memory: parameters, gradients each one contiguous device buffer cut by ParamLayout (AdamW moments
// live in train::AdamW, same layout); activations in one arena sized at construction for
// (max_batch, max_seq). forward/backward never allocate.
//
// Training step for one micro-batch:
//   double loss = model.forward(batch, loss_config, step_valid_tokens, /*want_grad=*/true);
//   model.backward();                       // gradients accumulate (+=) into grads()
// where step_valid_tokens is the number of labels != -100 in the WHOLE optimizer step (all
// micro-batches and ranks), so summing the returned values over micro-batches (and all-reducing
// over ranks) gives the step's mean loss and the gradients are those of that mean. zero_grads()
// before the first micro-batch of a step.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "moai/model/kv_cache.h"
#include "moai/model/param_layout.h"
#include "moai/model/qwen3_config.h"
#include "moai/ops/ops.h"

namespace moai::model {

// One micro-batch, host memory, row-major [batch, seq]. Matches what the data loaders produce.
struct Batch {
  int64_t batch = 0;
  int64_t seq = 0;
  std::span<const int32_t> input_ids;  // [B,T], each in [0, vocab)
  std::span<const int32_t> labels;  // [B,T] already shifted (target of position t), -100 = ignored;
                                    // empty = no loss (forward_logits only)
  std::span<const int32_t>
      position_ids;  // [B,T]; empty = 0..T-1 in every row (restart per packed document)
  std::span<const int32_t>
      segment_ids;  // [B,T]; empty = plain causal; else attention stays inside equal ids
};

struct ModelOptions {
  int64_t max_batch = 1;
  int64_t max_seq = 0;                  // 0 = config.max_position_embeddings
  bool training = true;                 // allocate gradients and the activations backward needs
  bool gradient_checkpointing = false;  // keep only layer inputs; recompute each layer in backward
  // kBf16: mixed precision (fp32 masters and gradients, bf16 matmul/attention activations; the
  // matmuls read bf16 weights: a bf16 working copy of the masters, or, when training on a backend
  // that rounds fp32 weights as it reads them (the CPU), the masters themselves; docs/model.md).
  ops::Precision precision = ops::Precision::kFp32;
  // Rows of the RoPE tables (the longest position + 1 a forward may use); 0 = max(max_seq,
  // config.max_position_embeddings). Generation sets it to its context.
  int64_t max_positions = 0;
};

// One sequence's share of a forward_cached call: the next `rows` tokens of the call's ids are
// appended to *cache, at positions cache->length() ...
struct CachedSegment {
  KvCache* cache = nullptr;
  int64_t rows = 0;
};

class Qwen3Model {
 public:
  Qwen3Model(const Qwen3Config& config, ops::Backend& backend, const ModelOptions& options);
  ~Qwen3Model();
  Qwen3Model(const Qwen3Model&) = delete;
  Qwen3Model& operator=(const Qwen3Model&) = delete;

  const Qwen3Config& config() const { return config_; }
  const ParamLayout& layout() const { return layout_; }
  const ModelOptions& options() const { return options_; }
  ops::Backend& backend() { return backend_; }

  // Device buffers of layout().total_floats() floats (the fp32 masters and their gradients).
  // grads() is null unless options.training. After changing params() in place (the optimizer step)
  // call weights_updated() so that the bf16 working copy (if any) follows.
  float* params() { return params_; }
  const float* params() const { return params_; }
  float* grads() { return grads_; }

  // HF-style init: linear/embedding weights N(0, initializer_range) from `seed` (deterministic),
  // norms 1.
  void init_weights(uint64_t seed);
  void set_params(const float* host_params);  // host buffer of layout().total_floats()
  void get_params(float* host_params) const;
  void get_grads(float* host_grads) const;
  void zero_grads();
  void weights_updated();  // refreshes the bf16 working copy from the fp32 masters (no-op in fp32)
  ops::Precision precision() const { return options_.precision; }
  void set_gradient_checkpointing(bool enabled) { options_.gradient_checkpointing = enabled; }

  // Runs the model on `batch` and returns sum over valid tokens of the row loss / loss_normalizer
  // (loss_normalizer <= 0 means this batch's own valid-token count). With want_grad (training
  // models only) the classifier's share of backward runs here and backward() must follow before the
  // next forward. Throws InputError for ids/labels/positions out of range or a batch larger than
  // the arena.
  double forward(const Batch& batch, const ops::LossConfig& loss, double loss_normalizer,
                 bool want_grad);
  // Accumulates d(returned loss)/d(params) into grads(). layer_done(l), when given, is called as
  // soon as layer l's gradients are complete (layers finish from the last to the first; the
  // embedding, final norm and lm_head after all of them), so their communication can start while
  // the backward goes on. On a device backend the gradients may still be in flight on its stream.
  void backward(const std::function<void(int64_t layer)>& layer_done = {});

  // Per-row losses of the last forward (host, [B*T], 0 where ignored; unnormalised row losses).
  void get_token_losses(float* host_out) const;
  int64_t last_valid_tokens() const { return last_valid_tokens_; }

  // Logits for selected flat rows (b*T + t) of the batch: host_out[rows.size(), V]. Labels are not
  // needed.
  void forward_logits(const Batch& batch, std::span<const int64_t> rows, float* host_out);

  // ---- generation (the same layer forward, attending to a KV cache) -------------------------
  // An empty cache for up to `capacity` tokens on this model's backend, in the compute dtype.
  KvCache new_cache(int64_t capacity) {
    return KvCache(backend_, config_, capacity, compute_dtype());
  }
  // Rows one forward_cached call may carry (the arena's max_batch * max_seq).
  int64_t max_tokens() const;
  // Runs `ids` (sum of the segments' rows, at most max_tokens(), each id in [0, V)) through the
  // model: each segment's tokens attend to its cache, whose keys and values they extend. Writes
  // the logits of the selected rows (indices into ids) to host_out[logit_rows.size(), V]. Every
  // position must be below the RoPE tables' rows and each cache's capacity (the caller checks
  // against its context; InputError otherwise). Static RoPE tables (as at training length).
  void forward_cached(std::span<const CachedSegment> segments, std::span<const int32_t> ids,
                      std::span<const int64_t> logit_rows, float* host_out);

  // Bytes held: parameters (fp32 masters plus any bf16 working copy), gradients, activation arena
  // (for `moai model info` and the benchmark).
  size_t param_bytes() const;
  static size_t estimate_param_bytes(const Qwen3Config& config, ops::Precision precision,
                                     bool working_copy);
  // Whether a model of this precision on `backend` keeps a bf16 working copy of the weights: bf16,
  // unless training on a backend that rounds fp32 weights itself (Backend::rounds_f32_weights).
  static bool has_working_copy(ops::Precision precision, bool training,
                               const ops::Backend& backend);
  size_t grad_bytes() const;
  size_t activation_bytes() const;

  // The arena a model with these options would allocate, without allocating it.
  static size_t estimate_activation_bytes(const Qwen3Config& config, const ModelOptions& options);
  static int64_t count_valid_labels(const Batch& batch, int ignore_index = -100);

 private:
  struct Arena;
  void check_batch(const Batch& batch, bool need_labels) const;
  void upload_batch(const Batch& batch);
  void upload_ints(const ops::Buffer& dst, std::span<const int32_t> values);
  void upload_rope_tables(int64_t length);  // 0: the default tables
  void forward_layers(int64_t n_tokens, std::span<const CachedSegment> cached = {});
  // `cached` non-empty: generation (batch 1, seq = all rows; attention per segment over its cache).
  void layer_forward(int64_t layer, int64_t batch, int64_t seq,
                     std::span<const CachedSegment> cached = {});
  void attend_cached(int64_t layer, std::span<const CachedSegment> cached);
  void logits_for_rows(std::span<const int64_t> rows, float* host_out);
  ops::DType compute_dtype() const { return ops::compute_dtype(options_.precision); }
  void layer_backward(int64_t layer, int64_t batch, int64_t seq);
  // A parameter as a view: the fp32 master (norm weights, embedding) or the matmul weight (the bf16
  // working copy when there is one, else the fp32 master).
  ops::TensorView master(int64_t offset, std::initializer_list<int64_t> dims) const;
  ops::TensorView weight(int64_t offset, std::initializer_list<int64_t> dims) const;
  ops::TensorView grad(int64_t offset, std::initializer_list<int64_t> dims) const;

  Qwen3Config config_;
  ops::Backend& backend_;
  ModelOptions options_;
  ParamLayout layout_;
  float* params_ = nullptr;
  float* grads_ = nullptr;
  ops::Buffer work_;  // the bf16 working copy of params_ (data null in fp32 and CPU bf16 training)
  std::unique_ptr<Arena> arena_;
  int64_t cur_batch_ = 0;
  int64_t cur_seq_ = 0;
  bool has_segments_ = false;
  bool pending_backward_ = false;
  // Whether layer_forward keeps the bf16 copies of the residuals the backward reads (in_saved,
  // mid_saved): set by forward(want_grad); an evaluation forward skips them.
  bool save_residuals_ = false;
  int64_t last_valid_tokens_ = 0;
};

}  // namespace moai::model
