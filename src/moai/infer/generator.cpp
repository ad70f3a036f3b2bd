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

// What exists only once decoding starts.
struct Generation::State {
  State(const tok::Tokenizer& tokenizer, const GenerateOptions& options)
      : sampler(options.sampling),
        stream([&tokenizer, skip = options.skip_special_tokens](std::span<const uint32_t> ids) {
          return tokenizer.decode(ids, skip);
        }),
        stops(options.stop_strings) {}
  std::vector<uint32_t> stop_tokens;
  Sampler sampler;
  TokenTextStream stream;
  StopStringMatcher stops;
  bool keep_going = true;
  std::chrono::steady_clock::time_point decode_start;
};

Generation::Generation(InferenceModel& model, Session& session, const tok::Tokenizer& tokenizer,
                       std::span<const uint32_t> prompt, const GenerateOptions& options,
                       std::function<bool(const std::string&)> on_text,
                       const std::atomic<bool>* cancel)
    : model_(model),
      session_(session),
      tokenizer_(tokenizer),
      prompt_(prompt.begin(), prompt.end()),
      options_(options),
      on_text_(std::move(on_text)),
      cancel_(cancel) {}

Generation::~Generation() = default;

bool Generation::cancelled() const {
  return (cancel_ && cancel_->load()) || interrupt_requested();
}

void Generation::prefill() {
  if (prompt_.empty()) throw_input_error("prompt", "empty: at least one token is needed");
  const int64_t context = model_.max_context();
  if (int64_t(prompt_.size()) >= context)
    throw_input_error("prompt", std::to_string(prompt_.size()) +
                                    " tokens do not fit the context of " + std::to_string(context) +
                                    " tokens (one more is needed to generate)");
  if (options_.max_new_tokens < 0) throw_input_error("max_new_tokens", "expected a number >= 0");
  validate_sampling_params(options_.sampling);
  result_.prompt_tokens = int64_t(prompt_.size());

  // Reuse the longest cached prefix; at least the last prompt token is recomputed to get its
  // logits.
  size_t common = 0;
  while (common < session_.cached.size() && common < prompt_.size() &&
         session_.cached[common] == prompt_[common])
    ++common;
  common = std::min(common, prompt_.size() - 1);
  session_.cache.truncate(int64_t(common));
  session_.cached.resize(common);
  result_.cached_prompt_tokens = int64_t(common);

  std::vector<float> logits(size_t(model_.vocab_size()));
  const std::span<const uint32_t> prompt(prompt_);
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t begin = common; begin < prompt.size(); begin += kPrefillChunk) {
    const size_t count = std::min<size_t>(kPrefillChunk, prompt.size() - begin);
    model_.forward(session_.cache, prompt.subspan(begin, count), logits.data());
    session_.cached.insert(session_.cached.end(), prompt.begin() + begin,
                           prompt.begin() + begin + count);
    if (cancelled()) {
      result_.finish_reason = FinishReason::kCancelled;
      result_.prefill_seconds = seconds_since(t0);
      done_ = true;
      return;
    }
  }
  result_.prefill_seconds = seconds_since(t0);

  state_ = std::make_unique<State>(tokenizer_, options_);
  state_->stop_tokens =
      options_.stop_tokens.empty() ? default_stop_tokens(tokenizer_) : options_.stop_tokens;
  state_->decode_start = std::chrono::steady_clock::now();
  result_.finish_reason = FinishReason::kLength;
  if (options_.max_new_tokens == 0) {
    finish_stream();
    return;
  }
  sample_from(logits);
}

void Generation::consume(std::span<const float> logits) {
  MOAI_CHECK(!done_ && state_);
  session_.cached.push_back(next_input_);
  sample_from(logits);
}

void Generation::sample_from(std::span<const float> logits) {
  State& st = *state_;
  auto emit = [&](const std::string& piece) {
    if (piece.empty()) return;
    result_.text += piece;
    if (on_text_ && !on_text_(piece)) st.keep_going = false;
  };
  const uint32_t token = st.sampler.sample(logits, session_.cached);
  if (std::find(st.stop_tokens.begin(), st.stop_tokens.end(), token) != st.stop_tokens.end()) {
    result_.finish_reason = FinishReason::kStop;
    return finish_stream();
  }
  result_.tokens.push_back(token);
  emit(st.stops.push(st.stream.push(token)));
  if (st.stops.stopped()) {
    result_.finish_reason = FinishReason::kStop;
    return finish_stream();
  }
  if (!st.keep_going || cancelled()) {
    result_.finish_reason = FinishReason::kCancelled;
    return finish_stream();
  }
  // No logits are computed that nobody samples; a full context finishes with "length".
  if (int64_t(result_.tokens.size()) == options_.max_new_tokens ||
      session_.cache.length() + 1 > model_.max_context())
    return finish_stream();
  next_input_ = token;
}

void Generation::finish_stream() {
  State& st = *state_;
  if (result_.finish_reason != FinishReason::kCancelled && !st.stops.stopped()) {
    auto emit = [&](const std::string& piece) {
      if (piece.empty()) return;
      result_.text += piece;
      if (on_text_) on_text_(piece);
    };
    emit(st.stops.push(st.stream.flush()));
    if (!st.stops.stopped()) emit(st.stops.flush());
  }
  result_.decode_seconds = seconds_since(st.decode_start);
  done_ = true;
}

GenerateResult generate(InferenceModel& model, Session& session, const tok::Tokenizer& tokenizer,
                        std::span<const uint32_t> prompt, const GenerateOptions& options,
                        const std::function<bool(const std::string&)>& on_text,
                        const std::atomic<bool>* cancel) {
  Generation generation(model, session, tokenizer, prompt, options, on_text, cancel);
  generation.prefill();
  std::vector<float> logits(size_t(model.vocab_size()));
  while (!generation.done()) {
    const uint32_t one[1] = {generation.next_input()};
    model.forward(session.cache, one, logits.data());
    generation.consume(logits);
  }
  return generation.take_result();
}

}  // namespace moai::infer
