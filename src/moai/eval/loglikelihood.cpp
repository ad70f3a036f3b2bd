#include "moai/eval/loglikelihood.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "moai/core/error.h"
#include "moai/eval/text_util.h"

namespace moai::eval {

namespace {

std::vector<int32_t> to_ids(const std::vector<tok::TokenId>& ids) {
  return std::vector<int32_t>(ids.begin(), ids.end());
}

// The model's input row of a request: (context + continuation)[-(max_length + 1):][:-1].
std::vector<int32_t> input_row(const TokenRequest& request, int64_t max_length) {
  std::vector<int32_t> whole = request.context;
  whole.insert(whole.end(), request.continuation.begin(), request.continuation.end());
  const size_t keep = std::min<size_t>(whole.size(), size_t(max_length) + 1);
  return std::vector<int32_t>(whole.end() - ptrdiff_t(keep), whole.end() - 1);
}

int64_t input_length(const TokenRequest& request, int64_t max_length) {
  const int64_t whole = int64_t(request.context.size() + request.continuation.size());
  return std::min(whole, max_length + 1) - 1;
}

}  // namespace

TokenRequest encode_pair(const tok::Tokenizer& tokenizer, std::string_view context,
                         std::string_view continuation, int32_t prefix_token) {
  TokenRequest out;
  if (context.empty()) {
    out.continuation = to_ids(tokenizer.encode(continuation));
    if (!out.continuation.empty() && out.continuation.front() == prefix_token) {
      out.context.push_back(prefix_token);
      out.continuation.erase(out.continuation.begin());
    } else {
      out.context.push_back(prefix_token);
    }
    return out;
  }
  const std::string_view kept = py_rstrip(context);
  std::string moved(context.substr(kept.size()));
  moved.append(continuation);
  const std::string whole_text = std::string(kept) + moved;
  const std::vector<int32_t> whole = to_ids(tokenizer.encode(whole_text));
  out.context = to_ids(tokenizer.encode(kept));
  const size_t n = std::min(out.context.size(), whole.size());
  out.continuation.assign(whole.begin() + ptrdiff_t(n), whole.end());
  return out;
}

std::vector<TokenRequest> rolling_windows(std::span<const int32_t> tokens, int32_t prefix_token,
                                          int64_t max_length) {
  std::vector<TokenRequest> windows;
  if (tokens.empty()) return windows;
  if (max_length < 1) throw_input_error("max_length", "must be at least 1");
  const int64_t n = int64_t(tokens.size());
  const int64_t pred_len = max_length;  // max_seq_len - context_len + 1 with context_len = 1
  // First window: predict the first min(max_length, n) tokens from [prefix] + tokens[:k-1]; after
  // make_disjoint_window its context is just [prefix].
  const int64_t first = std::min(max_length, n);
  windows.push_back({{prefix_token}, {tokens.begin(), tokens.begin() + first}});
  int64_t predicted = first;
  while (predicted < n) {
    const int64_t window_pred_len = std::min(n - predicted, pred_len);
    const int64_t window_end = predicted + window_pred_len;
    // context tokens[window_end - max_length - 1 : window_end - 1], made disjoint: its first
    // len - (window_pred_len - 1) tokens.
    const int64_t ctx_begin = window_end - max_length - 1;
    const int64_t ctx_len = max_length - (window_pred_len - 1);
    TokenRequest w;
    w.context.assign(tokens.begin() + ctx_begin, tokens.begin() + ctx_begin + ctx_len);
    w.continuation.assign(tokens.begin() + (window_end - window_pred_len),
                          tokens.begin() + window_end);
    windows.push_back(std::move(w));
    predicted += window_pred_len;
  }
  return windows;
}

double summed_nll(model::Qwen3Model& model, const model::Batch& batch) {
  return model.forward(batch, ops::LossConfig::cross_entropy(), 1.0, false);
}

int32_t prefix_token_id(const tok::Tokenizer& tokenizer) {
  const tok::SpecialTokenIds& ids = tokenizer.special_ids();
  if (ids.bos) return int32_t(*ids.bos);
  if (ids.eos) return int32_t(*ids.eos);
  if (ids.endoftext) return int32_t(*ids.endoftext);
  throw_input_error("tokenizer", "has neither a BOS nor an EOS token (needed as the prefix token)");
}

Scorer::Scorer(const model::Qwen3Config& config, std::vector<float> host_params,
               ops::Backend& backend, const ScorerOptions& options)
    : config_(config), options_(options), backend_(&backend), host_params_(std::move(host_params)) {
  max_length_ = options.max_length > 0 ? options.max_length : config.max_position_embeddings;
  if (options_.batch_size < 1) throw_input_error("--batch_size", "must be at least 1");
}

Scorer::Scorer(model::Qwen3Model& model, const ScorerOptions& options)
    : config_(model.config()), options_(options), borrowed_(&model) {
  const int64_t model_seq =
      model.options().max_seq > 0 ? model.options().max_seq : config_.max_position_embeddings;
  max_length_ = options.max_length > 0 ? std::min(options.max_length, model_seq) : model_seq;
  options_.batch_size = std::min(options_.batch_size, model.options().max_batch);
}

Scorer::~Scorer() = default;

model::Qwen3Model& Scorer::model_for(int64_t batch, int64_t seq) {
  if (borrowed_) return *borrowed_;
  if (owned_ && owned_->options().max_batch >= batch && owned_->options().max_seq >= seq)
    return *owned_;
  model::ModelOptions mo;
  mo.max_batch = std::max<int64_t>(batch, owned_ ? owned_->options().max_batch : 0);
  mo.max_seq = std::max<int64_t>(seq, owned_ ? owned_->options().max_seq : 0);
  mo.training = false;
  mo.precision = options_.precision;
  owned_.reset();
  owned_ = std::make_unique<model::Qwen3Model>(config_, *backend_, mo);
  owned_->set_params(host_params_.data());
  return *owned_;
}

std::vector<LoglikelihoodResult> Scorer::loglikelihood(std::span<const TokenRequest> requests) {
  std::vector<LoglikelihoodResult> out(requests.size());
  // Longest input first (the harness's Collator order), so each group pads little.
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), size_t(0));
  for (const TokenRequest& r : requests) {
    if (r.context.empty() && r.continuation.empty())
      throw_input_error("loglikelihood", "empty request");
    if (int64_t(r.continuation.size()) > max_length_)
      throw_input_error("loglikelihood",
                        "continuation of " + std::to_string(r.continuation.size()) +
                            " tokens is longer than max_length " + std::to_string(max_length_));
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return input_length(requests[a], max_length_) > input_length(requests[b], max_length_);
  });
  const int64_t row_bytes = config_.vocab_size * int64_t(sizeof(float));
  size_t begin = 0;
  while (begin < order.size()) {
    size_t end = begin;
    int64_t logit_rows = 0;
    while (end < order.size() && int64_t(end - begin) < options_.batch_size) {
      const int64_t rows = int64_t(requests[order[end]].continuation.size());
      if (end > begin && (logit_rows + rows) * row_bytes > options_.max_logit_bytes) break;
      logit_rows += rows;
      ++end;
    }
    score_group(requests, std::span<const size_t>(order).subspan(begin, end - begin), out);
    begin = end;
  }
  return out;
}

void Scorer::score_group(std::span<const TokenRequest> requests, std::span<const size_t> group,
                         std::span<LoglikelihoodResult> out) {
  const int64_t batch = int64_t(group.size());
  int64_t seq = 1;  // a request whose input is empty still gets a (padding) position
  for (size_t idx : group) seq = std::max(seq, input_length(requests[idx], max_length_));
  model::Qwen3Model& model = model_for(batch, seq);
  ids_.assign(size_t(batch * seq), 0);
  rows_.clear();
  for (int64_t b = 0; b < batch; ++b) {
    const TokenRequest& r = requests[group[size_t(b)]];
    const std::vector<int32_t> row = input_row(r, max_length_);
    std::copy(row.begin(), row.end(), ids_.begin() + b * seq);
    const int64_t len = int64_t(row.size());
    const int64_t cont = int64_t(r.continuation.size());
    // Logits at positions len-cont .. len-1 predict the continuation tokens.
    for (int64_t t = len - cont; t < len; ++t) rows_.push_back(b * seq + t);
  }
  model::Batch mb;
  mb.batch = batch;
  mb.seq = seq;
  mb.input_ids = ids_;
  const int64_t V = config_.vocab_size;
  logits_.resize(rows_.size() * size_t(V));
  if (!rows_.empty()) model.forward_logits(mb, rows_, logits_.data());
  // Each logit row independently (parallel, deterministic): log-softmax of the target in double
  // and the first arg-max, as torch.argmax.
  const int64_t num_rows = int64_t(rows_.size());
  row_logprob_.resize(size_t(num_rows));
  row_greedy_.resize(size_t(num_rows));
  std::vector<int32_t> targets;
  targets.reserve(size_t(num_rows));
  for (size_t idx : group)
    targets.insert(targets.end(), requests[idx].continuation.begin(),
                   requests[idx].continuation.end());
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < num_rows; ++row) {
    const float* x = logits_.data() + size_t(row) * size_t(V);
    int64_t arg = 0;
    for (int64_t v = 1; v < V; ++v)
      if (x[v] > x[arg]) arg = v;
    const double mx = x[arg];
    double sum = 0.0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(double(x[v]) - mx);
    const int32_t target = targets[size_t(row)];
    row_logprob_[size_t(row)] = double(x[target]) - mx - std::log(sum);
    row_greedy_[size_t(row)] = arg == target ? 1 : 0;
  }
  size_t row_idx = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const TokenRequest& r = requests[group[size_t(b)]];
    LoglikelihoodResult res;
    res.is_greedy = true;
    for (size_t t = 0; t < r.continuation.size(); ++t, ++row_idx) {
      res.logprob += row_logprob_[row_idx];
      if (!row_greedy_[row_idx]) res.is_greedy = false;
    }
    out[group[size_t(b)]] = res;
  }
}

}  // namespace moai::eval
