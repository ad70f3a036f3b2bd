#pragma once
// CPU attention (causal, GQA, optional document masks), templated like kernels.h.
//
// Layout trick: a thread transposes the keys (and values) of one kv head into [D, T] so that a query's score
// row is D vectorised axpys over contiguous keys, S[0..t] += q[d] * K^T[d, 0..t], instead of t horizontal
// dot products. Memory per thread is O(T * D) plus one [T] score row: never T x T.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "moai/ops/cpu/fast_exp.h"
#include "moai/ops/ops.h"

namespace moai::ops::cpu {

// row[j] <- exp(row[j] - shift) (-inf gives 0), returns the sum: the vectorised polynomial for float, libm
// for the double (gradient-check) twin.
template <typename T>
inline T exp_row(T* row, int64_t count, T shift) {
  if constexpr (sizeof(T) == 4) {
    return T(exp_shifted_sum(row, count, shift));
  } else {
    T sum = 0;
    for (int64_t j = 0; j < count; ++j) {
      row[j] = row[j] == T(-INFINITY) ? T(0) : std::exp(row[j] - shift);
      sum += row[j];
    }
    return sum;
  }
}

// dst[d * stride + j] = src[j * row + d] for j < rows: keys of one kv head as [D, rows].
template <typename T>
void transpose_head(T* dst, const T* src, int64_t rows, int64_t row, int64_t head_dim, int64_t stride) {
  for (int64_t j = 0; j < rows; ++j)
    for (int64_t d = 0; d < head_dim; ++d) dst[d * stride + j] = src[j * row + d];
}

// scores[0..count) = sum_d qv[d] * kt[d, 0..count)
template <typename T>
inline void score_row(T* scores, const T* qv, const T* kt, int64_t count, int64_t head_dim, int64_t stride) {
  std::fill(scores, scores + count, T(0));
  for (int64_t d = 0; d < head_dim; ++d) {
    const T qd = qv[d];
    const T* kd = kt + d * stride;
#pragma omp simd
    for (int64_t j = 0; j < count; ++j) scores[j] += qd * kd[j];
  }
}

template <typename T>
void attention_forward(T* out, T* lse, const T* q, const T* k, const T* v, const int32_t* segment_ids,
                       const AttentionShape& s) {
  const int64_t D = s.head_dim, H = s.heads, KV = s.kv_heads, group = H / KV, Lq = s.q_len, Lk = s.kv_len;
  const int64_t kv_stride = s.kv_batch_stride ? s.kv_batch_stride : Lk * KV * D;
  const int64_t offset = Lk - Lq;
  const T scale = T(s.scale);
#pragma omp parallel
  {
    T* kt = scratch<T>(size_t(Lk * D), 0);
    T* scores = scratch<T>(size_t(Lk), 1);
#pragma omp for schedule(static)
    for (int64_t task = 0; task < s.batch * H; ++task) {
      const int64_t b = task / H, h = task % H, kvh = h / group;
      const T* kb = k + b * kv_stride + kvh * D;
      const T* vb = v + b * kv_stride + kvh * D;
      transpose_head(kt, kb, Lk, KV * D, D, Lk);
      const int32_t* seg = segment_ids ? segment_ids + b * Lk : nullptr;
      for (int64_t t = 0; t < Lq; ++t) {
        const int64_t pos = offset + t, count = pos + 1;
        const T* qv = q + ((b * Lq + t) * H + h) * D;
        score_row(scores, qv, kt, count, D, Lk);
        T max_score = -INFINITY;
        for (int64_t j = 0; j < count; ++j) {
          scores[j] = (seg && seg[j] != seg[pos]) ? T(-INFINITY) : scores[j] * scale;
          max_score = std::max(max_score, scores[j]);
        }
        const T sum = exp_row(scores, count, max_score);
        T* o = out + ((b * Lq + t) * H + h) * D;
        std::fill(o, o + D, T(0));
        for (int64_t j = 0; j < count; ++j) {
          const T p = scores[j];
          if (p == T(0)) continue;
          const T* vv = vb + j * KV * D;
#pragma omp simd
          for (int64_t d = 0; d < D; ++d) o[d] += p * vv[d];
        }
        const T inv = T(1) / sum;
        for (int64_t d = 0; d < D; ++d) o[d] *= inv;
        if (lse) lse[(b * H + h) * Lq + t] = max_score + std::log(sum);
      }
    }
  }
}

// Threads own (batch, kv head) pairs, so dk/dv of a kv head are written by one thread in a fixed order.
// dS = P * (dP - delta) * scale with delta = dO . O (the flash-attention identity), P recomputed from lse.
template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* out, const T* lse, const T* q, const T* k,
                        const T* v, const int32_t* segment_ids, const AttentionShape& s) {
  const int64_t D = s.head_dim, H = s.heads, KV = s.kv_heads, group = H / KV, L = s.q_len;
  const T scale = T(s.scale);
#pragma omp parallel
  {
    T* kt = scratch<T>(size_t(L * D), 0);
    T* probs = scratch<T>(size_t(L), 1);
    T* vt = scratch<T>(size_t(L * D), 2);
    T* dprobs = scratch<T>(size_t(L), 3);
#pragma omp for schedule(static)
    for (int64_t task = 0; task < s.batch * KV; ++task) {
      const int64_t b = task / KV, kvh = task % KV;
      const T* kb = k + b * L * KV * D + kvh * D;
      const T* vb = v + b * L * KV * D + kvh * D;
      T* dkb = dk + b * L * KV * D + kvh * D;
      T* dvb = dv + b * L * KV * D + kvh * D;
      for (int64_t j = 0; j < L; ++j) {
        std::fill(dkb + j * KV * D, dkb + j * KV * D + D, T(0));
        std::fill(dvb + j * KV * D, dvb + j * KV * D + D, T(0));
      }
      transpose_head(kt, kb, L, KV * D, D, L);
      transpose_head(vt, vb, L, KV * D, D, L);
      const int32_t* seg = segment_ids ? segment_ids + b * L : nullptr;
      for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
        for (int64_t t = 0; t < L; ++t) {
          const int64_t row = (b * L + t) * H + h, count = t + 1;
          const T* qv = q + row * D;
          const T* dov = dout + row * D;
          const T row_lse = lse[(b * H + h) * L + t];
          T delta = 0;
          for (int64_t d = 0; d < D; ++d) delta += dov[d] * out[row * D + d];
          score_row(probs, qv, kt, count, D, L);
          score_row(dprobs, dov, vt, count, D, L);
          for (int64_t j = 0; j < count; ++j)
            probs[j] = (!seg || seg[j] == seg[t]) ? probs[j] * scale : T(-INFINITY);
          exp_row(probs, count, row_lse);  // P
#pragma omp simd
          for (int64_t j = 0; j < count; ++j) dprobs[j] = probs[j] * (dprobs[j] - delta) * scale;  // dS
          T* dqv = dq + row * D;
          std::fill(dqv, dqv + D, T(0));
          for (int64_t j = 0; j < count; ++j) {
            const T ds = dprobs[j], p = probs[j];
            if (p == T(0)) continue;
            const T* kj = kb + j * KV * D;
            T* dkj = dkb + j * KV * D;
            T* dvj = dvb + j * KV * D;
#pragma omp simd
            for (int64_t d = 0; d < D; ++d) {
              dqv[d] += ds * kj[d];
              dkj[d] += ds * qv[d];
              dvj[d] += p * dov[d];
            }
          }
        }
      }
    }
  }
}

}  // namespace moai::ops::cpu
