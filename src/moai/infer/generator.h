#pragma once
// The generation loop: prompt -> (reuse of the cached prefix) prefill -> sample / decode until a
// stop token, a stop string, max_new_tokens, the context limit or a cancel. Text is streamed
// through a callback in UTF-8-safe pieces with stop strings already cut off.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
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

// One request's generation as a state machine, so that a caller can run the model for several
// requests at once (the server's batched decode):
//
//   Generation g(model, session, tokenizer, prompt, options, on_text, cancel);
//   g.prefill();                                   // validates, reuses the cached prefix, prefills
//   while (!g.done()) {
//     model.forward(session.cache, {g.next_input()}, logits);   // or one row of a batched step
//     g.consume(logits);                           // samples, streams text, checks the stops
//   }
//   GenerateResult r = g.take_result();
//
// on_text(piece) receives the text as it becomes final; returning false cancels. `cancel`
// (optional) is polled between tokens (server disconnects, Ctrl-C). prefill() throws InputError
// when the prompt is empty or does not fit the context.
class Generation {
 public:
  Generation(InferenceModel& model, Session& session, const tok::Tokenizer& tokenizer,
             std::span<const uint32_t> prompt, const GenerateOptions& options,
             std::function<bool(const std::string&)> on_text = nullptr,
             const std::atomic<bool>* cancel = nullptr);
  ~Generation();
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  void prefill();
  bool done() const { return done_; }
  // The token whose logits consume() wants next; valid while !done().
  uint32_t next_input() const { return next_input_; }
  Session& session() { return session_; }
  // The logits of next_input() (it has been appended to the session's cache).
  void consume(std::span<const float> logits);
  GenerateResult take_result() { return std::move(result_); }

 private:
  struct State;
  void sample_from(std::span<const float> logits);
  void finish_stream();
  bool cancelled() const;

  InferenceModel& model_;
  Session& session_;
  const tok::Tokenizer& tokenizer_;
  std::vector<uint32_t> prompt_;
  GenerateOptions options_;
  std::function<bool(const std::string&)> on_text_;
  const std::atomic<bool>* cancel_;
  std::unique_ptr<State> state_;
  GenerateResult result_;
  bool done_ = false;
  uint32_t next_input_ = 0;
};

// The whole loop for one request (chat, generate): Generation driven with the model's own forward.
GenerateResult generate(InferenceModel& model, Session& session, const tok::Tokenizer& tokenizer,
                        std::span<const uint32_t> prompt, const GenerateOptions& options,
                        const std::function<bool(const std::string&)>& on_text = nullptr,
                        const std::atomic<bool>* cancel = nullptr);

// The default stop tokens of a tokenizer: <|im_end|>, <|endoftext|>, EOS (deduplicated).
std::vector<uint32_t> default_stop_tokens(const tok::Tokenizer& tokenizer);

}  // namespace moai::infer
