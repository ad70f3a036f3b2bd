#pragma once
// CPU attention (causal, GQA, optional document masks), templated like kernels.h.
//
// Layout trick: a thread transposes the keys (and values) of one kv head into [D, T] so that a
// query's score row is D vectorised axpys over contiguous keys, S[0..t] += q[d] * K^T[d, 0..t],
// instead of t horizontal dot products. Memory per thread is O(T * D) plus one [T] score row: never
// T x T.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "moai/ops/cpu/fast_exp.h"
#include "moai/ops/ops.h"

namespace moai::ops::cpu {

// row[j] <- exp(row[j] - shift) (-inf gives 0), returns the sum: the vectorised polynomial for
// float, libm for the double (gradient-check) twin.
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
void transpose_head(T* dst, const T* src, int64_t rows, int64_t row, int64_t head_dim,
                    int64_t stride) {
  for (int64_t j = 0; j < rows; ++j)
    for (int64_t d = 0; d < head_dim; ++d) dst[d * stride + j] = src[j * row + d];
}

// Score rows of up to 4 queries at once: rows[i][0..count) = sum_d q[i][d] * kt[d, 0..count). Eight
// keys at a time with 4 x 8 accumulators that stay in registers (one K^T load feeds four FMAs). kt
// rows must be readable up to count rounded up to 8 (the callers pad them with zeros).
template <typename T>
inline void score_rows(T* rows, int64_t row_stride, const T* const* q, int64_t queries, const T* kt,
                       int64_t count, int64_t head_dim, int64_t kt_stride) {
  for (int64_t j0 = 0; j0 < count; j0 += 8) {
    T acc[4][8] = {};
    for (int64_t d = 0; d < head_dim; ++d) {
      const T* kd = kt + d * kt_stride + j0;
      for (int64_t i = 0; i < 4; ++i) {
        const T qd = i < queries ? q[i][d] : T(0);
#pragma omp simd
        for (int64_t l = 0; l < 8; ++l) acc[i][l] += qd * kd[l];
      }
    }
    const int64_t width = std::min<int64_t>(8, count - j0);
    for (int64_t i = 0; i < queries; ++i)
      for (int64_t l = 0; l < width; ++l) rows[i * row_stride + j0 + l] = acc[i][l];
  }
}

// Keys of one kv head as [D, stride] with stride = rows rounded up to 8, padding zeroed.
inline int64_t padded_stride(int64_t rows) {
  return (rows + 7) / 8 * 8;
}

template <typename T>
void transpose_head_padded(T* dst, const T* src, int64_t rows, int64_t row, int64_t head_dim) {
  const int64_t stride = padded_stride(rows);
  for (int64_t d = 0; d < head_dim; ++d)
    for (int64_t j = rows; j < stride; ++j) dst[d * stride + j] = T(0);
  transpose_head(dst, src, rows, row, head_dim, stride);
}

template <typename T>
void attention_forward(T* out, T* lse, const T* q, const T* k, const T* v,
                       const int32_t* segment_ids, const AttentionShape& s) {
  const int64_t D = s.head_dim, H = s.heads, KV = s.kv_heads, group = H / KV, Lq = s.q_len,
                Lk = s.kv_len;
  const int64_t kv_stride = s.kv_batch_stride ? s.kv_batch_stride : Lk * KV * D;
  const int64_t offset = Lk - Lq;
  const T scale = T(s.scale);
#pragma omp parallel
  {
    const int64_t stride = padded_stride(Lk);
    T* kt = scratch<T>(size_t(stride * D), 0);
    T* scores = scratch<T>(size_t(4 * stride), 1);
#pragma omp for schedule(static)
    for (int64_t task = 0; task < s.batch * H; ++task) {
      const int64_t b = task / H, h = task % H, kvh = h / group;
      const T* kb = k + b * kv_stride + kvh * D;
      const T* vb = v + b * kv_stride + kvh * D;
      transpose_head_padded(kt, kb, Lk, KV * D, D);
      const int32_t* seg = segment_ids ? segment_ids + b * Lk : nullptr;
      for (int64_t t0 = 0; t0 < Lq; t0 += 4) {
        const int64_t queries = std::min<int64_t>(4, Lq - t0);
        const T* qs[4];
        for (int64_t i = 0; i < queries; ++i) qs[i] = q + ((b * Lq + t0 + i) * H + h) * D;
        score_rows(scores, stride, qs, queries, kt, offset + t0 + queries, D, stride);
        for (int64_t i = 0; i < queries; ++i) {
          const int64_t t = t0 + i, pos = offset + t, count = pos + 1;
          T* row = scores + i * stride;
          T max_score = -INFINITY;
          for (int64_t j = 0; j < count; ++j) {
            row[j] = (seg && seg[j] != seg[pos]) ? T(-INFINITY) : row[j] * scale;
            max_score = std::max(max_score, row[j]);
          }
          const T sum = exp_row(row, count, max_score);
          T* o = out + ((b * Lq + t) * H + h) * D;
          std::fill(o, o + D, T(0));
          for (int64_t j = 0; j < count; ++j) {
            const T p = row[j];
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
}

// Threads own (batch, kv head) pairs, so dk/dv of a kv head are written by one thread in a fixed
// order. dS = P * (dP - delta) * scale with delta = dO . O (the flash-attention identity), P
// recomputed from lse.
template <typename T>
void attention_backward(T* dq, T* dk, T* dv, const T* dout, const T* out, const T* lse, const T* q,
                        const T* k, const T* v, const int32_t* segment_ids,
                        const AttentionShape& s) {
  const int64_t D = s.head_dim, H = s.heads, KV = s.kv_heads, group = H / KV, L = s.q_len;
  const T scale = T(s.scale);
#pragma omp parallel
  {
    const int64_t stride = padded_stride(L);
    T* kt = scratch<T>(size_t(stride * D), 0);
    T* probs = scratch<T>(size_t(4 * stride), 1);
    T* vt = scratch<T>(size_t(stride * D), 2);
    T* dprobs = scratch<T>(size_t(4 * stride), 3);
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
      transpose_head_padded(kt, kb, L, KV * D, D);
      transpose_head_padded(vt, vb, L, KV * D, D);
      const int32_t* seg = segment_ids ? segment_ids + b * L : nullptr;
      for (int64_t h = kvh * group; h < (kvh + 1) * group; ++h) {
        for (int64_t t0 = 0; t0 < L; t0 += 4) {
          const int64_t queries = std::min<int64_t>(4, L - t0);
          const T* qs[4];
          const T* dos[4];
          for (int64_t i = 0; i < queries; ++i) {
            qs[i] = q + ((b * L + t0 + i) * H + h) * D;
            dos[i] = dout + ((b * L + t0 + i) * H + h) * D;
          }
          score_rows(probs, stride, qs, queries, kt, t0 + queries, D, stride);
          score_rows(dprobs, stride, dos, queries, vt, t0 + queries, D, stride);
          const int64_t count_max = t0 + queries;
          T* dqs[4];
          for (int64_t i = 0; i < queries; ++i) {
            const int64_t t = t0 + i, row = (b * L + t) * H + h, count = t + 1;
            const T* dov = dos[i];
            T* p_row = probs + i * stride;
            T* ds_row = dprobs + i * stride;
            T delta = 0;
            for (int64_t d = 0; d < D; ++d) delta += dov[d] * out[row * D + d];
            for (int64_t j = 0; j < count; ++j)
              p_row[j] = (!seg || seg[j] == seg[t]) ? p_row[j] * scale : T(-INFINITY);
            exp_row(p_row, count, lse[(b * H + h) * L + t]);  // P
#pragma omp simd
            for (int64_t j = 0; j < count; ++j)
              ds_row[j] = p_row[j] * (ds_row[j] - delta) * scale;  // dS
            for (int64_t j = count; j < count_max; ++j)
              p_row[j] = ds_row[j] = T(0);  // causal within the block
            dqs[i] = dq + row * D;
            std::fill(dqs[i], dqs[i] + D, T(0));
          }
          // dq_i += dS[i,j] k_j; dk_j += sum_i dS[i,j] q_i; dv_j += sum_i P[i,j] dO_i: each k_j,
          // dk_j, dv_j row is loaded once per block of queries.
          for (int64_t j = 0; j < count_max; ++j) {
            T ds[4] = {}, p[4] = {};
            bool any = false;
            for (int64_t i = 0; i < queries; ++i) {
              ds[i] = dprobs[i * stride + j];
              p[i] = probs[i * stride + j];
              any = any || p[i] != T(0);
            }
            if (!any) continue;
            const T* kj = kb + j * KV * D;
            T* dkj = dkb + j * KV * D;
            T* dvj = dvb + j * KV * D;
            if (queries == 4) {
              T* dq0 = dqs[0];
              T* dq1 = dqs[1];
              T* dq2 = dqs[2];
              T* dq3 = dqs[3];
              const T *q0 = qs[0], *q1 = qs[1], *q2 = qs[2], *q3 = qs[3];
              const T *o0 = dos[0], *o1 = dos[1], *o2 = dos[2], *o3 = dos[3];
#pragma omp simd
              for (int64_t d = 0; d < D; ++d) {
                const T kd = kj[d];
                dq0[d] += ds[0] * kd;
                dq1[d] += ds[1] * kd;
                dq2[d] += ds[2] * kd;
                dq3[d] += ds[3] * kd;
                dkj[d] += ds[0] * q0[d] + ds[1] * q1[d] + ds[2] * q2[d] + ds[3] * q3[d];
                dvj[d] += p[0] * o0[d] + p[1] * o1[d] + p[2] * o2[d] + p[3] * o3[d];
              }
            } else {
              for (int64_t i = 0; i < queries; ++i) {
                T* dqv = dqs[i];
                const T* qv = qs[i];
                const T* dov = dos[i];
#pragma omp simd
                for (int64_t d = 0; d < D; ++d) {
                  dqv[d] += ds[i] * kj[d];
                  dkj[d] += ds[i] * qv[d];
                  dvj[d] += p[i] * dov[d];
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace moai::ops::cpu
