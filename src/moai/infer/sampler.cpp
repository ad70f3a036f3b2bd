#include "moai/infer/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "moai/core/error.h"

namespace moai::infer {

void validate_sampling_params(const SamplingParams& p, const std::string& where) {
  auto bad = [&](const std::string& field, const std::string& what) {
    throw_input_error(where + ": " + field, what);
  };
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f)
    bad("temperature", "expected a number >= 0");
  if (p.top_k < 0) bad("top_k", "expected an integer >= 0 (0 disables it)");
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) bad("top_p", "expected a number in (0, 1]");
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) bad("min_p", "expected a number in [0, 1]");
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty))
    bad("repetition_penalty", "expected a number > 0 (1 disables it)");
  if (!std::isfinite(p.presence_penalty) || std::fabs(p.presence_penalty) > 2.0f)
    bad("presence_penalty", "expected a number in [-2, 2]");
  if (!std::isfinite(p.frequency_penalty) || std::fabs(p.frequency_penalty) > 2.0f)
    bad("frequency_penalty", "expected a number in [-2, 2]");
}

namespace {
uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}
}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : state_) s = splitmix64(seed);
}

uint64_t Rng::next_u64() {
  const uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

double Rng::next_double() {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

namespace {
// The first index of the largest value (values[i] > values[best] over i ascending).
uint32_t argmax_plain(std::span<const float> values) {
  uint32_t best = 0;
  for (uint32_t i = 1; i < values.size(); ++i)
    if (values[i] > values[best]) best = i;
  return best;
}
}  // namespace

uint32_t argmax(std::span<const float> values) {
  MOAI_CHECK(!values.empty());
  // Two vectorised passes (the greedy pick reads a vocabulary-sized row every token): the largest
  // value, then the first index holding it, i.e. the plain loop's answer (-0 and +0 tie as there).
  // A NaN makes the order partial, so such a row takes the plain loop.
  const float* data = values.data();
  const size_t size = values.size();
  float largest = data[0];
  bool nan = false;
#pragma omp simd reduction(max : largest) reduction(| : nan)
  for (size_t i = 0; i < size; ++i) {
    largest = std::max(largest, data[i]);
    nan |= std::isnan(data[i]);
  }
  if (nan) return argmax_plain(values);
  constexpr size_t kBlock = 64;
  for (size_t begin = 0; begin < size; begin += kBlock) {
    const size_t end = std::min(size, begin + kBlock);
    bool found = false;
#pragma omp simd reduction(| : found)
    for (size_t i = begin; i < end; ++i) found |= data[i] == largest;
    if (found)
      for (size_t i = begin; i < end; ++i)
        if (data[i] == largest) return uint32_t(i);
  }
  return 0;  // not reached: largest is one of the values
}

void apply_penalties(std::span<float> logits, std::span<const uint32_t> history, float repetition,
                     float presence, float frequency) {
  if (repetition == 1.0f && presence == 0.0f && frequency == 0.0f) return;
  // Count occurrences; a small sorted copy keeps this O(n log n) without a vocab-sized scratch
  // array.
  std::vector<uint32_t> sorted(history.begin(), history.end());
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    const uint32_t id = sorted[i];
    if (id < logits.size()) {
      float& v = logits[id];
      if (repetition != 1.0f) v = v > 0.0f ? v / repetition : v * repetition;
      v -= presence + frequency * static_cast<float>(j - i);
    }
    i = j;
  }
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {
  validate_sampling_params(params_);
}

uint32_t Sampler::sample(std::span<const float> logits, std::span<const uint32_t> history) {
  const size_t vocab = logits.size();
  MOAI_CHECK(vocab > 0);
  work_.assign(logits.begin(), logits.end());
  apply_penalties(work_, history, params_.repetition_penalty, params_.presence_penalty,
                  params_.frequency_penalty);
  if (params_.temperature == 0.0f || params_.top_k == 1) return argmax(work_);

  const float inv_t = 1.0f / params_.temperature;
  float max_logit = -std::numeric_limits<float>::infinity();
  for (float& v : work_) {
    v *= inv_t;
    max_logit = std::max(max_logit, v);
  }
  // Better logit first; the lower id wins ties so the order (and the draw) never depends on the
  // sort.
  auto better = [&](uint32_t a, uint32_t b) {
    return work_[a] > work_[b] || (work_[a] == work_[b] && a < b);
  };
  order_.resize(vocab);
  for (uint32_t i = 0; i < vocab; ++i) order_[i] = i;

  const size_t pool = params_.top_k > 0 ? std::min<size_t>(params_.top_k, vocab) : vocab;
  double z = 0.0;  // softmax normaliser over the pool
  size_t sorted = 0;
  if (pool < vocab) {
    std::partial_sort(order_.begin(), order_.begin() + pool, order_.end(), better);
    sorted = pool;
    for (size_t i = 0; i < pool; ++i)
      z += std::exp(static_cast<double>(work_[order_[i]] - max_logit));
  } else {
    for (float v : work_) z += std::exp(static_cast<double>(v - max_logit));
  }

  const double p_max = 1.0 / z;  // the best token's probability: exp(0) / z
  const double min_keep = params_.min_p * p_max;
  if (params_.top_p >= 1.0f) {
    // No nucleus: every pool token with p >= min_keep is a candidate, so no ordering is needed and
    // the draw walks the pool in id order (the common default, and 150k-token sorts are not free).
    if (pool < vocab) std::sort(order_.begin(), order_.begin() + pool);
    double total = 0.0;
    for (size_t i = 0; i < pool; ++i) {
      const double p = std::exp(static_cast<double>(work_[order_[i]] - max_logit)) / z;
      if (p >= min_keep) total += p;
    }
    const double r = rng_.next_double() * total;
    double acc = 0.0;
    uint32_t last = order_[0];
    for (size_t i = 0; i < pool; ++i) {
      const double p = std::exp(static_cast<double>(work_[order_[i]] - max_logit)) / z;
      if (p < min_keep) continue;
      acc += p;
      last = order_[i];
      if (r < acc) return last;
    }
    return last;
  }

  // Walk candidates best first, sorting lazily in growing blocks: nucleus sampling usually needs
  // only a few dozen of the 150k tokens in order.
  double cumulative = 0.0;
  size_t kept = 0;
  size_t block = 64;
  while (kept < pool) {
    if (kept == sorted) {
      const size_t end = std::min(pool, sorted + block);
      std::partial_sort(order_.begin() + sorted, order_.begin() + end, order_.begin() + pool,
                        better);
      sorted = end;
      block *= 4;
    }
    const double p = std::exp(static_cast<double>(work_[order_[kept]] - max_logit)) / z;
    if (kept > 0 && p < min_keep) break;
    cumulative += p;
    ++kept;
    if (cumulative >= params_.top_p) break;
  }
  const double r = rng_.next_double() * cumulative;
  double acc = 0.0;
  for (size_t i = 0; i < kept; ++i) {
    acc += std::exp(static_cast<double>(work_[order_[i]] - max_logit)) / z;
    if (r < acc) return order_[i];
  }
  return order_[kept - 1];
}

}  // namespace moai::infer
