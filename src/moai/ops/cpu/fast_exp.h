#pragma once
// exp for softmaxes: the loss evaluates V exponentials per token (32,000 x tokens) and attention T
// per query, which with std::exp (a libm call the compiler cannot vectorise) costs a sizeable part
// of a training step. Cody-Waite reduction x = k*ln2 + r, |r| <= ln2/2, a degree-7 Taylor
// polynomial (relative error < 3e-7, tested against libm) and 2^k built from the exponent bits;
// AVX2+FMA intrinsics 8 lanes at a time, the same formula in scalar code for the tail and for other
// CPUs.
#include <bit>
#include <cstdint>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace moai::ops::cpu {

namespace exp_constants {
inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2High =
    0.693145751953125f;  // exact in float: k * kLn2High has no rounding
inline constexpr float kLn2Low = 1.42860682030941723212e-6f;
inline constexpr float kMin = -87.3f;  // below: the result is under float's normal range; return 0
}  // namespace exp_constants

// exp(x) for x <= ~0 (inputs are logit - max). -inf and anything below -87.3 give 0.
inline float exp_nonpositive(float x) {
  using namespace exp_constants;
  if (!(x >= kMin)) return 0.0f;
  const float k = __builtin_rintf(x * kLog2e);
  const float r = (x - k * kLn2High) - k * kLn2Low;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p * std::bit_cast<float>((static_cast<int32_t>(k) + 127) << 23);
}

#if defined(__AVX2__) && defined(__FMA__)
inline __m256 exp_nonpositive8(__m256 x) {
  using namespace exp_constants;
  const __m256 min = _mm256_set1_ps(kMin);
  const __m256 keep = _mm256_cmp_ps(x, min, _CMP_GE_OQ);  // false for NaN/-inf/too small
  x = _mm256_max_ps(x, min);
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(kLn2High), x);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(kLn2Low), r);
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i bits =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_and_ps(keep, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
}
#endif

// x[i] <- exp(x[i] - shift); returns the sum, accumulated in float within blocks of 256 and in
// double across blocks (fixed order: deterministic).
inline double exp_shifted_sum(float* x, int64_t n, float shift) {
  double total = 0;
  for (int64_t begin = 0; begin < n; begin += 256) {
    const int64_t end = begin + 256 < n ? begin + 256 : n;
    int64_t i = begin;
    float block = 0;
#if defined(__AVX2__) && defined(__FMA__)
    __m256 acc = _mm256_setzero_ps();
    const __m256 shift8 = _mm256_set1_ps(shift);
    for (; i + 8 <= end; i += 8) {
      const __m256 e = exp_nonpositive8(_mm256_sub_ps(_mm256_loadu_ps(x + i), shift8));
      _mm256_storeu_ps(x + i, e);
      acc = _mm256_add_ps(acc, e);
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, acc);
    for (float lane : lanes) block += lane;
#endif
    for (; i < end; ++i) {
      const float e = exp_nonpositive(x[i] - shift);
      x[i] = e;
      block += e;
    }
    total += double(block);
  }
  return total;
}

}  // namespace moai::ops::cpu
