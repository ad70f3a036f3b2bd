#pragma once
// The generation loop: prompt -> (reuse of the cached prefix) prefill -> sample / decode until a
// stop token, a stop string, max_new_tokens, the context limit or a cancel. Text is streamed
// through a callback in UTF-8-safe pieces with stop strings already cut off.
#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "moai/infer/kv_model.h"
#include "moai/infer/sampler.h"

namespace moai::tok {
class Tokenizer;
}

namespace moai::infer {

struct GenerateOptions {
  SamplingParams sampling;
  int64_t max_new_tokens = 256;
  std::vector<std::string> stop_strings;
  // Token ids that end generation (not shown). Empty = the tokenizer's <|im_end|>, <|endoftext|>
  // and EOS.
  std::vector<uint32_t> stop_tokens;
  bool skip_special_tokens = true;  // in the returned text
};

enum class FinishReason { kStop, kLength, kCancelled };
const char* finish_reason_name(FinishReason reason);  // "stop", "length", "cancelled"

struct GenerateResult {
  std::string text;
  std::vector<uint32_t>
      tokens;  // generated ids (a stop token that ended generation is not included)
  FinishReason finish_reason = FinishReason::kLength;
  int64_t prompt_tokens = 0;
  int64_t cached_prompt_tokens =
      0;  // prompt tokens whose KV entries were reused from the last call
  double prefill_seconds = 0;
  double decode_seconds = 0;
  double decode_tokens_per_second() const;
};

// A conversation's cache plus the ids it holds, so the next prompt that starts with them only pays
// for the new tokens.
struct Session {
  explicit Session(const InferenceModel& model) : cache(model.new_cache()) {}
  KvCache cache;
  std::vector<uint32_t>
      cached;  // ids whose keys/values are in cache (cache.length() == cached.size())
  void reset() {
    cache.clear();
    cached.clear();
  }
};

// on_text(piece) receives the text as it becomes final; returning false cancels. `cancel`
// (optional) is polled between tokens (server disconnects, Ctrl-C). Throws InputError when the
// prompt is empty or does not fit the context.
GenerateResult generate(InferenceModel& model, Session& session, const tok::Tokenizer& tokenizer,
                        std::span<const uint32_t> prompt, const GenerateOptions& options,
                        const std::function<bool(const std::string&)>& on_text = nullptr,
                        const std::atomic<bool>* cancel = nullptr);

// The default stop tokens of a tokenizer: <|im_end|>, <|endoftext|>, EOS (deduplicated).
std::vector<uint32_t> default_stop_tokens(const tok::Tokenizer& tokenizer);

}  // namespace moai::infer
