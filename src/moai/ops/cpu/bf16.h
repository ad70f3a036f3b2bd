#pragma once
// bfloat16 on the CPU: vectorised array conversions between fp32 and ops::BFloat16 (tensor.h:
// the type, the scalar to_bf16 / to_f32 and their rounding rules, which every path here follows
// bit for bit: subnormals flush to a signed zero, as vcvtne2ps2bf16 does).
#include <cstdint>

#include "moai/ops/blas_kernels.h"
#include "moai/ops/tensor.h"

namespace moai::ops::cpu {

// The kernels' short name for ops::BFloat16 (the same type).
using bf16 = BFloat16;
// The scalar conversions stay visible next to the array overloads below.
using ops::round_to_bf16;
using ops::to_bf16;
using ops::to_f32;

// dst[i] = to_bf16(src[i]) / to_f32(src[i]), i < n. Vectorised (AVX512-BF16 when the
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
