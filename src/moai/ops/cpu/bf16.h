#pragma once
// bfloat16 on the CPU: the storage type, scalar conversions and array conversions.
//
// bf16 is the upper half of an IEEE fp32 (1 sign, 8 exponent, 7 mantissa bits). fp32 -> bf16 rounds
// to nearest-even; NaN stays NaN (quietened, sign and top payload kept); fp32 subnormals become a
// signed zero. The last rule is what AVX512-BF16's vcvtne2ps2bf16 does, and the portable code does
// the same, so a machine with and one without the instruction produce identical bits.
#include <bit>
#include <cstdint>

namespace moai::ops::cpu {

struct bf16 {
  uint16_t bits = 0;
};
static_assert(sizeof(bf16) == 2);

inline bf16 float_to_bf16(float value) {
  const uint32_t bits = std::bit_cast<uint32_t>(value);
  const uint32_t magnitude = bits & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u) return bf16{uint16_t((bits >> 16) | 0x0040u)};  // NaN, quiet
  if (magnitude < 0x00800000u) return bf16{uint16_t((bits >> 16) & 0x8000u)};  // zero, subnormal
  const uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);                     // ties to even
  return bf16{uint16_t((bits + rounding) >> 16)};
}

inline float bf16_to_float(bf16 value) {
  return std::bit_cast<float>(uint32_t(value.bits) << 16);
}

// fp32 rounded to bf16 and back: the value a bf16 tensor would hold.
inline float round_to_bf16(float value) {
  return bf16_to_float(float_to_bf16(value));
}

// True when the CPU has AVX512-BF16 (vdpbf16ps, vcvtne2ps2bf16) and the build can use it.
bool cpu_has_avx512_bf16();

// dst[i] = float_to_bf16(src[i]) / bf16_to_float(src[i]), i < n. Vectorised (AVX512-BF16 when the
// CPU has it, AVX-512 or scalar otherwise); identical bits on every path. Single-threaded: callers
// parallelise over rows.
void to_bf16(bf16* dst, const float* src, int64_t n);
void to_float(float* dst, const bf16* src, int64_t n);

// The same over the OpenMP team in fixed 64K-element chunks (single-threaded inside a parallel
// region); for whole tensors.
void to_bf16_parallel(bf16* dst, const float* src, int64_t n);
void to_float_parallel(float* dst, const bf16* src, int64_t n);

// Portable twins of the two above (the reference the vector paths are tested against).
void to_bf16_portable(bf16* dst, const float* src, int64_t n);
void to_float_portable(float* dst, const bf16* src, int64_t n);

}  // namespace moai::ops::cpu
