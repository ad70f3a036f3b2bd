// bf16 attention over the fp32 kernels (see bf16_attention.h).
#include "moai/ops/cpu/bf16_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <utility>
#include <vector>

#include "moai/core/error.h"
#include "moai/ops/cpu/kernels.h"  // attention_forward / attention_backward (fp32)

namespace moai::ops::cpu {
namespace {

// One fp32 staging buffer per slot, grown to the largest request (allocation in the first step
// only).
template <int Slot>
float* staging(int64_t count) {
  static thread_local std::vector<float> buffer;
  if (buffer.size() < size_t(count)) buffer.resize(size_t(count));
  return buffer.data();
}

// A conversion job: count elements, fp32 <-> bf16 in the direction given by which pointer is set.
struct Convert {
  float* wide;
  bf16* narrow;
  const float* wide_src;
  const bf16* narrow_src;
  int64_t count;
};

// Every job in one parallel region (one fork/join instead of one per tensor), in fixed 16K-element
// chunks.
void convert_all(const std::vector<Convert>& jobs) {
  constexpr int64_t kChunk = int64_t(1) << 14;
  // The calling thread's list, reused across calls; the team reads it through a plain pointer
  // (a thread_local named inside the region would be each thread's own, empty, list).
  static thread_local std::vector<std::pair<const Convert*, int64_t>> list;
  list.clear();
  for (const Convert& job : jobs)
    for (int64_t begin = 0; begin < job.count; begin += kChunk) list.push_back({&job, begin});
  const std::pair<const Convert*, int64_t>* chunks = list.data();
  const int64_t count = int64_t(list.size());
#pragma omp parallel for schedule(static) if (count > 1 && !omp_in_parallel())
  for (int64_t i = 0; i < count; ++i) {
    const Convert& job = *chunks[i].first;
    const int64_t begin = chunks[i].second, size = std::min(kChunk, job.count - begin);
    if (job.narrow_src)
      to_float(job.wide + begin, job.narrow_src + begin, size);
    else
      to_bf16(job.narrow + begin, job.wide_src + begin, size);
  }
}

Convert widen(float* dst, const bf16* src, int64_t count) {
  return {dst, nullptr, nullptr, src, count};
}
Convert narrow(bf16* dst, const float* src, int64_t count) {
  return {nullptr, dst, src, nullptr, count};
}

// Batch elements in groups of one per thread (the kernels run a task per (batch element, head)
// forward and per (batch element, kv head) backward, statically split): the fp32 staging holds one
// group's q/k/v/out (and gradients), not the whole batch's (at batch 8 on 2 threads, 1/4 of the
// memory). Not fewer: with one batch element on two threads, the threads update the interleaved
// heads of the same rows and the backward ran 2x slower than on two elements (bench/bf16_kernels
// --fused). Attention never mixes batch elements, so the results are the same bits as one call.
int64_t group_size(const AttentionShape& s) {
  const int64_t threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  return std::clamp<int64_t>(threads, 1, std::max<int64_t>(s.batch, 1));
}

// Decode shape: a few new queries, no document masks. Such a step reads each key and value once
// per head, so it reads the bf16 cache directly instead of widening it whole.
constexpr int64_t kDecodeQueries = 16;
bool decode_shape(const int32_t* segment_ids, const AttentionShape& s) {
  return !segment_ids && s.q_len <= kDecodeQueries && s.kv_heads > 0 && s.heads % s.kv_heads == 0;
}

// One query row of one head: the fp32 scores of keys 0..count-1 (q . k times scale), their
// softmax, and the softmax-weighted sum of the values in fp32, rounded to bf16 once. `work` holds
// count + 2 * D floats. Returns the log-sum-exp.
float decode_query(bf16* out, const bf16* q, const bf16* k, const bf16* v, int64_t row,
                   int64_t count, int64_t D, float scale, float* work) {
  float* scores = work;
  float* qf = work + count;
  float* acc = qf + D;
  for (int64_t d = 0; d < D; ++d) qf[d] = to_f32(q[d]);
  float max_score = -INFINITY;
  for (int64_t j = 0; j < count; ++j) {
    const bf16* key = k + j * row;
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int64_t d = 0; d < D; ++d) dot += qf[d] * to_f32(key[d]);
    scores[j] = dot * scale;
    max_score = std::max(max_score, scores[j]);
  }
  float sum = 0.0f;
  for (int64_t j = 0; j < count; ++j) {
    scores[j] = std::exp(scores[j] - max_score);
    sum += scores[j];
  }
  std::fill(acc, acc + D, 0.0f);
  for (int64_t j = 0; j < count; ++j) {
    const float p = scores[j];
    const bf16* value = v + j * row;
#pragma omp simd
    for (int64_t d = 0; d < D; ++d) acc[d] += p * to_f32(value[d]);
  }
  const float inv = 1.0f / sum;
  for (int64_t d = 0; d < D; ++d) out[d] = to_bf16(acc[d] * inv);
  return max_score + std::log(sum);
}

// The decode shape over the team, one task per (batch element, head).
void decode_attention(bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                      const AttentionShape& s) {
  const int64_t D = s.head_dim, H = s.heads, group = H / s.kv_heads, Lq = s.q_len;
  const int64_t row = s.kv_heads * D;
  const int64_t kv_stride = s.kv_batch_stride ? s.kv_batch_stride : s.kv_len * row;
  const int64_t tasks = s.batch * H;
  const bool team = tasks > 1 && tasks * s.kv_len * D >= (int64_t(1) << 15) && !omp_in_parallel();
#pragma omp parallel for schedule(static) if (team)
  for (int64_t task = 0; task < tasks; ++task) {
    const int64_t b = task / H, h = task % H;
    const bf16* kb = k + b * kv_stride + (h / group) * D;
    const bf16* vb = v + b * kv_stride + (h / group) * D;
    float* work = staging<8>(s.kv_len + 2 * D);  // the calling thread's own
    for (int64_t t = 0; t < Lq; ++t) {
      const int64_t at = (b * Lq + t) * H + h;
      const float log_sum = decode_query(out + at * D, q + at * D, kb, vb, row,
                                         s.kv_len - Lq + t + 1, D, s.scale, work);
      if (lse) lse[(b * H + h) * Lq + t] = log_sum;
    }
  }
}

}  // namespace

void bf16_attention_forward(bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                            const int32_t* segment_ids, const AttentionShape& s) {
  if (decode_shape(segment_ids, s)) return decode_attention(out, lse, q, k, v, s);
  const int64_t q_count = s.q_len * s.heads * s.head_dim;
  const int64_t row = s.kv_heads * s.head_dim;
  const int64_t kv_stride = s.kv_batch_stride ? s.kv_batch_stride : s.kv_len * row;
  const int64_t kv_count = s.kv_len * row;  // what the kernel reads of one batch element
  const int64_t group = group_size(s);
  float* q32 = staging<0>(group * q_count);
  float* k32 = staging<1>(group * kv_count);
  float* v32 = staging<2>(group * kv_count);
  float* out32 = staging<3>(group * q_count);
  std::vector<Convert> jobs;
  for (int64_t b0 = 0; b0 < s.batch; b0 += group) {
    AttentionShape part = s;
    part.batch = std::min(group, s.batch - b0);
    part.kv_batch_stride = 0;  // staged compactly
    jobs.clear();
    jobs.push_back(widen(q32, q + b0 * q_count, part.batch * q_count));
    for (int64_t i = 0; i < part.batch; ++i) {
      jobs.push_back(widen(k32 + i * kv_count, k + (b0 + i) * kv_stride, kv_count));
      jobs.push_back(widen(v32 + i * kv_count, v + (b0 + i) * kv_stride, kv_count));
    }
    convert_all(jobs);
    attention_forward(out32, lse ? lse + b0 * s.heads * s.q_len : nullptr, q32, k32, v32,
                      segment_ids ? segment_ids + b0 * s.kv_len : nullptr, part);
    convert_all({narrow(out + b0 * q_count, out32, part.batch * q_count)});
  }
}

void bf16_attention_backward(bf16* dq, bf16* dk, bf16* dv, const bf16* dout, const bf16* out,
                             const float* lse, const bf16* q, const bf16* k, const bf16* v,
                             const int32_t* segment_ids, const AttentionShape& s) {
  MOAI_CHECK(s.q_len == s.kv_len && s.kv_batch_stride == 0);
  const int64_t q_count = s.q_len * s.heads * s.head_dim;
  const int64_t kv_count = s.kv_len * s.kv_heads * s.head_dim;
  const int64_t group = group_size(s);
  float* q32 = staging<0>(group * q_count);
  float* k32 = staging<1>(group * kv_count);
  float* v32 = staging<2>(group * kv_count);
  float* out32 = staging<3>(group * q_count);
  float* dout32 = staging<4>(group * q_count);
  float* dq32 = staging<5>(group * q_count);
  float* dk32 = staging<6>(group * kv_count);
  float* dv32 = staging<7>(group * kv_count);
  for (int64_t b0 = 0; b0 < s.batch; b0 += group) {
    AttentionShape part = s;
    part.batch = std::min(group, s.batch - b0);
    const int64_t qo = b0 * q_count, ko = b0 * kv_count;
    const int64_t qn = part.batch * q_count, kn = part.batch * kv_count;
    convert_all({widen(q32, q + qo, qn), widen(k32, k + ko, kn), widen(v32, v + ko, kn),
                 widen(out32, out + qo, qn), widen(dout32, dout + qo, qn)});
    attention_backward(dq32, dk32, dv32, dout32, out32, lse + b0 * s.heads * s.q_len, q32, k32, v32,
                       segment_ids ? segment_ids + b0 * s.kv_len : nullptr, part);
    convert_all({narrow(dq + qo, dq32, qn), narrow(dk + ko, dk32, kn), narrow(dv + ko, dv32, kn)});
  }
}

}  // namespace moai::ops::cpu
