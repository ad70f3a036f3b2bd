// bf16 fused classifier + loss (see bf16_classifier.h): bf16 matmuls for the logits and both
// gradients, the fp32 loss rows of kernels.h in between.
#include "moai/ops/cpu/bf16_classifier.h"

#include <algorithm>
#include <vector>

#include "moai/ops/cpu/kernels.h"  // loss_row

namespace moai::ops::cpu {
namespace {

template <typename T>
T* grow(std::vector<T>& buffer, size_t count) {
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

template <typename Dx>
void classifier_chunks(float* losses, Dx* dx, float* dw, const bf16* x, const bf16* w,
                       const int32_t* labels, int64_t n, int64_t c, int64_t v,
                       const LossConfig& config, float grad_scale, Bf16GemmEngine engine,
                       int64_t chunk_rows) {
  const int64_t chunk = chunk_rows > 0 ? chunk_rows : bf16_classifier_chunk_rows(v);
  static thread_local std::vector<float> logits_buffer;
  static thread_local std::vector<bf16> grad_buffer;
  float* logits = grow(logits_buffer, size_t(std::min(chunk, n) * v));
  const bool want_grad = dx != nullptr;
  bf16* grad = want_grad ? grow(grad_buffer, size_t(std::min(chunk, n) * v)) : nullptr;
  for (int64_t row0 = 0; row0 < n; row0 += chunk) {
    const int64_t rows = std::min(chunk, n - row0);
    bf16_gemm(logits, x + row0 * c, w, rows, v, c, false, true, 1.0f, 0.0f, engine);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t label = labels[row0 + r];
      float* row = logits + r * v;
      if (label == config.ignore_index) {
        losses[row0 + r] = 0.0f;
        if (want_grad) std::fill(grad + r * v, grad + (r + 1) * v, bf16{});
        continue;
      }
      losses[row0 + r] = loss_row(row, v, label, config, grad_scale, want_grad);
      if (want_grad) to_bf16(grad + r * v, row, v);
    }
    if (want_grad) {
      bf16_gemm(dx + row0 * c, grad, w, rows, c, v, false, false, 1.0f, 0.0f, engine);
      bf16_gemm(dw, grad, x + row0 * c, v, c, rows, true, false, 1.0f, 1.0f, engine);
    }
  }
}

}  // namespace

int64_t bf16_classifier_chunk_rows(int64_t v) {
  return std::clamp<int64_t>((int64_t(1) << 24) / std::max<int64_t>(v, 1), 16, 1024);
}

void bf16_classifier_loss(float* losses, bf16* dx, float* dw, const bf16* x, const bf16* w,
                          const int32_t* labels, int64_t n, int64_t c, int64_t v,
                          const LossConfig& config, float grad_scale, Bf16GemmEngine engine,
                          int64_t chunk_rows) {
  classifier_chunks(losses, dx, dw, x, w, labels, n, c, v, config, grad_scale, engine, chunk_rows);
}

void bf16_classifier_loss(float* losses, float* dx, float* dw, const bf16* x, const bf16* w,
                          const int32_t* labels, int64_t n, int64_t c, int64_t v,
                          const LossConfig& config, float grad_scale, Bf16GemmEngine engine,
                          int64_t chunk_rows) {
  classifier_chunks(losses, dx, dw, x, w, labels, n, c, v, config, grad_scale, engine, chunk_rows);
}

}  // namespace moai::ops::cpu
