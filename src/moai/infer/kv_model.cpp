#include "moai/infer/kv_model.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "moai/core/error.h"
#include "moai/core/log.h"
#include "moai/core/thread_pool.h"
#include "moai/model/hf_checkpoint.h"
#include "moai/ops/rope.h"

namespace moai::infer {

using model::ParamKind;

KvCache::KvCache(const model::Qwen3Config& config, int64_t capacity)
    : capacity_(capacity), row_(config.num_key_value_heads * config.head_dim) {
  k_.resize(size_t(config.num_hidden_layers));
  v_.resize(size_t(config.num_hidden_layers));
}

void KvCache::reserve(int64_t rows) {
  MOAI_CHECK(rows <= capacity_);
  if (rows <= allocated_) return;
  allocated_ = std::min(capacity_, std::max({rows, 2 * allocated_, int64_t{256}}));
  for (auto& k : k_) k.resize(size_t(allocated_ * row_));
  for (auto& v : v_) v.resize(size_t(allocated_ * row_));
}

void KvCache::truncate(int64_t length) {
  MOAI_CHECK(length >= 0);
  if (length < length_) length_ = length;
}

void matvec(float* y, const float* w, const float* x, int64_t rows, int64_t cols) {
  // Four rows per step share each load of x; the compiler vectorises the inner loops (-O3,
  // AVX2/FMA). Small products stay on one thread: a parallel region costs more than they do.
#pragma omp parallel for schedule(static) if (rows * cols >= (1 << 15))
  for (int64_t r = 0; r < rows; r += 4) {
    const int64_t count = std::min<int64_t>(4, rows - r);
    if (count == 4) {
      const float* w0 = w + r * cols;
      const float* w1 = w0 + cols;
      const float* w2 = w1 + cols;
      const float* w3 = w2 + cols;
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
      for (int64_t c = 0; c < cols; ++c) {
        s0 += w0[c] * x[c];
        s1 += w1[c] * x[c];
        s2 += w2[c] * x[c];
        s3 += w3[c] * x[c];
      }
      y[r] = s0;
      y[r + 1] = s1;
      y[r + 2] = s2;
      y[r + 3] = s3;
    } else {
      for (int64_t i = 0; i < count; ++i) {
        const float* wr = w + (r + i) * cols;
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t c = 0; c < cols; ++c) s += wr[c] * x[c];
        y[r + i] = s;
      }
    }
  }
}

#if defined(MOAI_BLAS_OPENBLAS)
extern "C" void openblas_set_num_threads(int num_threads);
#endif

void gemm_nt(float* out, const float* inp, const float* w, int64_t n, int64_t out_c, int64_t in_c,
             float beta) {
  // Each OpenMP thread multiplies its own slice of W's rows with a single-threaded BLAS call: one
  // thread team for the whole forward, no BLAS worker threads spinning against OpenMP ones.
#pragma omp parallel if (n * out_c * in_c >= (1 << 16))
  {
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    const int64_t begin = out_c * thread / threads, end = out_c * (thread + 1) / threads;
    if (end > begin)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), int(end - begin), int(in_c),
                  1.0f, inp, int(in_c), w + begin * in_c, int(in_c), beta, out + begin, int(out_c));
  }
}

std::unique_ptr<InferenceModel> InferenceModel::load(const std::string& model_dir,
                                                     int64_t max_context, int threads,
                                                     const ops::DeviceSpec& device,
                                                     std::optional<ops::Precision> precision) {
  const model::Qwen3Config config = model::load_qwen3_config(model_dir);
  const model::ParamLayout layout(config);
  ops::DeviceSpec spec = device;
  if (spec.choice == ops::DeviceChoice::kAuto) spec.choice = ops::DeviceChoice::kCpu;
  std::unique_ptr<ops::Backend> backend = ops::make_backend(spec, threads);
  if (backend->device() != ops::DeviceKind::kCpu)
    throw InputError("--device " + ops::device_spec_name(spec) +
                     ": generation runs on the CPU backend for now (the KV-cache forward has not "
                     "moved onto the shared engine yet); use --device cpu");
  const ops::Precision mode = precision.value_or(
      config.torch_dtype == "bfloat16" ? ops::Precision::kBf16 : ops::Precision::kFp32);
  std::vector<float> params(size_t(layout.total_floats()));
  model::load_hf_weights(model_dir, layout, params.data());
  if (mode == ops::Precision::kBf16)
    for (float& value : params) value = ops::to_f32(ops::to_bf16(value));
  MOAI_INFO("engine: " << backend->name() << ", precision " << ops::precision_name(mode)
                       << (mode == ops::Precision::kBf16 ? " (bf16 weights, fp32 compute)" : ""));
  return std::make_unique<InferenceModel>(config, std::move(params), max_context, threads,
                                          std::move(backend));
}

InferenceModel::InferenceModel(const model::Qwen3Config& config, std::vector<float> host_params,
                               int64_t max_context, int threads,
                               std::unique_ptr<ops::Backend> backend)
    : config_(config),
      layout_(config),
      params_(std::move(host_params)),
      backend_(backend ? std::move(backend)
                       : ops::make_backend({ops::DeviceChoice::kCpu, 0}, threads)),
      max_context_(max_context > 0 ? max_context : config.max_position_embeddings),
      threads_(threads > 0 ? threads : int(default_thread_count())) {
  MOAI_CHECK(int64_t(params_.size()) == layout_.total_floats());
#if defined(MOAI_BLAS_OPENBLAS)
  openblas_set_num_threads(1);  // gemm_nt parallelises with OpenMP instead
#endif
  if (max_context_ <= 0)
    throw_input_error("config.json: max_position_embeddings", "expected a positive context");
  // Static tables: dynamic-NTK RoPE would change them with the length; moai generates with the
  // static ones.
  const ops::RopeTables tables = ops::rope_tables(config_.rope_params(), max_context_);
  rope_cos_ = tables.cos;
  rope_sin_ = tables.sin;
}

InferenceModel::~InferenceModel() = default;

void InferenceModel::ensure_scratch(int64_t n) {
  if (n <= scratch_rows_) return;
  const auto& c = config_;
  scratch_rows_ = n;
  x_.resize(size_t(n * c.hidden_size));
  ln_.resize(size_t(n * c.hidden_size));
  q_.resize(size_t(n * c.q_dim()));
  k_.resize(size_t(n * c.kv_dim()));
  v_.resize(size_t(n * c.kv_dim()));
  att_.resize(size_t(n * c.q_dim()));
  gate_.resize(size_t(n * c.intermediate_size));
  up_.resize(size_t(n * c.intermediate_size));
  rstd_.resize(size_t(n * std::max(c.num_attention_heads, int64_t{1})));
  ids_.resize(size_t(n));
  positions_.resize(size_t(n));
}

void InferenceModel::linear(float* out, const float* inp, int64_t param_offset, int64_t n,
                            int64_t in_c, int64_t out_c) {
  const float* w = params_.data() + param_offset;
  if (n == 1) {
    matvec(out, w, inp, out_c, in_c);
  } else {
    gemm_nt(out, inp, w, n, out_c, in_c, 0.0f);
  }
}

void InferenceModel::layer(std::span<const Segment> segments, int64_t l, int64_t n) {
  const auto& c = config_;
  const int64_t C = c.hidden_size, F = c.intermediate_size, D = c.head_dim;
  const int64_t H = c.num_attention_heads, KV = c.num_key_value_heads, QD = c.q_dim(),
                KD = c.kv_dim();
  const float eps = float(c.rms_norm_eps);
  const float* p = params_.data();
  auto off = [&](ParamKind kind) { return layout_.offset_of(kind, l); };
  float* k_new = k_.data();
  float* v_new = v_.data();

  const ops::TensorView positions = ops::view(positions_.data(), {n});
  const ops::TensorView cos = ops::view(rope_cos_.data(), {max_context_, D / 2});
  const ops::TensorView sin = ops::view(rope_sin_.data(), {max_context_, D / 2});
  backend_->rmsnorm_forward(ops::view(ln_.data(), {n, C}), ops::view(rstd_.data(), {n}),
                            ops::view(x_.data(), {n, C}),
                            ops::view(p + off(ParamKind::kInputNorm), {C}), eps);
  linear(q_.data(), ln_.data(), off(ParamKind::kQProj), n, C, QD);
  linear(k_new, ln_.data(), off(ParamKind::kKProj), n, C, KD);
  linear(v_new, ln_.data(), off(ParamKind::kVProj), n, C, KD);
  const ops::TensorView q = ops::view(q_.data(), {n, H, D}), k = ops::view(k_new, {n, KV, D});
  backend_->rmsnorm_forward(q, ops::view(rstd_.data(), {n * H}), q,
                            ops::view(p + off(ParamKind::kQNorm), {D}), eps);
  backend_->rmsnorm_forward(k, ops::view(rstd_.data(), {n * KV}), k,
                            ops::view(p + off(ParamKind::kKNorm), {D}), eps);
  backend_->rope_forward(q, positions, cos, sin);
  backend_->rope_forward(k, positions, cos, sin);
  // Each sequence's new keys/values join its cache; its queries attend to that cache alone.
  for (const Segment& s : segments) {
    float* k_cache = s.cache->k_[size_t(l)].data();
    float* v_cache = s.cache->v_[size_t(l)].data();
    const size_t bytes = ops::byte_size(ops::DType::kF32, s.rows * KD);
    std::memcpy(k_cache + s.start * KD, k_new + s.first_row * KD, bytes);
    std::memcpy(v_cache + s.start * KD, v_new + s.first_row * KD, bytes);
    const int64_t kv_rows = s.start + s.rows;
    ops::AttentionShape shape{1, s.rows, kv_rows, H, KV, D, 0, float(1.0 / std::sqrt(double(D)))};
    backend_->attention_forward(
        ops::view(att_.data() + s.first_row * QD, {s.rows, QD}), ops::absent<float>(),
        ops::view(q_.data() + s.first_row * QD, {s.rows, QD}), ops::view(k_cache, {kv_rows, KD}),
        ops::view(v_cache, {kv_rows, KD}), ops::absent<int32_t>(), shape);
  }
  // x += att Wo^T
  if (n == 1) {
    matvec(ln_.data(), p + off(ParamKind::kOProj), att_.data(), C, QD);
    for (int64_t i = 0; i < C; ++i) x_[size_t(i)] += ln_[size_t(i)];
  } else {
    gemm_nt(x_.data(), att_.data(), p + off(ParamKind::kOProj), n, C, QD, 1.0f);
  }
  backend_->rmsnorm_forward(ops::view(ln_.data(), {n, C}), ops::view(rstd_.data(), {n}),
                            ops::view(x_.data(), {n, C}),
                            ops::view(p + off(ParamKind::kPostNorm), {C}), eps);
  linear(gate_.data(), ln_.data(), off(ParamKind::kGateProj), n, C, F);
  linear(up_.data(), ln_.data(), off(ParamKind::kUpProj), n, C, F);
  const ops::TensorView gate = ops::view(gate_.data(), {n * F});
  backend_->swiglu_forward(gate, gate, ops::view(up_.data(), {n * F}));
  if (n == 1) {
    matvec(ln_.data(), p + off(ParamKind::kDownProj), gate_.data(), C, F);
    for (int64_t i = 0; i < C; ++i) x_[size_t(i)] += ln_[size_t(i)];
  } else {
    gemm_nt(x_.data(), gate_.data(), p + off(ParamKind::kDownProj), n, C, F, 1.0f);
  }
}

void InferenceModel::check_tokens(std::span<const uint32_t> tokens) const {
  for (uint32_t id : tokens)
    if (int64_t(id) >= config_.vocab_size)
      throw_input_error("generate", "token id " + std::to_string(id) +
                                        " is outside the vocabulary (" +
                                        std::to_string(config_.vocab_size) + ")");
}

void InferenceModel::run_layers(std::span<const Segment> segments, int64_t n) {
  const int64_t C = config_.hidden_size;
  for (const Segment& s : segments) {
    s.cache->reserve(s.start + s.rows);
    for (int64_t i = 0; i < s.rows; ++i) positions_[size_t(s.first_row + i)] = int32_t(s.start + i);
  }
  const float* p = params_.data();
  backend_->embedding_forward(
      ops::view(x_.data(), {n, C}), ops::view(ids_.data(), {n}),
      ops::view(p + layout_.offset_of(ParamKind::kEmbedding), {config_.vocab_size, C}));
  for (int64_t l = 0; l < config_.num_hidden_layers; ++l) layer(segments, l, n);
  for (const Segment& s : segments) s.cache->length_ += s.rows;
}

void InferenceModel::forward(KvCache& cache, std::span<const uint32_t> tokens, float* logits_out,
                             float* all_logits) {
  const auto& c = config_;
  const int64_t n = int64_t(tokens.size());
  if (n == 0) throw_input_error("generate", "empty input: at least one token is needed");
  if (cache.length_ + n > max_context_)
    throw_input_error("generate", "context full: " + std::to_string(cache.length_) + " cached + " +
                                      std::to_string(n) + " new tokens exceed the context of " +
                                      std::to_string(max_context_) + " tokens");
  check_tokens(tokens);
  ensure_scratch(n);
  // The OpenMP thread count is per calling thread: the server's engine thread must set it too.
  omp_set_num_threads(threads_);
  const int64_t C = c.hidden_size, V = c.vocab_size;
  for (int64_t i = 0; i < n; ++i) ids_[size_t(i)] = int32_t(tokens[size_t(i)]);
  const Segment whole[1] = {{&cache, cache.length_, n, 0}};
  run_layers(whole, n);

  const float* p = params_.data();
  const float* norm_w = p + layout_.offset_of(ParamKind::kFinalNorm);
  const float* head = p + layout_.offset_of(ParamKind::kLmHead);
  const float eps = float(c.rms_norm_eps);
  if (all_logits) {
    backend_->rmsnorm_forward(ops::view(ln_.data(), {n, C}), ops::view(rstd_.data(), {n}),
                              ops::view(x_.data(), {n, C}), ops::view(norm_w, {C}), eps);
    gemm_nt(all_logits, ln_.data(), head, n, V, C, 0.0f);
    std::memcpy(logits_out, all_logits + (n - 1) * V, ops::byte_size(ops::DType::kF32, V));
    return;
  }
  // Only the last token's logits are needed to continue: one matrix-vector product over the
  // vocabulary.
  backend_->rmsnorm_forward(ops::view(ln_.data(), {1, C}), ops::view(rstd_.data(), {1}),
                            ops::view(x_.data() + (n - 1) * C, {1, C}), ops::view(norm_w, {C}),
                            eps);
  matvec(logits_out, head, ln_.data(), V, C);
}

void InferenceModel::forward_batch(std::span<KvCache* const> caches,
                                   std::span<const uint32_t> tokens, float* logits_out) {
  const auto& c = config_;
  const int64_t n = int64_t(tokens.size());
  MOAI_CHECK(caches.size() == tokens.size());
  if (n == 0) return;
  for (size_t i = 0; i < caches.size(); ++i) {
    MOAI_CHECK(std::find(caches.begin(), caches.begin() + i, caches[i]) == caches.begin() + i);
    if (caches[i]->length_ + 1 > max_context_)
      throw_input_error("generate", "context full: " + std::to_string(caches[i]->length_) +
                                        " cached tokens fill the context of " +
                                        std::to_string(max_context_) + " tokens");
  }
  check_tokens(tokens);
  ensure_scratch(n);
  omp_set_num_threads(threads_);
  std::vector<Segment> segments(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    ids_[size_t(i)] = int32_t(tokens[size_t(i)]);
    segments[size_t(i)] = {caches[size_t(i)], caches[size_t(i)]->length_, 1, i};
  }
  run_layers(segments, n);
  const float* p = params_.data();
  const int64_t C = c.hidden_size;
  backend_->rmsnorm_forward(
      ops::view(ln_.data(), {n, C}), ops::view(rstd_.data(), {n}), ops::view(x_.data(), {n, C}),
      ops::view(p + layout_.offset_of(ParamKind::kFinalNorm), {C}), float(c.rms_norm_eps));
  linear(logits_out, ln_.data(), layout_.offset_of(ParamKind::kLmHead), n, c.hidden_size,
         c.vocab_size);
}

}  // namespace moai::infer
