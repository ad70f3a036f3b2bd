#pragma once
// exp for the softmax of the fused classifier: the loss evaluates V exponentials per token (32,000 x tokens),
// which with std::exp (a libm call the compiler cannot vectorise) costs a sizeable part of a training step.
// This is a branch-free Cody-Waite reduction x = k*ln2 + r, |r| <= ln2/2, a degree-7 Taylor polynomial
// (relative error < 1e-7 on that interval, below float's 6e-8 rounding after the final multiply by 2^k) and
// 2^k built from the exponent bits, written so GCC vectorises it with AVX2/FMA.
#include <bit>
#include <cstdint>

namespace moai::ops::cpu {

inline float exp_nonpositive(float x) {
  // Inputs here are logit - max <= 0; below -87.3 the true value is under float's normal range: return 0.
  const bool underflow = x < -87.3f;
  x = underflow ? -87.3f : x;
  // Round to nearest with the 1.5 * 2^23 trick (vectorises, unlike roundf).
  const float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  // ln2 split in a high part exact in float and a low correction (Cody-Waite).
  const float r = (x - k * 0.693145751953125f) - k * 1.42860682030941723212e-6f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(k) + 127) << 23;
  const float scale = std::bit_cast<float>(bits);
  return underflow ? 0.0f : p * scale;
}

// x[i] <- exp(x[i] - shift); returns the sum, accumulated in float within blocks of 256 and in double across.
inline double exp_shifted_sum(float* x, int64_t n, float shift) {
  double total = 0;
  for (int64_t begin = 0; begin < n; begin += 256) {
    const int64_t end = begin + 256 < n ? begin + 256 : n;
    float block = 0;
#pragma omp simd reduction(+ : block)
    for (int64_t i = begin; i < end; ++i) {
      const float e = exp_nonpositive(x[i] - shift);
      x[i] = e;
      block += e;
    }
    total += block;
  }
  return total;
}

}  // namespace moai::ops::cpu
