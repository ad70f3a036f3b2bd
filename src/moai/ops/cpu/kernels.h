#pragma once
// CPU kernels, templated on the element type: the backend instantiates float; the gradient tests
// instantiate double and compare every backward against central finite differences. Shape letters
// as in ops/ops.h. Parallel loops use OpenMP with static schedules and per-thread partial sums
// combined in thread order, so a fixed thread count gives bitwise-identical results.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "moai/ops/cpu/bf16.h"
#include "moai/ops/cpu/fast_exp.h"
#include "moai/ops/loss.h"
#include "moai/ops/ops.h"

namespace moai::ops::cpu {

// ---- gemm (BLAS) ----
// c[M,N] = alpha * op(a) op(b) + beta * c, row-major (see Backend::matmul).
void gemm(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k, bool trans_a,
          bool trans_b, float alpha, float beta);
// c[n] = alpha * w[n,k] · x[k] + beta * c (gemm's path for m == 1 with trans_b).
void matvec(float* c, const float* w, const float* x, int64_t n, int64_t k, float alpha,
            float beta);
void gemm(double* c, const double* a, const double* b, int64_t m, int64_t n, int64_t k,
          bool trans_a, bool trans_b, double alpha, double beta);

// Scratch that grows to the largest request and is then reused: allocations happen in the first
// step only.
template <typename T>
T* scratch(size_t count, int slot = 0) {
  static thread_local std::vector<T> buffers[4];
  std::vector<T>& buffer = buffers[slot];
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

// Storage and math types. The activation kernels below take each tensor in its storage type: fp32
// and double compute in themselves; bf16 is widened exactly to fp32 on load and rounded once (to
// nearest even) on store, so a bf16 tensor gets the same bits as an fp32 computation rounded at the
// end, with no fp32 copy of the tensor.
template <typename S>
using Math = std::conditional_t<std::is_same_v<S, BFloat16>, float, S>;
template <typename S>
inline Math<S> to_math(S value) {
  return value;
}
inline float to_math(BFloat16 value) {
  return to_f32(value);
}
template <typename S, typename T>
inline S from_math(T value) {
  return S(value);
}
template <>
inline BFloat16 from_math<BFloat16, float>(float value) {
  return to_bf16(value);
}

// ---- embedding ----
template <typename T>
void embedding_forward(T* out, const int32_t* ids, const T* table, int64_t n, int64_t c) {
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < n; ++row)
    std::memcpy(out + row * c, table + int64_t(ids[row]) * c, c * sizeof(T));
}

// Threads own column slices, rows add in order: deterministic and race-free even with repeated ids.
template <typename T, typename S>
void embedding_backward(T* dtable, const S* dout, const int32_t* ids, int64_t n, int64_t c) {
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
    const int64_t begin = c * thread / threads, end = c * (thread + 1) / threads;
    for (int64_t row = 0; row < n; ++row) {
      T* dst = dtable + int64_t(ids[row]) * c;
      const S* src = dout + row * c;
      for (int64_t col = begin; col < end; ++col) dst[col] += to_math(src[col]);
    }
  }
}

// ---- RMSNorm ----
// out (O) and inp (I) in their storage types; rstd and weight in the math type T.
template <typename O, typename I, typename T>
void rmsnorm_forward(O* out, T* rstd, const I* inp, const T* weight, int64_t n, int64_t c,
                     double eps) {
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < n; ++row) {
    const I* x = inp + row * c;
    double sum_sq = 0;
    for (int64_t col = 0; col < c; ++col)
      sum_sq += double(to_math(x[col])) * double(to_math(x[col]));
    const T r = T(1.0 / std::sqrt(sum_sq / double(c) + eps));
    rstd[row] = r;
    O* y = out + row * c;
    for (int64_t col = 0; col < c; ++col)
      y[col] = from_math<O>(T(to_math(x[col]) * r * weight[col]));
  }
}

// dinp = rstd * (dout*w - xhat * mean(dout*w*xhat)), dweight += sum_rows dout * xhat.
template <typename DI, typename DO, typename I, typename T>
void rmsnorm_backward(DI* dinp, T* dweight, const DO* dout, const I* inp, const T* weight,
                      const T* rstd, int64_t n, int64_t c, bool accumulate) {
  const int max_threads = omp_get_max_threads();
  T* partial = scratch<T>(size_t(max_threads) * c, 1);
  std::fill(partial, partial + size_t(max_threads) * c, T(0));
  int used_threads = 1;
#pragma omp parallel
  {
    const int64_t threads = omp_get_num_threads(), thread = omp_get_thread_num();
#pragma omp single
    used_threads = int(threads);
    T* dw = partial + thread * c;
    const int64_t begin = n * thread / threads, end = n * (thread + 1) / threads;
    for (int64_t row = begin; row < end; ++row) {
      const I* x = inp + row * c;
      const DO* dy = dout + row * c;
      const T r = rstd[row];
      double dot = 0;
      for (int64_t col = 0; col < c; ++col)
        dot += double(T(to_math(dy[col])) * weight[col]) * double(T(to_math(x[col])) * r);
      const T mean_dot = T(dot / double(c));
      DI* dx = dinp + row * c;
      for (int64_t col = 0; col < c; ++col) {
        const T g = to_math(dy[col]);
        const T xhat = T(to_math(x[col])) * r;
        const T value = r * (g * weight[col] - xhat * mean_dot);
        dx[col] = from_math<DI>(accumulate ? T(to_math(dx[col])) + value : value);
        dw[col] += g * xhat;
      }
    }
  }
  for (int thread = 0; thread < used_threads; ++thread)
    for (int64_t col = 0; col < c; ++col) dweight[col] += partial[thread * c + col];
}

// ---- RoPE (rotate-half) ----
// sign = +1: forward rotation; -1: the transposed rotation (backward).
template <typename S>
void rope_apply(S* x, const int32_t* position_ids, const float* cos, const float* sin, int64_t n,
                int64_t heads, int64_t head_dim, int sign) {
  using T = Math<S>;
  const int64_t half = head_dim / 2;
#pragma omp parallel for schedule(static)
  for (int64_t row = 0; row < n; ++row) {
    const float* c_row = cos + int64_t(position_ids[row]) * half;
    const float* s_row = sin + int64_t(position_ids[row]) * half;
    for (int64_t head = 0; head < heads; ++head) {
      S* v = x + (row * heads + head) * head_dim;
      for (int64_t i = 0; i < half; ++i) {
        const T a = to_math(v[i]), b = to_math(v[i + half]);
        const T c = T(c_row[i]), s = T(sign) * T(s_row[i]);
        v[i] = from_math<S>(T(a * c - b * s));
        v[i + half] = from_math<S>(T(b * c + a * s));
      }
    }
  }
}

// ---- attention: see attention.h ----

// ---- SwiGLU ----
// One element of SwiGLU in the math type: forward out = silu(g) * u; backward from d.
template <typename T>
inline T swiglu_value(T g, T u) {
  const T sig = T(1) / (T(1) + std::exp(-g));
  return T(g * sig * u);
}
template <typename T>
inline void swiglu_grads(T& dgate, T& dup, T d, T g, T u) {
  const T sig = T(1) / (T(1) + std::exp(-g));
  dup = T(d * (g * sig));
  dgate = T(d * u * sig * (T(1) + g * (T(1) - sig)));
}

template <typename S>
void swiglu_forward(S* out, const S* gate, const S* up, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) out[i] = swiglu_value(gate[i], up[i]);
}

template <typename S>
void swiglu_backward(S* dgate, S* dup, const S* dout, const S* gate, const S* up, int64_t n) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) swiglu_grads(dgate[i], dup[i], dout[i], gate[i], up[i]);
}

// bf16: blocks widened to fp32 (vectorised), the fp32 formula, rounded back (vectorised): the
// same bits as converting element by element, at about the fp32 kernel's speed (a scalar
// conversion per element made it 2x slower). block(i0, m) handles elements [i0, i0 + m).
inline constexpr int64_t kSwigluBlock = 512;
template <typename Block>
void for_each_swiglu_block(int64_t n, const Block& block) {
  const int64_t blocks = (n + kSwigluBlock - 1) / kSwigluBlock;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b)
    block(b * kSwigluBlock, std::min(kSwigluBlock, n - b * kSwigluBlock));
}

inline void swiglu_forward(BFloat16* out, const BFloat16* gate, const BFloat16* up, int64_t n) {
  for_each_swiglu_block(n, [&](int64_t i0, int64_t m) {
    float g[kSwigluBlock], u[kSwigluBlock];
    to_float(g, gate + i0, m);
    to_float(u, up + i0, m);
#pragma omp simd
    for (int64_t i = 0; i < m; ++i) g[i] = swiglu_value(g[i], u[i]);
    to_bf16(out + i0, g, m);
  });
}

inline void swiglu_backward(BFloat16* dgate, BFloat16* dup, const BFloat16* dout,
                            const BFloat16* gate, const BFloat16* up, int64_t n) {
  for_each_swiglu_block(n, [&](int64_t i0, int64_t m) {
    float d[kSwigluBlock], g[kSwigluBlock], u[kSwigluBlock];
    to_float(d, dout + i0, m);
    to_float(g, gate + i0, m);
    to_float(u, up + i0, m);
#pragma omp simd
    for (int64_t i = 0; i < m; ++i) swiglu_grads(g[i], u[i], d[i], g[i], u[i]);
    to_bf16(dgate + i0, g, m);
    to_bf16(dup + i0, u, m);
  });
}

// ---- fused classifier + loss ----
// Row loss and (optionally) d(grad_scale * loss)/d(logits) written over the logits row in place.
template <typename T>
T loss_row(T* logits, int64_t v, int32_t label, const LossConfig& config, T grad_scale,
           bool want_grad) {
  // Vectorised reductions (omp simd): a plain loop would be one dependent max/add per logit.
  T max_logit = logits[0];
#pragma omp simd reduction(max : max_logit)
  for (int64_t i = 0; i < v; ++i) max_logit = logits[i] > max_logit ? logits[i] : max_logit;
  double sum_logits = 0;  // label smoothing only
  if (config.smooth_weight != 0) {
    for (int64_t begin = 0; begin < v; begin += 256) {
      const int64_t end = std::min(v, begin + 256);
      T block = 0;
#pragma omp simd reduction(+ : block)
      for (int64_t i = begin; i < end; ++i) block += logits[i];
      sum_logits += double(block);
    }
  }
  const T label_logit = logits[label];
  double sum_exp = 0;
  if constexpr (sizeof(T) == 4) {
    sum_exp = exp_shifted_sum(logits, v, max_logit);  // logits[i] <- exp(logits[i] - max)
  } else {
    for (int64_t i = 0; i < v; ++i) {
      logits[i] = std::exp(logits[i] - max_logit);
      sum_exp += double(logits[i]);
    }
  }
  const double lse = double(max_logit) + std::log(sum_exp);
  const double ce = lse - double(label_logit);
  const double p_label = std::exp(-ce);
  const double one_minus = std::max(0.0, 1.0 - p_label);
  const double gamma = config.focal_gamma;
  double loss = 0, coeff = 0;  // coeff multiplies (p - onehot) from the CE and focal terms
  if (config.ce_weight != 0) {
    loss += config.ce_weight * ce;
    coeff += config.ce_weight;
  }
  if (config.focal_weight != 0) {
    const double modulator = std::pow(one_minus, gamma);
    loss += config.focal_weight * modulator * ce;
    double factor = modulator;
    if (gamma != 0 && one_minus > 0)
      factor += gamma * std::pow(one_minus, gamma - 1) * p_label * ce;
    coeff += config.focal_weight * factor;
  }
  const double eps = config.smoothing;
  const double off = v > 1 ? eps / double(v - 1) : 0.0;
  if (config.smooth_weight != 0) {
    const double smooth =
        lse - off * (sum_logits - double(label_logit)) - (1 - eps) * double(label_logit);
    loss += config.smooth_weight * smooth;
  }
  if (want_grad) {
    const double ws = config.smooth_weight;
    const T scale_p =
        T(double(grad_scale) * (coeff + ws) / sum_exp);  // times exp(z - max) = p * sum_exp
    const T shift = T(double(grad_scale) * ws * off);
#pragma omp simd
    for (int64_t i = 0; i < v; ++i) logits[i] = logits[i] * scale_p - shift;
    logits[label] -= T(double(grad_scale) * (coeff + ws * (1 - eps - off)));
  }
  return T(loss);
}

// Rows in chunks so that only chunk x V logits exist at a time.
template <typename T>
void classifier_loss(T* losses, T* dx, T* dw, const T* x, const T* w, const int32_t* labels,
                     int64_t n, int64_t c, int64_t v, const LossConfig& config, T grad_scale) {
  const int64_t chunk = classifier_chunk_rows(v);
  T* logits = scratch<T>(size_t(std::min(chunk, n)) * v, 2);
  const bool want_grad = dx != nullptr;
  for (int64_t row0 = 0; row0 < n; row0 += chunk) {
    const int64_t rows = std::min(chunk, n - row0);
    gemm(logits, x + row0 * c, w, rows, v, c, false, true, T(1), T(0));
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int32_t label = labels[row0 + r];
      T* row = logits + r * v;
      if (label == config.ignore_index) {
        losses[row0 + r] = 0;
        if (want_grad) std::fill(row, row + v, T(0));
        continue;
      }
      losses[row0 + r] = loss_row(row, v, label, config, grad_scale, want_grad);
    }
    if (want_grad) {
      gemm(dx + row0 * c, logits, w, rows, c, v, false, false, T(1), T(0));
      gemm(dw, logits, x + row0 * c, v, c, rows, true, false, T(1), T(1));
    }
  }
}

// ---- optimizer and reductions ----
template <typename T>
void adamw_update(T* param, T* m, T* v, const T* grad, int64_t n, const AdamWStep& step) {
  // Scalars as torch computes them (python doubles, cast to the tensor type when used).
  const double bias1 = 1.0 - std::pow(double(step.beta1), double(step.step));
  const double bias2 = 1.0 - std::pow(double(step.beta2), double(step.step));
  const T decay = T(1.0 - double(step.lr) * double(step.weight_decay));
  const T step_size = T(double(step.lr) / bias1);
  const T bias2_sqrt = T(std::sqrt(bias2));
  const T b1 = step.beta1, b2 = step.beta2, eps = step.eps, gs = step.grad_scale;
  const T one_minus_b1 = T(1.0 - double(step.beta1)), one_minus_b2 = T(1.0 - double(step.beta2));
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const T g = grad[i] * gs;
    T p = param[i] * decay;
    const T mi = m[i] * b1 + g * one_minus_b1;
    const T vi = v[i] * b2 + one_minus_b2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const T denom = std::sqrt(vi) / bias2_sqrt + eps;
    p = p - step_size * (mi / denom);
    param[i] = p;
  }
}

template <typename T>
double sum_squares(const T* x, int64_t n) {
  constexpr int64_t kBlock = 4096;  // fixed blocks: the result does not depend on the thread count
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  double* partial = scratch<double>(size_t(std::max<int64_t>(blocks, 1)), 3);
#pragma omp parallel for schedule(static)
  for (int64_t block = 0; block < blocks; ++block) {
    double sum = 0;
    const int64_t end = std::min(n, (block + 1) * kBlock);
    for (int64_t i = block * kBlock; i < end; ++i) sum += double(x[i]) * double(x[i]);
    partial[block] = sum;
  }
  double total = 0;
  for (int64_t block = 0; block < blocks; ++block) total += partial[block];
  return total;
}

}  // namespace moai::ops::cpu

#include "moai/ops/cpu/attention.h"  // after scratch()
