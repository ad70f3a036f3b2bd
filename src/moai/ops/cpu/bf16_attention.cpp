// bf16 attention over the fp32 kernels (see bf16_attention.h).
#include "moai/ops/cpu/bf16_attention.h"

#include <omp.h>

#include <algorithm>
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
void convert_all(std::initializer_list<Convert> jobs) {
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

}  // namespace

void bf16_attention_forward(bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                            const int32_t* segment_ids, const AttentionShape& s) {
  const int64_t q_count = s.batch * s.q_len * s.heads * s.head_dim;
  const int64_t row = s.kv_heads * s.head_dim;
  const int64_t kv_stride = s.kv_batch_stride ? s.kv_batch_stride : s.kv_len * row;
  // Elements of k/v that the kernel reads: every batch element's first kv_len rows.
  const int64_t kv_count = s.batch == 0 ? 0 : (s.batch - 1) * kv_stride + s.kv_len * row;
  float* q32 = staging<0>(q_count);
  float* k32 = staging<1>(kv_count);
  float* v32 = staging<2>(kv_count);
  float* out32 = staging<3>(q_count);
  convert_all({widen(q32, q, q_count), widen(k32, k, kv_count), widen(v32, v, kv_count)});
  attention_forward(out32, lse, q32, k32, v32, segment_ids, s);
  convert_all({narrow(out, out32, q_count)});
}

void bf16_attention_backward(bf16* dq, bf16* dk, bf16* dv, const bf16* dout, const bf16* out,
                             const float* lse, const bf16* q, const bf16* k, const bf16* v,
                             const int32_t* segment_ids, const AttentionShape& s) {
  MOAI_CHECK(s.q_len == s.kv_len && s.kv_batch_stride == 0);
  const int64_t q_count = s.batch * s.q_len * s.heads * s.head_dim;
  const int64_t kv_count = s.batch * s.kv_len * s.kv_heads * s.head_dim;
  float* q32 = staging<0>(q_count);
  float* k32 = staging<1>(kv_count);
  float* v32 = staging<2>(kv_count);
  float* out32 = staging<3>(q_count);
  float* dout32 = staging<4>(q_count);
  float* dq32 = staging<5>(q_count);
  float* dk32 = staging<6>(kv_count);
  float* dv32 = staging<7>(kv_count);
  convert_all({widen(q32, q, q_count), widen(k32, k, kv_count), widen(v32, v, kv_count),
               widen(out32, out, q_count), widen(dout32, dout, q_count)});
  attention_backward(dq32, dk32, dv32, dout32, out32, lse, q32, k32, v32, segment_ids, s);
  convert_all({narrow(dq, dq32, q_count), narrow(dk, dk32, kv_count), narrow(dv, dv32, kv_count)});
}

}  // namespace moai::ops::cpu
