// Qwen3Model: setup, batch checks, the top of the network (embedding, final norm, classifier +
// loss) and the parameter buffers. The decoder layers' forward and backward are in
// qwen3_layers.cpp.
#include "moai/model/qwen3_model.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "moai/core/error.h"
#include "moai/model/activations.h"

namespace moai::model {

Qwen3Model::Qwen3Model(const Qwen3Config& config, ops::Backend& backend,
                       const ModelOptions& options)
    : config_(config), backend_(backend), options_(options), layout_(config) {
  validate_qwen3_config(config_, "model config");
  if (options_.max_seq <= 0) options_.max_seq = config_.max_position_embeddings;
  if (options_.max_batch <= 0) throw_input_error("model options", "max_batch must be > 0");
  const ops::DType compute = ops::compute_dtype(options_.precision);
  const size_t master_bytes = size_t(layout_.total_floats()) * ops::dtype_size(ops::DType::kF32);
  params_ = static_cast<float*>(backend_.allocate(master_bytes));
  if (options_.training) grads_ = static_cast<float*>(backend_.allocate(master_bytes));
  if (has_working_copy(options_.precision, options_.training, backend_))
    work_ = {backend_.allocate(size_t(layout_.total_floats()) * ops::dtype_size(compute)), compute};
  arena_ = std::make_unique<Arena>(&backend_, config_, options_.max_batch, options_.max_seq,
                                   options_.training, options_.gradient_checkpointing, compute,
                                   options_.max_positions);
  upload_rope_tables(0);
}

Qwen3Model::~Qwen3Model() {
  arena_.reset();
  backend_.deallocate(params_);
  if (grads_) backend_.deallocate(grads_);
  if (work_.data) backend_.deallocate(work_.data);
}

void Qwen3Model::init_weights(uint64_t seed) {
  std::vector<float> host(size_t(layout_.total_floats()), 0.0f);
  const std::vector<ParamInfo>& params = layout_.params();
  // One generator per tensor (seeded from the seed and the tensor index): deterministic and
  // parallel.
#pragma omp parallel for schedule(dynamic)
  for (size_t index = 0; index < params.size(); ++index) {
    const ParamInfo& info = params[index];
    float* dst = host.data() + info.offset;
    if (info.shape.size() == 1) {
      std::fill(dst, dst + info.numel, 1.0f);
      continue;
    }
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + index);
    std::normal_distribution<double> normal(0.0, config_.initializer_range);
    for (int64_t i = 0; i < info.numel; ++i) dst[i] = static_cast<float>(normal(rng));
  }
  set_params(host.data());
}

void Qwen3Model::set_params(const float* host) {
  backend_.copy_to_device(params_, host, ops::view(host, {layout_.total_floats()}).bytes());
  weights_updated();
}
void Qwen3Model::get_params(float* host) const {
  backend_.copy_to_host(host, params_, ops::view(host, {layout_.total_floats()}).bytes());
}
void Qwen3Model::get_grads(float* host) const {
  MOAI_CHECK(grads_ != nullptr);
  backend_.copy_to_host(host, grads_, ops::view(host, {layout_.total_floats()}).bytes());
}
void Qwen3Model::zero_grads() {
  MOAI_CHECK(grads_ != nullptr);
  backend_.zero(ops::view(grads_, {layout_.total_floats()}));
}
void Qwen3Model::weights_updated() {
  if (!work_.data) return;
  backend_.convert(work_.view({layout_.total_floats()}),
                   ops::view(params_, {layout_.total_floats()}));
}

ops::TensorView Qwen3Model::master(int64_t offset, std::initializer_list<int64_t> dims) const {
  return ops::make_view(params_ + offset, ops::DType::kF32, dims);
}
ops::TensorView Qwen3Model::weight(int64_t offset, std::initializer_list<int64_t> dims) const {
  if (!work_.data) return master(offset, dims);
  return work_.offset(offset).view(dims);
}
ops::TensorView Qwen3Model::grad(int64_t offset, std::initializer_list<int64_t> dims) const {
  return ops::make_view(grads_ + offset, ops::DType::kF32, dims);
}

bool Qwen3Model::has_working_copy(ops::Precision precision, bool training,
                                  const ops::Backend& backend) {
  if (ops::compute_dtype(precision) == ops::DType::kF32) return false;
  return !training || !backend.rounds_f32_weights();
}
size_t Qwen3Model::estimate_param_bytes(const Qwen3Config& config, ops::Precision precision,
                                        bool working_copy) {
  const size_t floats = size_t(ParamLayout(config).total_floats());
  const ops::DType compute = ops::compute_dtype(precision);
  return floats * ops::dtype_size(ops::DType::kF32) +
         (compute == ops::DType::kF32 || !working_copy ? 0 : floats * ops::dtype_size(compute));
}
size_t Qwen3Model::param_bytes() const {
  return estimate_param_bytes(config_, options_.precision, work_.data != nullptr);
}
size_t Qwen3Model::grad_bytes() const {
  return grads_ ? size_t(layout_.total_floats()) * ops::dtype_size(ops::DType::kF32) : 0;
}
size_t Qwen3Model::activation_bytes() const {
  return arena_->bytes;
}

int64_t Qwen3Model::count_valid_labels(const Batch& batch, int ignore_index) {
  int64_t count = 0;
  for (int32_t label : batch.labels) count += label != ignore_index;
  return count;
}

void Qwen3Model::check_batch(const Batch& batch, bool need_labels) const {
  const std::string where = "batch";
  if (batch.batch <= 0 || batch.seq <= 0) throw_input_error(where, "batch and seq must be > 0");
  if (batch.batch > options_.max_batch || batch.seq > options_.max_seq) {
    throw_input_error(where, "shape [" + std::to_string(batch.batch) + ", " +
                                 std::to_string(batch.seq) + "] exceeds the model's arena [" +
                                 std::to_string(options_.max_batch) + ", " +
                                 std::to_string(options_.max_seq) + "]");
  }
  const size_t n = size_t(batch.batch * batch.seq);
  auto check_size = [&](std::span<const int32_t> values, const char* name, bool optional) {
    if (optional && values.empty()) return;
    if (values.size() != n)
      throw_input_error(where, std::string(name) + " has " + std::to_string(values.size()) +
                                   " values, expected " + std::to_string(n));
  };
  check_size(batch.input_ids, "input_ids", false);
  check_size(batch.labels, "labels", !need_labels);
  check_size(batch.position_ids, "position_ids", true);
  check_size(batch.segment_ids, "segment_ids", true);
  for (size_t i = 0; i < n; ++i) {
    if (batch.input_ids[i] < 0 || batch.input_ids[i] >= config_.vocab_size)
      throw_input_error(
          where, "input_ids[" + std::to_string(i) + "] = " + std::to_string(batch.input_ids[i]) +
                     ", expected 0 <= id < vocab_size " + std::to_string(config_.vocab_size));
  }
  for (size_t i = 0; i < batch.position_ids.size(); ++i) {
    if (batch.position_ids[i] < 0 || batch.position_ids[i] >= arena_->rope_positions)
      throw_input_error(where, "position_ids[" + std::to_string(i) +
                                   "] = " + std::to_string(batch.position_ids[i]) +
                                   ", expected 0 <= position < " +
                                   std::to_string(arena_->rope_positions));
  }
}

void Qwen3Model::upload_rope_tables(int64_t length) {
  Arena& a = *arena_;
  const ops::RopeTables tables = ops::rope_tables(config_.rope_params(), a.rope_positions, length);
  const int64_t count = int64_t(tables.cos.size());
  backend_.copy_to_device(a.rope_cos.data, tables.cos.data(), a.rope_cos.view({count}).bytes());
  backend_.copy_to_device(a.rope_sin.data, tables.sin.data(), a.rope_sin.view({count}).bytes());
  a.rope_table_seq = length;
}

void Qwen3Model::upload_ints(const ops::Buffer& dst, std::span<const int32_t> values) {
  backend_.copy_to_device(dst.data, values.data(),
                          ops::view(values.data(), {int64_t(values.size())}).bytes());
}

void Qwen3Model::upload_batch(const Batch& batch) {
  const size_t n = size_t(batch.batch * batch.seq);
  Arena& a = *arena_;
  upload_ints(a.ids, batch.input_ids);
  if (!batch.labels.empty()) upload_ints(a.labels, batch.labels);
  int32_t max_position = int32_t(batch.seq - 1);
  if (batch.position_ids.empty()) {
    for (int64_t row = 0; row < batch.batch; ++row)
      for (int64_t t = 0; t < batch.seq; ++t)
        a.host_positions[size_t(row * batch.seq + t)] = int32_t(t);
    upload_ints(a.positions, std::span<const int32_t>(a.host_positions.data(), n));
  } else {
    max_position = *std::max_element(batch.position_ids.begin(), batch.position_ids.end());
    upload_ints(a.positions, batch.position_ids);
  }
  has_segments_ = !batch.segment_ids.empty();
  if (has_segments_) upload_ints(a.segments, batch.segment_ids);
  // Dynamic NTK RoPE (HF dynamic_rope_update): frequencies depend on the longest position in the
  // batch once it exceeds max_position_embeddings.
  if (config_.rope_scaling.type == ops::RopeType::kDynamic) {
    const int64_t length = std::max<int64_t>(max_position + 1, config_.max_position_embeddings);
    if (length != std::max<int64_t>(a.rope_table_seq, config_.max_position_embeddings))
      upload_rope_tables(length);
  }
}

double Qwen3Model::forward(const Batch& batch, const ops::LossConfig& loss, double loss_normalizer,
                           bool want_grad) {
  if (want_grad && !options_.training)
    throw InternalError("forward(want_grad) on a model built for inference");
  check_batch(batch, true);
  for (size_t i = 0; i < batch.labels.size(); ++i) {
    const int32_t label = batch.labels[i];
    if (label != loss.ignore_index && (label < 0 || label >= config_.vocab_size))
      throw_input_error("batch", "labels[" + std::to_string(i) + "] = " + std::to_string(label) +
                                     ", expected 0 <= label < vocab_size " +
                                     std::to_string(config_.vocab_size) + " or " +
                                     std::to_string(loss.ignore_index));
  }
  upload_batch(batch);
  cur_batch_ = batch.batch;
  cur_seq_ = batch.seq;
  const int64_t n = batch.batch * batch.seq;
  last_valid_tokens_ = count_valid_labels(batch, loss.ignore_index);
  const double normalizer =
      loss_normalizer > 0 ? loss_normalizer : double(std::max<int64_t>(last_valid_tokens_, 1));
  save_residuals_ = want_grad;
  forward_layers(n);
  Arena& a = *arena_;
  const int64_t C = config_.hidden_size, V = config_.vocab_size;
  const int64_t head = layout_.offset_of(ParamKind::kLmHead);
  const ops::DType compute = ops::compute_dtype(options_.precision);
  const ops::TensorView dx = want_grad ? a.dfinal.view({n, C}) : ops::TensorView{{}, compute};
  const ops::TensorView dw = want_grad ? grad(head, {V, C}) : ops::absent<float>();
  backend_.classifier_loss(a.losses.view({n}), dx, dw, a.final_norm.view({n, C}),
                           weight(head, {V, C}), a.labels.view({n}), loss, float(1.0 / normalizer));
  backend_.copy_to_host(a.host_losses.data(), a.losses.data, a.losses.view({n}).bytes());
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += double(a.host_losses[size_t(i)]);
  pending_backward_ = want_grad;
  return total / normalizer;
}

void Qwen3Model::forward_layers(int64_t n, std::span<const CachedSegment> cached) {
  Arena& a = *arena_;
  const int64_t C = config_.hidden_size, L = config_.num_hidden_layers;
  const int64_t V = config_.vocab_size;
  backend_.embedding_forward(a.residual[0].view({n, C}), a.ids.view({n}),
                             master(layout_.offset_of(ParamKind::kEmbedding), {V, C}));
  for (int64_t layer = 0; layer < L; ++layer) layer_forward(layer, cur_batch_, cur_seq_, cached);
  backend_.rmsnorm_forward(
      a.final_norm.view({n, C}), a.final_rstd.view({n}), a.residual[size_t(L)].view({n, C}),
      master(layout_.offset_of(ParamKind::kFinalNorm), {C}), float(config_.rms_norm_eps));
}

void Qwen3Model::backward(const std::function<void(int64_t layer)>& layer_done) {
  if (!pending_backward_)
    throw InternalError("backward() without a preceding forward(want_grad=true)");
  pending_backward_ = false;
  Arena& a = *arena_;
  const int64_t n = cur_batch_ * cur_seq_, C = config_.hidden_size, L = config_.num_hidden_layers;
  const int64_t norm = layout_.offset_of(ParamKind::kFinalNorm);
  backend_.rmsnorm_backward(a.grad.dres.view({n, C}), grad(norm, {C}), a.dfinal.view({n, C}),
                            a.residual[size_t(L)].view({n, C}), master(norm, {C}),
                            a.final_rstd.view({n}), false);
  const bool recompute = options_.gradient_checkpointing;
  for (int64_t layer = L - 1; layer >= 0; --layer) {
    if (recompute) layer_forward(layer, cur_batch_, cur_seq_);
    layer_backward(layer, cur_batch_, cur_seq_);
    if (layer_done) layer_done(layer);
  }
  backend_.embedding_backward(
      grad(layout_.offset_of(ParamKind::kEmbedding), {config_.vocab_size, C}),
      a.grad.dres.view({n, C}), a.ids.view({n}));
}

void Qwen3Model::get_token_losses(float* host_out) const {
  const int64_t n = cur_batch_ * cur_seq_;
  std::copy(arena_->host_losses.begin(), arena_->host_losses.begin() + n, host_out);
}

void Qwen3Model::forward_logits(const Batch& batch, std::span<const int64_t> rows,
                                float* host_out) {
  check_batch(batch, false);
  const int64_t n = batch.batch * batch.seq;
  for (int64_t row : rows)
    if (row < 0 || row >= n)
      throw_input_error("forward_logits", "row " + std::to_string(row) + " out of range");
  upload_batch(batch);
  cur_batch_ = batch.batch;
  cur_seq_ = batch.seq;
  pending_backward_ = false;
  forward_layers(n);
  logits_for_rows(rows, host_out);
}

void Qwen3Model::logits_for_rows(std::span<const int64_t> rows, float* host_out) {
  Arena& a = *arena_;
  const int64_t C = config_.hidden_size, V = config_.vocab_size;
  const ops::TensorView head = weight(layout_.offset_of(ParamKind::kLmHead), {V, C});
  const ops::Buffer& slot = a.logits_slot(V);
  for (size_t begin = 0; begin < rows.size(); begin += size_t(a.logit_rows)) {
    const int64_t count = std::min<int64_t>(a.logit_rows, int64_t(rows.size() - begin));
    for (int64_t i = 0; i < count; ++i)
      backend_.copy(a.gathered.offset(i * C).view({C}),
                    a.final_norm.offset(rows[begin + size_t(i)] * C).view({C}));
    const ops::TensorView logits = slot.view({count, V});
    ops::linear_forward(backend_, logits, a.gathered.view({count, C}), head);
    backend_.copy_to_host(host_out + begin * size_t(V), logits.data, logits.bytes());
  }
}

int64_t Qwen3Model::max_tokens() const {
  return arena_->max_tokens;
}

void Qwen3Model::forward_cached(std::span<const CachedSegment> segments,
                                std::span<const int32_t> ids, std::span<const int64_t> logit_rows,
                                float* host_out) {
  const int64_t n = int64_t(ids.size());
  Arena& a = *arena_;
  int64_t rows = 0;
  for (const CachedSegment& s : segments) {
    MOAI_CHECK(s.rows > 0);
    const int64_t end = s.cache->length() + s.rows;
    if (end > s.cache->capacity() || end > a.rope_positions)
      throw_input_error(
          "generate", "position " + std::to_string(end - 1) + " is beyond the cache/RoPE tables (" +
                          std::to_string(std::min(s.cache->capacity(), a.rope_positions)) +
                          " positions)");
    for (int64_t i = 0; i < s.rows; ++i)
      a.host_positions[size_t(rows + i)] = int32_t(s.cache->length() + i);
    rows += s.rows;
  }
  MOAI_CHECK(rows == n && n > 0 && n <= a.max_tokens);
  for (int64_t i = 0; i < n; ++i)
    if (ids[size_t(i)] < 0 || ids[size_t(i)] >= config_.vocab_size)
      throw_input_error("generate", "token id " + std::to_string(ids[size_t(i)]) +
                                        " is outside the vocabulary (" +
                                        std::to_string(config_.vocab_size) + ")");
  for (int64_t row : logit_rows) MOAI_CHECK(row >= 0 && row < n);
  backend_.bind_calling_thread();
  for (const CachedSegment& s : segments) s.cache->reserve(s.cache->length() + s.rows);
  upload_ints(a.ids, ids);
  upload_ints(a.positions, std::span<const int32_t>(a.host_positions.data(), size_t(n)));
  if (a.rope_table_seq != 0) upload_rope_tables(0);
  has_segments_ = false;
  pending_backward_ = false;
  cur_batch_ = 1;
  cur_seq_ = n;
  forward_layers(n, segments);
  for (const CachedSegment& s : segments) s.cache->advance(s.rows);
  logits_for_rows(logit_rows, host_out);
}

}  // namespace moai::model
