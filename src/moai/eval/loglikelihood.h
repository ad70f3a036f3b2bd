#pragma once
// Log-likelihood scoring with lm-evaluation-harness semantics (v0.4.9.2, lm_eval/api/model.py
// TemplateLM.loglikelihood / _encode_pair, lm_eval/models/huggingface.py HFLM
// _loglikelihood_tokens / loglikelihood_rolling, lm_eval/utils.py get_rolling_token_windows /
// make_disjoint_window).
//
// A request is (context tokens, continuation tokens). The model reads
// (context + continuation)[-(max_length + 1):][:-1] and the result is the sum over continuation
// tokens of log p(token | everything before it), plus whether every continuation token is the
// arg-max of its logits (is_greedy). The requests of one item (equal context tokens) share the
// prefix of their input rows: it runs through the model once into a KV cache, and each request's
// remaining tokens run against a copy of that cache (Qwen3Model::forward_cached), so the context
// is computed once per item, not once per choice. Where the left cut to max_length makes the rows
// differ, only their common prefix is shared.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "moai/model/qwen3_model.h"
#include "moai/tokenizer/tokenizer.h"

namespace moai::eval {

struct TokenRequest {
  std::vector<int32_t> context;
  std::vector<int32_t> continuation;
};

struct LoglikelihoodResult {
  double logprob = 0.0;
  bool is_greedy = false;
};

// The harness's _encode_pair for a decoder-only model: trailing whitespace of the context
// (Python str.rstrip) moves to the front of the continuation; whole = encode(context +
// continuation), context = encode(context), continuation = whole[len(context):]. No special tokens
// are added. An empty context becomes [prefix_token] (TemplateLM.loglikelihood), or the first
// continuation token when that already is the prefix token.
TokenRequest encode_pair(const tok::Tokenizer& tokenizer, std::string_view context,
                         std::string_view continuation, int32_t prefix_token);

// get_rolling_token_windows(tokens, prefix_token, max_length, context_len=1) followed by
// make_disjoint_window: disjoint windows whose continuations cover every token exactly once; the
// first window's context is [prefix_token]. Empty tokens give no window.
std::vector<TokenRequest> rolling_windows(std::span<const int32_t> tokens, int32_t prefix_token,
                                          int64_t max_length);

// Summed next-token negative log-likelihood of a labelled batch (labels -100 ignored), in nats:
// the trainer's held-out loss. Same forward and classifier as training, so the numbers are the
// ones model.forward reports.
double summed_nll(model::Qwen3Model& model, const model::Batch& batch);

// The prefix token of HFLM.prefix_token_id: BOS when the tokenizer has one, else EOS as
// tokenizer_config.json names it (Qwen3 base: <|endoftext|>; Qwen3 chat: <|im_end|>). InputError
// when the tokenizer has neither.
int32_t prefix_token_id(const tok::Tokenizer& tokenizer);

struct ScorerOptions {
  int64_t batch_size = 8;  // rows (requests) per forward
  int64_t max_length = 0;  // 0 = config.max_position_embeddings (HFLM.max_length)
  int64_t max_logit_bytes = int64_t(256) << 20;      // caps rows * vocab * 4 of one forward
  ops::Precision precision = ops::Precision::kFp32;  // of the model the Scorer owns
};

class Scorer {
 public:
  // Owns a model built from config + host parameters, sized on demand (grow only) to the largest
  // group seen, so a short task never allocates the arena of a full context window.
  Scorer(const model::Qwen3Config& config, std::vector<float> host_params, ops::Backend& backend,
         const ScorerOptions& options);
  // Borrows an existing model (the trainer's); groups never exceed its max_batch / max_seq.
  Scorer(model::Qwen3Model& model, const ScorerOptions& options);
  ~Scorer();

  int64_t max_length() const { return max_length_; }
  int64_t vocab_size() const { return config_.vocab_size; }

  // One result per request, in request order.
  std::vector<LoglikelihoodResult> loglikelihood(std::span<const TokenRequest> requests);
  // Greedy decoding through a KV cache: appends the first arg-max token after `context` until
  // `max_new` tokens or stop(generated so far) returns true; returns the generated tokens.
  std::vector<int32_t> greedy(std::span<const int32_t> context, int64_t max_new,
                              const std::function<bool(std::span<const int32_t>)>& stop);
  // Tokens run through the model so far (shared prefixes count once).
  int64_t tokens_forwarded() const { return tokens_forwarded_; }

 private:
  // A request's model input row and the row position whose logits predict its continuation[0].
  struct Planned {
    size_t request = 0;
    std::vector<int32_t> row;
    int64_t first_logit = 0;
  };
  struct PrefixGroup {
    std::vector<Planned> members;
    int64_t shared = 0;   // tokens of the common prefix run once
    int64_t longest = 0;  // longest input row
    int64_t logit_rows = 0;
  };
  struct SpanLess {
    bool operator()(std::span<const int32_t> a, std::span<const int32_t> b) const {
      return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
    }
  };
  model::Qwen3Model& model_for(int64_t batch, int64_t seq);
  std::vector<PrefixGroup> prefix_groups(std::span<const TokenRequest> requests) const;
  static int64_t shared_prefix(std::span<const Planned> members);
  static int64_t common_prefix(std::span<const int32_t> a, std::span<const int32_t> b);
  void keep_for_reuse(model::Qwen3Model& model, std::span<const PrefixGroup> groups,
                      std::span<const model::KvCache> prefix);
  model::KvCache fork_cache(model::Qwen3Model& model, const model::KvCache& source, int64_t length,
                            int64_t capacity);
  void score_groups(std::span<const TokenRequest> requests, std::span<PrefixGroup> groups,
                    std::span<LoglikelihoodResult> out);
  std::vector<model::KvCache> run_prefixes(model::Qwen3Model& model,
                                           std::span<const PrefixGroup> groups);
  void collect_results(std::span<const TokenRequest> requests, std::span<const PrefixGroup> groups,
                       std::span<LoglikelihoodResult> out) const;
  void score_rows(std::span<const int32_t> targets);

  model::Qwen3Config config_;
  ScorerOptions options_;
  int64_t max_length_ = 0;
  int64_t tokens_forwarded_ = 0;
  std::optional<model::KvCache> reuse_;  // the last call's first shared prefix, for the next call
  std::vector<int32_t> reuse_tokens_;
  ops::Backend* backend_ = nullptr;
  std::vector<float> host_params_;            // owned mode only
  std::unique_ptr<model::Qwen3Model> owned_;  // owned mode: current model
  model::Qwen3Model* borrowed_ = nullptr;     // borrowed mode
  std::vector<int32_t> ids_;                  // group scratch
  std::vector<int64_t> rows_;
  std::vector<float> logits_;
  std::vector<double> row_logprob_;
  std::vector<uint8_t> row_greedy_;
};

}  // namespace moai::eval
