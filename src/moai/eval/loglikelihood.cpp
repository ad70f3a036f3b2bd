#include "moai/eval/loglikelihood.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "moai/core/error.h"
#include "moai/eval/text_util.h"
#include "moai/ops/cpu/fast_exp.h"

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
  reuse_.reset();  // a borrowed model's weights may have changed since the last call
  for (const TokenRequest& r : requests) {
    if (r.context.empty()) throw_input_error("loglikelihood", "request without a context token");
    if (int64_t(r.continuation.size()) > max_length_)
      throw_input_error("loglikelihood",
                        "continuation of " + std::to_string(r.continuation.size()) +
                            " tokens is longer than max_length " + std::to_string(max_length_));
  }
  std::vector<PrefixGroup> groups = prefix_groups(requests);
  const int64_t row_bytes = config_.vocab_size * int64_t(sizeof(float));
  size_t begin = 0;
  while (begin < groups.size()) {
    size_t end = begin;
    int64_t rows = 0, logit_rows = 0;
    while (end < groups.size()) {
      const int64_t more = int64_t(groups[end].members.size());
      const int64_t logits = groups[end].logit_rows;
      if (end > begin && (rows + more > options_.batch_size ||
                          (logit_rows + logits) * row_bytes > options_.max_logit_bytes))
        break;
      rows += more;
      logit_rows += logits;
      ++end;
    }
    score_groups(requests, std::span<PrefixGroup>(groups).subspan(begin, end - begin), out);
    begin = end;
  }
  return out;
}

// The requests of one item (equal context tokens), at most batch_size each, longest input first
// (the harness's Collator order); `shared` is the common prefix of their input rows, cut so that
// every continuation's logits come from the suffix (a single request: its context part, which a
// later call may reuse).
std::vector<Scorer::PrefixGroup> Scorer::prefix_groups(
    std::span<const TokenRequest> requests) const {
  std::vector<PrefixGroup> groups;
  std::map<std::span<const int32_t>, size_t, SpanLess> by_context;
  for (size_t i = 0; i < requests.size(); ++i) {
    const std::span<const int32_t> context(requests[i].context);
    auto it = by_context.find(context);
    if (it == by_context.end() ||
        int64_t(groups[it->second].members.size()) >= options_.batch_size) {
      it = by_context.insert_or_assign(context, groups.size()).first;
      groups.emplace_back();
    }
    PrefixGroup& g = groups[it->second];
    Planned p;
    p.request = i;
    p.row = input_row(requests[i], max_length_);
    p.first_logit = int64_t(p.row.size()) - int64_t(requests[i].continuation.size());
    g.longest = std::max(g.longest, int64_t(p.row.size()));
    g.logit_rows += int64_t(requests[i].continuation.size());
    g.members.push_back(std::move(p));
  }
  for (PrefixGroup& g : groups) g.shared = shared_prefix(g.members);
  std::stable_sort(groups.begin(), groups.end(), [](const PrefixGroup& a, const PrefixGroup& b) {
    return a.longest > b.longest;
  });
  return groups;
}

int64_t Scorer::shared_prefix(std::span<const Planned> members) {
  int64_t shared = int64_t(members[0].row.size());
  for (const Planned& p : members) {
    shared = std::min({shared, p.first_logit, common_prefix(p.row, members[0].row)});
  }
  return std::max<int64_t>(shared, 0);
}

int64_t Scorer::common_prefix(std::span<const int32_t> a, std::span<const int32_t> b) {
  const auto mismatch = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  return int64_t(mismatch.first - a.begin());
}

// Keeps (a copy of) the first group's prefix for the next call of this loglikelihood(): the
// items of a task often share their few-shot examples (MMLU's first-n sampler: all of them).
void Scorer::keep_for_reuse(model::Qwen3Model& model, std::span<const PrefixGroup> groups,
                            std::span<const model::KvCache> prefix) {
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const PrefixGroup& g = groups[gi];
    if (g.shared == 0) continue;
    reuse_.reset();
    reuse_.emplace(fork_cache(model, prefix[gi], g.shared, g.shared));
    reuse_tokens_.assign(g.members[0].row.begin(), g.members[0].row.begin() + g.shared);
    return;
  }
}

// A cache holding the first `length` tokens of `source` (room for `capacity`).
model::KvCache Scorer::fork_cache(model::Qwen3Model& model, const model::KvCache& source,
                                  int64_t length, int64_t capacity) {
  model::KvCache cache = model.new_cache(capacity);
  if (length == 0) return cache;
  cache.reserve(length);
  for (int64_t l = 0; l < config_.num_hidden_layers; ++l) {
    model.backend().copy(cache.keys(l, 0, length), source.keys(l, 0, length));
    model.backend().copy(cache.values(l, 0, length), source.values(l, 0, length));
  }
  cache.advance(length);
  return cache;
}

// One scoring call: the shared prefix of each group runs once (one forward over all groups), then
// each request's remaining tokens run against a copy of its group's prefix cache (one forward over
// all requests), and only the continuation rows' logits are read.
// The shared prefix of each group, run once for all groups (one forward); what the previous
// call's prefix already holds is copied, not recomputed.
std::vector<model::KvCache> Scorer::run_prefixes(model::Qwen3Model& model,
                                                 std::span<const PrefixGroup> groups) {
  std::vector<model::KvCache> prefix;
  std::vector<model::CachedSegment> segments;
  ids_.clear();
  prefix.reserve(groups.size());
  for (const PrefixGroup& g : groups) {
    const std::span<const int32_t> tokens(g.members[0].row.data(), size_t(g.shared));
    const int64_t reused = reuse_ ? common_prefix(reuse_tokens_, tokens) : 0;
    prefix.push_back(reused > 0 ? fork_cache(model, *reuse_, reused, g.longest)
                                : model.new_cache(g.longest));
    if (reused == g.shared) continue;
    segments.push_back({&prefix.back(), g.shared - reused});
    ids_.insert(ids_.end(), tokens.begin() + reused, tokens.end());
  }
  if (!segments.empty()) model.forward_cached(segments, ids_, {}, nullptr);
  tokens_forwarded_ += int64_t(ids_.size());
  keep_for_reuse(model, groups, prefix);
  return prefix;
}

// One scoring call: the groups' prefixes (run_prefixes), then each request's remaining tokens
// against a copy of its group's prefix cache (one forward over all requests; the last request of
// a group takes the cache itself), reading only the continuation rows' logits.
void Scorer::score_groups(std::span<const TokenRequest> requests, std::span<PrefixGroup> groups,
                          std::span<LoglikelihoodResult> out) {
  int64_t count = 0, longest = 1;
  for (const PrefixGroup& g : groups) {
    count += int64_t(g.members.size());
    longest = std::max(longest, g.longest);
  }
  model::Qwen3Model& model = model_for(count, longest);
  std::vector<model::KvCache> prefix = run_prefixes(model, groups);
  std::vector<model::KvCache> caches;
  std::vector<model::CachedSegment> segments;
  std::vector<int32_t> targets;
  ids_.clear();
  rows_.clear();
  caches.reserve(size_t(count));
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const PrefixGroup& g = groups[gi];
    for (const Planned& p : g.members) {
      const int64_t len = int64_t(p.row.size());
      if (len == g.shared) continue;  // empty continuation: nothing to score
      caches.push_back(&p == &g.members.back()
                           ? std::move(prefix[gi])
                           : fork_cache(model, prefix[gi], g.shared, g.longest));
      segments.push_back({&caches.back(), len - g.shared});
      const int64_t base = int64_t(ids_.size()) - g.shared;
      for (int64_t t = p.first_logit; t < len; ++t) rows_.push_back(base + t);
      ids_.insert(ids_.end(), p.row.begin() + g.shared, p.row.end());
      const std::vector<int32_t>& cont = requests[p.request].continuation;
      targets.insert(targets.end(), cont.begin(), cont.end());
    }
  }
  logits_.resize(rows_.size() * size_t(config_.vocab_size));
  if (!segments.empty()) model.forward_cached(segments, ids_, rows_, logits_.data());
  tokens_forwarded_ += int64_t(ids_.size());
  score_rows(targets);
  collect_results(requests, groups, out);
}

void Scorer::collect_results(std::span<const TokenRequest> requests,
                             std::span<const PrefixGroup> groups,
                             std::span<LoglikelihoodResult> out) const {
  size_t row_idx = 0;
  for (const PrefixGroup& g : groups)
    for (const Planned& p : g.members) {
      LoglikelihoodResult res;
      res.is_greedy = true;
      for (size_t t = 0; t < requests[p.request].continuation.size(); ++t, ++row_idx) {
        res.logprob += row_logprob_[row_idx];
        if (!row_greedy_[row_idx]) res.is_greedy = false;
      }
      out[p.request] = res;
    }
}

std::vector<int32_t> Scorer::greedy(std::span<const int32_t> context, int64_t max_new,
                                    const std::function<bool(std::span<const int32_t>)>& stop) {
  const int64_t total = int64_t(context.size()) + max_new;
  model::Qwen3Model& model = model_for(1, total);
  model::KvCache cache = model.new_cache(total);
  std::vector<int32_t> generated;
  std::vector<int32_t> ids(context.begin(), context.end());
  const int64_t V = config_.vocab_size;
  logits_.resize(size_t(V));
  while (int64_t(generated.size()) < max_new) {
    const model::CachedSegment segment{&cache, int64_t(ids.size())};
    const int64_t last = int64_t(ids.size()) - 1;
    model.forward_cached({&segment, 1}, ids, {&last, 1}, logits_.data());
    tokens_forwarded_ += int64_t(ids.size());
    const int32_t next =
        int32_t(std::max_element(logits_.begin(), logits_.end()) - logits_.begin());
    generated.push_back(next);
    if (stop(generated)) break;
    ids.assign(1, next);
  }
  return generated;
}

// Each logit row independently (parallel, deterministic): log-softmax of the target (the sum of
// exponentials with ops' vectorised exp, accumulated in double) and the first arg-max, as
// torch.argmax.
void Scorer::score_rows(std::span<const int32_t> targets) {
  const int64_t V = config_.vocab_size;
  const int64_t num_rows = int64_t(targets.size());
  row_logprob_.resize(size_t(num_rows));
  row_greedy_.resize(size_t(num_rows));
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < num_rows; ++row) {
    float* x = logits_.data() + size_t(row) * size_t(V);
    int64_t arg = 0;
    for (int64_t v = 1; v < V; ++v)
      if (x[v] > x[arg]) arg = v;
    const int32_t target = targets[size_t(row)];
    const double shifted_target = double(x[target]) - double(x[arg]);
    // Vectorised exp (relative error < 3e-7, summed in double across blocks), overwriting x.
    const double sum = ops::cpu::exp_shifted_sum(x, V, x[arg]);
    row_logprob_[size_t(row)] = shifted_target - std::log(sum);
    row_greedy_[size_t(row)] = arg == target ? 1 : 0;
  }
}

}  // namespace moai::eval
