#include "moai/model/activations.h"

#include <algorithm>

namespace moai::model {
namespace {

// Records (buffer slot, element count, dtype) requests, then makes one allocation and points every
// slot into it (64-byte aligned).
class Carver {
 public:
  void add(ops::Buffer* slot, int64_t count, ops::DType dtype = ops::DType::kF32) {
    slot->dtype = dtype;
    requests_.push_back({slot, size_t(count) * ops::dtype_size(dtype)});
  }
  size_t total_bytes() const {
    size_t total = 0;
    for (const Request& request : requests_) total += aligned(request.bytes);
    return total;
  }
  void assign(void* memory) const {
    char* cursor = static_cast<char*>(memory);
    for (const Request& request : requests_) {
      request.slot->data = cursor;
      cursor += aligned(request.bytes);
    }
  }

 private:
  struct Request {
    ops::Buffer* slot;
    size_t bytes;
  };
  static size_t aligned(size_t bytes) { return (bytes + 63) / 64 * 64; }
  std::vector<Request> requests_;
};

}  // namespace

Qwen3Model::Arena::Arena(ops::Backend* b, const Qwen3Config& c, int64_t max_batch, int64_t max_seq,
                         bool training, bool checkpointing, ops::DType cd, int64_t max_positions)
    : backend(b) {
  using ops::DType;
  const DType I32 = DType::kI32;
  const int64_t N = max_batch * max_seq, C = c.hidden_size, F = c.intermediate_size;
  const int64_t QD = c.q_dim(), KD = c.kv_dim(), H = c.num_attention_heads,
                KV = c.num_key_value_heads;
  const int64_t L = c.num_hidden_layers;
  max_tokens = N;
  Carver carver;
  // Inference and checkpointing keep only the residual stream per layer; other activations share
  // one slot. bf16 training gives the RMSNorm backward bf16 copies of the residuals, so without
  // checkpointing (which recomputes each layer from its fp32 input) the fp32 stream needs only two
  // slots, like inference.
  const bool per_layer = training && !checkpointing;
  const bool saved_lp = training && cd != DType::kF32;
  const bool all_residuals = training && (checkpointing || !saved_lp);
  residual.resize(size_t(L + 1));
  layers.resize(size_t(L));
  const int64_t residual_slots = all_residuals ? L + 1 : 2;
  for (int64_t l = 0; l < residual_slots; ++l) carver.add(&residual[size_t(l)], N * C);
  const int64_t slots = per_layer ? L : 1;
  for (int64_t l = 0; l < slots; ++l) {
    LayerActivations& a = layers[size_t(l)];
    if (saved_lp) {
      carver.add(&a.in_saved, N * C, cd);
      carver.add(&a.mid_saved, N * C, cd);
    }
    carver.add(&a.ln1, N * C, cd);
    carver.add(&a.rstd1, N);
    carver.add(&a.q_raw, N * QD, cd);
    carver.add(&a.q_rstd, N * H);
    carver.add(&a.q, N * QD, cd);
    carver.add(&a.k_raw, N * KD, cd);
    carver.add(&a.k_rstd, N * KV);
    carver.add(&a.k, N * KD, cd);
    carver.add(&a.v, N * KD, cd);
    carver.add(&a.att, N * QD, cd);
    carver.add(&a.lse, N * H);
    if (!saved_lp || l == 0) carver.add(&a.res_mid, N * C);
    carver.add(&a.ln2, N * C, cd);
    carver.add(&a.rstd2, N);
    carver.add(&a.gate, N * F, cd);
    carver.add(&a.up, N * F, cd);
    carver.add(&a.act, N * F, cd);
  }
  if (training) {
    carver.add(&grad.dres, N * C);
    carver.add(&grad.dln, N * C);
    carver.add(&grad.datt, N * QD, cd);
    carver.add(&grad.dq, N * QD, cd);
    carver.add(&grad.dk, N * KD, cd);
    carver.add(&grad.dk_raw, N * KD, cd);
    carver.add(&grad.dv, N * KD, cd);
    carver.add(&grad.dgate, N * F, cd);
    carver.add(&grad.dup, N * F, cd);
    carver.add(&grad.dact, N * F, cd);
    if (cd != DType::kF32) carver.add(&grad.dres_lp, N * C, cd);
    carver.add(&dfinal, N * C, cd);
  }
  carver.add(&final_norm, N * C, cd);
  carver.add(&final_rstd, N);
  carver.add(&losses, N);
  // forward_logits works in chunks of rows so that [rows, V] stays near 16 MB. Training steps never
  // use the fp32 slot: a training arena allocates it on the first forward_logits (logits_slot).
  logit_rows = std::clamp<int64_t>((int64_t(1) << 22) / c.vocab_size, 1, N);
  if (!training) carver.add(&logits, logit_rows * c.vocab_size);
  carver.add(&gathered, logit_rows * C, cd);
  carver.add(&ids, N, I32);
  carver.add(&labels, N, I32);
  carver.add(&positions, N, I32);
  carver.add(&segments, N, I32);
  rope_positions = std::max({max_seq, c.max_position_embeddings, max_positions});
  carver.add(&rope_cos, rope_positions * (c.head_dim / 2));
  carver.add(&rope_sin, rope_positions * (c.head_dim / 2));
  bytes = carver.total_bytes();
  if (!backend) return;
  memory = backend->allocate(bytes);
  carver.assign(memory);
  if (!per_layer)
    for (int64_t l = 1; l < L; ++l) layers[size_t(l)] = layers[0];
  if (saved_lp)
    for (int64_t l = 1; l < L; ++l) layers[size_t(l)].res_mid = layers[0].res_mid;
  for (int64_t l = residual_slots; l <= L; ++l) residual[size_t(l)] = residual[size_t(l % 2)];
  host_losses.resize(size_t(N));
  host_positions.resize(size_t(N));
}

Qwen3Model::Arena::~Arena() {
  if (!backend) return;
  backend->deallocate(memory);
  if (logits_memory) backend->deallocate(logits_memory);
}

const ops::Buffer& Qwen3Model::Arena::logits_slot(int64_t vocab_size) {
  if (!logits.data) {
    logits_memory = backend->allocate(size_t(logit_rows * vocab_size) * sizeof(float));
    logits = {logits_memory, ops::DType::kF32};
  }
  return logits;
}

size_t Qwen3Model::estimate_activation_bytes(const Qwen3Config& config,
                                             const ModelOptions& options) {
  const int64_t max_seq = options.max_seq > 0 ? options.max_seq : config.max_position_embeddings;
  return Arena(nullptr, config, options.max_batch, max_seq, options.training,
               options.gradient_checkpointing, ops::compute_dtype(options.precision),
               options.max_positions)
      .bytes;
}

}  // namespace moai::model
