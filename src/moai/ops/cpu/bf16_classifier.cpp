// bf16 fused classifier + loss (see bf16_classifier.h): bf16 matmuls for the logits and both
// gradients, the fp32 loss rows of kernels.h in between.
#include "moai/ops/cpu/bf16_classifier.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "moai/ops/cpu/kernels.h"  // loss_row

namespace moai::ops::cpu {
namespace {

template <typename T>
T* grow(std::vector<T>& buffer, size_t count) {
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

// The bf16 values of fp32 row[0, n) written over the row's own first half (row as bf16[n]), in
// blocks staged on the stack: each block is read whole before anything in it is overwritten.
void narrow_in_place(float* row, int64_t n) {
  constexpr int64_t kBlock = 512;
  bf16 block[kBlock];
  auto* out = reinterpret_cast<unsigned char*>(row);
  for (int64_t i = 0; i < n; i += kBlock) {
    const int64_t count = std::min(kBlock, n - i);
    to_bf16(block, row + i, count);
    std::memcpy(out + i * int64_t(sizeof(bf16)), block, size_t(count) * sizeof(bf16));
  }
}

// Loss rows of one chunk of logits (fp32, in place). With a gradient, each row becomes
// d(grad_scale * loss)/d(logits), rounded to bf16: as bf16 over the first half of its own fp32 row
// when `narrow` (a [rows, v] bf16 matrix with row stride 2v), else as fp32 values.
void loss_rows(float* losses, float* logits, bool narrow, const int32_t* labels, int64_t rows,
               int64_t v, const LossConfig& config, float grad_scale, bool want_grad) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    float* row = logits + r * v;
    if (labels[r] == config.ignore_index) {
      losses[r] = 0.0f;
      if (want_grad) std::fill(row, row + v, 0.0f);
    } else {
      losses[r] = loss_row(row, v, labels[r], config, grad_scale, want_grad);
    }
    if (!want_grad) continue;
    if (narrow) {
      narrow_in_place(row, v);
    } else {
      for (int64_t i = 0; i < v; ++i) row[i] = round_to_bf16(row[i]);
    }
  }
}

// c[M,N] = a · b (fp32) into dx, which is fp32 or bf16 (through an fp32 staging buffer).
void store_dx(float* dx, const float* a, const float* b, int64_t m, int64_t n, int64_t k) {
  gemm(dx, a, b, m, n, k, false, false, 1.0f, 0.0f);
}
void store_dx(bf16* dx, const float* a, const float* b, int64_t m, int64_t n, int64_t k) {
  static thread_local std::vector<float> staging;
  float* out = grow(staging, size_t(m * n));
  gemm(out, a, b, m, n, k, false, false, 1.0f, 0.0f);
  to_bf16_parallel(dx, out, m * n);
}

// w as fp32 values: bf16 widened, fp32 (master weights) rounded to bf16 values.
void widen_w(float* dst, const bf16* w, int64_t n) {
  to_float_parallel(dst, w, n);
}
void widen_w(float* dst, const float* w, int64_t n) {
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
  for (int64_t i = 0; i < n; ++i) dst[i] = round_to_bf16(w[i]);
}

// convert+sgemm: w widened once per call (not once per chunk and matmul), x per chunk, fp32 BLAS;
// the same values as the bf16 engine (bf16 inputs, bf16-rounded logits' gradient, fp32 sums).
template <typename Dx, typename W>
void classifier_fp32(float* losses, Dx* dx, float* dw, const bf16* x, const W* w,
                     const int32_t* labels, int64_t n, int64_t c, int64_t v,
                     const LossConfig& config, float grad_scale, int64_t chunk) {
  static thread_local std::vector<float> w_buffer, x_buffer, logits_buffer;
  float* w32 = grow(w_buffer, size_t(v * c));
  float* x32 = grow(x_buffer, size_t(std::min(chunk, n) * c));
  float* logits = grow(logits_buffer, size_t(std::min(chunk, n) * v));
  widen_w(w32, w, v * c);
  const bool want_grad = dx != nullptr;
  for (int64_t row0 = 0; row0 < n; row0 += chunk) {
    const int64_t rows = std::min(chunk, n - row0);
    to_float_parallel(x32, x + row0 * c, rows * c);
    gemm(logits, x32, w32, rows, v, c, false, true, 1.0f, 0.0f);
    loss_rows(losses + row0, logits, false, labels + row0, rows, v, config, grad_scale, want_grad);
    if (want_grad) {
      store_dx(dx + row0 * c, logits, w32, rows, c, v);
      gemm(dw, logits, x32, v, c, rows, true, false, 1.0f, 1.0f);
    }
  }
}

// avx512-bf16: bf16 matmuls straight from the tensors (fp32 w rounded as bf16_gemm packs it); the
// logits' bf16 gradient is read in place, rows 2v elements apart.
template <typename Dx, typename W>
void classifier_bf16(float* losses, Dx* dx, float* dw, const bf16* x, const W* w,
                     const int32_t* labels, int64_t n, int64_t c, int64_t v,
                     const LossConfig& config, float grad_scale, int64_t chunk,
                     Bf16GemmEngine engine) {
  static thread_local std::vector<float> logits_buffer;
  float* logits = grow(logits_buffer, size_t(std::min(chunk, n) * v));
  const auto* grad = reinterpret_cast<const bf16*>(logits);
  const bool want_grad = dx != nullptr;
  for (int64_t row0 = 0; row0 < n; row0 += chunk) {
    const int64_t rows = std::min(chunk, n - row0);
    bf16_gemm(logits, x + row0 * c, w, rows, v, c, false, true, 1.0f, 0.0f, engine);
    loss_rows(losses + row0, logits, true, labels + row0, rows, v, config, grad_scale, want_grad);
    if (want_grad) {
      bf16_gemm(dx + row0 * c, grad, w, rows, c, v, false, false, 1.0f, 0.0f, engine, 2 * v);
      bf16_gemm(dw, grad, x + row0 * c, v, c, rows, true, false, 1.0f, 1.0f, engine, 2 * v);
    }
  }
}

}  // namespace

int64_t bf16_classifier_chunk_rows(int64_t v) {
  return std::clamp<int64_t>((int64_t(6) << 20) / std::max<int64_t>(v, 1), 16, 1024);
}

template <typename Dx, typename W>
void bf16_classifier_loss(float* losses, Dx* dx, float* dw, const bf16* x, const W* w,
                          const int32_t* labels, int64_t n, int64_t c, int64_t v,
                          const LossConfig& config, float grad_scale, Bf16GemmEngine engine,
                          int64_t chunk_rows) {
  if (n <= 0) return;
  const int64_t chunk = chunk_rows > 0 ? chunk_rows : bf16_classifier_chunk_rows(v);
  if (engine == Bf16GemmEngine::kAuto) engine = bf16_gemm_engine(std::min(chunk, n), v, c);
  if (engine == Bf16GemmEngine::kConvertSgemm)
    classifier_fp32(losses, dx, dw, x, w, labels, n, c, v, config, grad_scale, chunk);
  else
    classifier_bf16(losses, dx, dw, x, w, labels, n, c, v, config, grad_scale, chunk, engine);
}

// NOLINTBEGIN(bugprone-macro-parentheses): the arguments are types, which cannot be parenthesised.
#define MOAI_CLASSIFIER_LOSS(Dx, W)                                                     \
  template void bf16_classifier_loss<Dx, W>(float*, Dx*, float*, const bf16*, const W*, \
                                            const int32_t*, int64_t, int64_t, int64_t,  \
                                            const LossConfig&, float, Bf16GemmEngine, int64_t);
MOAI_CLASSIFIER_LOSS(bf16, bf16)
MOAI_CLASSIFIER_LOSS(bf16, float)
MOAI_CLASSIFIER_LOSS(float, bf16)
MOAI_CLASSIFIER_LOSS(float, float)
#undef MOAI_CLASSIFIER_LOSS
// NOLINTEND(bugprone-macro-parentheses)

}  // namespace moai::ops::cpu
