#include "moai/eval/generation.h"

#include "moai/core/error.h"

namespace moai::eval {

namespace {

int32_t eot_token_id(const tok::Tokenizer& tokenizer) {
  const tok::SpecialTokenIds& ids = tokenizer.special_ids();
  if (ids.eos) return int32_t(*ids.eos);
  if (ids.endoftext) return int32_t(*ids.endoftext);
  throw_input_error("tokenizer", "has no EOS token (generate_until stops on it)");
}

std::string decode(const tok::Tokenizer& tokenizer, std::span<const int32_t> ids) {
  const std::vector<tok::TokenId> tokens(ids.begin(), ids.end());
  return tokenizer.decode(tokens, /*skip_special_tokens=*/true);
}

// s.split(term)[0] for each non-empty term, in order.
std::string cut_at_stops(std::string text, std::span<const std::string> stops) {
  for (const std::string& term : stops) {
    if (term.empty()) continue;
    const size_t at = text.find(term);
    if (at != std::string::npos) text.resize(at);
  }
  return text;
}

bool holds_stop(const std::string& text, std::span<const std::string> stops) {
  for (const std::string& term : stops)
    if (!term.empty() && text.find(term) != std::string::npos) return true;
  return false;
}

}  // namespace

std::vector<GenerationResult> generate_until(Scorer& scorer, const tok::Tokenizer& tokenizer,
                                             std::span<const GenerationRequest> requests) {
  const int32_t eot = eot_token_id(tokenizer);
  const std::vector<tok::TokenId> eot_ids = {tok::TokenId(eot)};
  std::vector<GenerationResult> out;
  out.reserve(requests.size());
  for (const GenerationRequest& r : requests) {
    if (r.max_gen_toks < 1 || r.max_gen_toks >= scorer.max_length())
      throw_input_error("max_gen_toks", std::to_string(r.max_gen_toks) +
                                            " must be in [1, max_length " +
                                            std::to_string(scorer.max_length()) + ")");
    std::vector<std::string> stops = r.until;
    stops.push_back(tokenizer.decode(eot_ids, /*skip_special_tokens=*/false));
    const std::vector<tok::TokenId> enc = tokenizer.encode(r.context);
    if (enc.empty()) throw_input_error("generate_until", "context encodes to no token");
    const size_t keep = std::min(enc.size(), size_t(scorer.max_length() - r.max_gen_toks));
    const std::vector<int32_t> context(enc.end() - ptrdiff_t(keep), enc.end());
    GenerationResult g;
    g.tokens = scorer.greedy(context, r.max_gen_toks, [&](std::span<const int32_t> generated) {
      return generated.back() == eot || holds_stop(decode(tokenizer, generated), stops);
    });
    g.text = cut_at_stops(decode(tokenizer, g.tokens), stops);
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace moai::eval
