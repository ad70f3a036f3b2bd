#pragma once
// generate_until requests as lm-evaluation-harness v0.4.9.2 defines them (lm_eval/models/
// huggingface.py HFLM.generate_until / _model_generate): the context is encoded without special
// tokens and cut on the left to max_length - max_gen_toks tokens; greedy decoding (do_sample
// false, the first arg-max) through the model's KV cache for at most max_gen_toks tokens, ending
// early at the tokenizer's EOS (lm-eval's eot_token_id); the generated tokens are decoded without
// special tokens and cut at the first occurrence of each stop string in turn (`until`, to which
// lm-eval appends decode(eot)). Decoding stops as soon as the text holds a stop string: what
// follows it would be cut anyway.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "moai/eval/loglikelihood.h"
#include "moai/tokenizer/tokenizer.h"

namespace moai::eval {

struct GenerationRequest {
  std::string context;
  std::vector<std::string> until;  // stop strings; empty = only decode(eot)
  int64_t max_gen_toks = 256;      // lm-eval's default
};

struct GenerationResult {
  std::string text;             // decoded and cut at the stop strings (lm-eval's resps)
  std::vector<int32_t> tokens;  // the generated tokens (up to where decoding stopped)
};

// One result per request, in order. InputError when max_gen_toks is not below the scorer's
// max_length or a context encodes to no token.
std::vector<GenerationResult> generate_until(Scorer& scorer, const tok::Tokenizer& tokenizer,
                                             std::span<const GenerationRequest> requests);

}  // namespace moai::eval
