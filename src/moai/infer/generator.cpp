#include "moai/infer/generator.h"

#include <algorithm>
#include <chrono>

#include "moai/core/error.h"
#include "moai/core/interrupt.h"
#include "moai/infer/text_stream.h"
#include "moai/tokenizer/tokenizer.h"

namespace moai::infer {
namespace {
double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
constexpr int64_t kPrefillChunk = 512;  // bounds the scratch memory of long prompts
}  // namespace

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kCancelled:
      return "cancelled";
  }
  return "?";
}

double GenerateResult::decode_tokens_per_second() const {
  return decode_seconds > 0 ? double(tokens.size()) / decode_seconds : 0.0;
}

std::vector<uint32_t> default_stop_tokens(const tok::Tokenizer& tokenizer) {
  std::vector<uint32_t> out;
  const auto& s = tokenizer.special_ids();
  for (const auto& id : {s.im_end, s.endoftext, s.eos})
    if (id && std::find(out.begin(), out.end(), *id) == out.end()) out.push_back(*id);
  return out;
}

GenerateResult generate(InferenceModel& model, Session& session, const tok::Tokenizer& tokenizer,
                        std::span<const uint32_t> prompt, const GenerateOptions& options,
                        const std::function<bool(const std::string&)>& on_text,
                        const std::atomic<bool>* cancel) {
  if (prompt.empty()) throw_input_error("prompt", "empty: at least one token is needed");
  const int64_t context = model.max_context();
  if (int64_t(prompt.size()) >= context)
    throw_input_error("prompt", std::to_string(prompt.size()) +
                                    " tokens do not fit the context of " + std::to_string(context) +
                                    " tokens (one more is needed to generate)");
  if (options.max_new_tokens < 0) throw_input_error("max_new_tokens", "expected a number >= 0");
  validate_sampling_params(options.sampling);

  GenerateResult result;
  result.prompt_tokens = int64_t(prompt.size());
  auto cancelled = [&] { return (cancel && cancel->load()) || interrupt_requested(); };

  // Reuse the longest cached prefix; at least the last prompt token is recomputed to get its
  // logits.
  size_t common = 0;
  while (common < session.cached.size() && common < prompt.size() &&
         session.cached[common] == prompt[common])
    ++common;
  common = std::min(common, prompt.size() - 1);
  session.cache.truncate(int64_t(common));
  session.cached.resize(common);
  result.cached_prompt_tokens = int64_t(common);

  std::vector<float> logits(size_t(model.vocab_size()));
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t begin = common; begin < prompt.size(); begin += kPrefillChunk) {
    const size_t count = std::min<size_t>(kPrefillChunk, prompt.size() - begin);
    model.forward(session.cache, prompt.subspan(begin, count), logits.data());
    session.cached.insert(session.cached.end(), prompt.begin() + begin,
                          prompt.begin() + begin + count);
    if (cancelled()) {
      result.finish_reason = FinishReason::kCancelled;
      result.prefill_seconds = seconds_since(t0);
      return result;
    }
  }
  result.prefill_seconds = seconds_since(t0);

  const std::vector<uint32_t> stop_tokens =
      options.stop_tokens.empty() ? default_stop_tokens(tokenizer) : options.stop_tokens;
  Sampler sampler(options.sampling);
  TokenTextStream stream([&](std::span<const uint32_t> ids) {
    return tokenizer.decode(ids, options.skip_special_tokens);
  });
  StopStringMatcher stops(options.stop_strings);
  bool keep_going = true;
  auto emit = [&](const std::string& piece) {
    if (piece.empty()) return;
    result.text += piece;
    if (on_text && !on_text(piece)) keep_going = false;
  };

  const auto t1 = std::chrono::steady_clock::now();
  result.finish_reason = FinishReason::kLength;
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    const uint32_t token = sampler.sample(logits, session.cached);
    if (std::find(stop_tokens.begin(), stop_tokens.end(), token) != stop_tokens.end()) {
      result.finish_reason = FinishReason::kStop;
      break;
    }
    result.tokens.push_back(token);
    emit(stops.push(stream.push(token)));
    if (stops.stopped()) {
      result.finish_reason = FinishReason::kStop;
      break;
    }
    if (!keep_going || cancelled()) {
      result.finish_reason = FinishReason::kCancelled;
      break;
    }
    if (step + 1 == options.max_new_tokens) break;    // no need to compute logits nobody samples
    if (session.cache.length() + 1 > context) break;  // context full: finish with "length"
    const uint32_t one[1] = {token};
    model.forward(session.cache, one, logits.data());
    session.cached.push_back(token);
  }
  if (result.finish_reason != FinishReason::kCancelled && !stops.stopped()) {
    emit(stops.push(stream.flush()));
    if (!stops.stopped()) emit(stops.flush());
  }
  result.decode_seconds = seconds_since(t1);
  return result;
}

}  // namespace moai::infer
