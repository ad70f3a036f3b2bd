// Array conversions between fp32 and bf16, dispatched at run time on AVX512-BF16.
#include "moai/ops/cpu/bf16.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>

namespace moai::ops::cpu {

#define MOAI_TARGET_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

void to_bf16_portable(bf16* dst, const float* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = to_bf16(src[i]);
}

void to_float_portable(float* dst, const bf16* src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = to_f32(src[i]);
}

namespace {

// 16 bf16 -> 16 fp32 (a shift into the upper half). The maskz forms avoid GCC 12's false
// "may be used uninitialized" warning on the unmasked intrinsics.
MOAI_TARGET_BF16 inline __m512 widen16(__m256i half) {
  return _mm512_castsi512_ps(
      _mm512_maskz_slli_epi32(0xFFFF, _mm512_maskz_cvtepu16_epi32(0xFFFF, half), 16));
}

MOAI_TARGET_BF16 void to_bf16_avx512(bf16* dst, const float* src, int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 lo = _mm512_loadu_ps(src + i), hi = _mm512_loadu_ps(src + i + 16);
    _mm512_storeu_si512(dst + i, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
  }
  if (i < n) {
    const int64_t rest = n - i;
    const __mmask16 m0 = __mmask16(rest >= 16 ? 0xFFFF : (1u << rest) - 1);
    const __mmask16 m1 = __mmask16(rest > 16 ? (1u << (rest - 16)) - 1 : 0);
    const __m512 lo = _mm512_maskz_loadu_ps(m0, src + i),
                 hi = _mm512_maskz_loadu_ps(m1, src + i + 16);
    const __mmask32 mask = __mmask32(rest >= 32 ? ~0u : (1u << rest) - 1);
    _mm512_mask_storeu_epi16(dst + i, mask, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
  }
}

MOAI_TARGET_BF16 void to_float_avx512(float* dst, const bf16* src, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm512_storeu_ps(dst + i, widen16(half));
  }
  if (i < n) {
    const __mmask16 mask = __mmask16((1u << (n - i)) - 1);
    const __m256i half = _mm256_maskz_loadu_epi16(mask, src + i);
    _mm512_mask_storeu_ps(dst + i, mask, widen16(half));
  }
}

}  // namespace

void to_bf16(bf16* dst, const float* src, int64_t n) {
  if (cpu_has_avx512_bf16())
    to_bf16_avx512(dst, src, n);
  else
    to_bf16_portable(dst, src, n);
}

void to_float(float* dst, const bf16* src, int64_t n) {
  if (cpu_has_avx512_bf16())
    to_float_avx512(dst, src, n);
  else
    to_float_portable(dst, src, n);
}

namespace {
constexpr int64_t kParallelChunk = int64_t(1) << 16;
}  // namespace

void to_bf16_parallel(bf16* dst, const float* src, int64_t n) {
  const int64_t chunks = (n + kParallelChunk - 1) / kParallelChunk;
#pragma omp parallel for schedule(static) if (chunks > 1 && !omp_in_parallel())
  for (int64_t i = 0; i < chunks; ++i)
    to_bf16(dst + i * kParallelChunk, src + i * kParallelChunk,
            std::min(kParallelChunk, n - i * kParallelChunk));
}

void to_float_parallel(float* dst, const bf16* src, int64_t n) {
  const int64_t chunks = (n + kParallelChunk - 1) / kParallelChunk;
#pragma omp parallel for schedule(static) if (chunks > 1 && !omp_in_parallel())
  for (int64_t i = 0; i < chunks; ++i)
    to_float(dst + i * kParallelChunk, src + i * kParallelChunk,
             std::min(kParallelChunk, n - i * kParallelChunk));
}

}  // namespace moai::ops::cpu
