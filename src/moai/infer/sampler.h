#pragma once
// Next-token sampling: repetition / presence / frequency penalties, then greedy or temperature
// sampling restricted by top-k, top-p (nucleus) and min-p. A Sampler owns its random generator, so
// the same seed, logits and history always give the same token on every platform (the generator and
// the uniform draw are ours, not std::*_distribution, whose output is implementation-defined).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace moai::infer {

struct SamplingParams {
  float temperature = 1.0f;         // 0 = greedy (argmax, lowest id wins ties)
  int top_k = 0;                    // 0 = off
  float top_p = 1.0f;               // 1 = off
  float min_p = 0.0f;               // 0 = off; keeps tokens with p >= min_p * p_max
  float repetition_penalty = 1.0f;  // HF/CTRL style: positive logits divided, negative multiplied
  float presence_penalty = 0.0f;    // OpenAI style: minus this once for every token already seen
  float frequency_penalty = 0.0f;   // OpenAI style: minus this times the token's count
  uint64_t seed = 0;
};

// Throws InputError "<where>: <field>: ..." when a value is out of range (e.g. top_p not in (0,
// 1]).
void validate_sampling_params(const SamplingParams& params, const std::string& where = "sampling");

// Deterministic 64-bit generator (xoshiro256**, seeded through splitmix64).
class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t next_u64();
  double next_double();  // uniform in [0, 1) with 53 random bits

 private:
  uint64_t state_[4];
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);

  // Picks the next token from raw logits (not modified). `history` holds the tokens the penalties
  // look at (moai passes prompt + generated so far).
  uint32_t sample(std::span<const float> logits, std::span<const uint32_t> history);

  const SamplingParams& params() const { return params_; }

 private:
  SamplingParams params_;
  Rng rng_;
  std::vector<float> work_;      // penalised logits
  std::vector<uint32_t> order_;  // candidate ids, best first
};

// Applies the three penalties in place (exposed for tests).
void apply_penalties(std::span<float> logits, std::span<const uint32_t> history, float repetition,
                     float presence, float frequency);

// Index of the largest value; the lowest index wins ties.
uint32_t argmax(std::span<const float> values);

}  // namespace moai::infer
