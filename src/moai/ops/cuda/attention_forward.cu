// Flash-style attention forward: causal, GQA, optional segment (document) masks, q_len <= kv_len
// for decoding with a KV cache. Never materialises more than a 64 x 64 score tile per block. See
// attention_common.cuh for the design; cpu::attention_forward is the reference it is checked
// against.
#include <nvtx3/nvToolsExt.h>

#include <string>

#include "moai/core/error.h"
#include "moai/ops/cuda/attention_common.cuh"
#include "moai/ops/cuda/check.h"
#include "moai/ops/cuda/device_state.cuh"
#include "moai/ops/cuda/kernels.cuh"

namespace moai::ops::cuda {
namespace attention {
namespace {

struct ForwardParams {
  int64_t q_len, kv_len, heads, kv_heads, head_dim, kv_batch_stride;
  float scale_log2;  // scale * log2(e): scores go straight into exp2
};

size_t forward_shared_bytes(int head_dim) {
  return 3 * region(size_t(kRows) * bf16_ld(head_dim) * sizeof(bf16)) +   // Q, K, V tiles
         region(size_t(kWarps) * 16 * f32_ld(kRows) * sizeof(float)) +    // S per warp
         region(size_t(kWarps) * 16 * bf16_ld(kRows) * sizeof(bf16)) +    // P per warp
         region(size_t(kWarps) * 16 * f32_ld(head_dim) * sizeof(float));  // O per warp
}

// grid (query tiles, heads, batch), kWarps warps. Warp w owns query rows [16w, 16w + 16) of the
// tile; within the warp, lanes 2r and 2r+1 own row r, each half of the key columns and half of the
// head dims.
template <typename T>
__global__ void __launch_bounds__(kWarps * 32)
    attention_forward_kernel(T* out, float* lse, const T* q, const T* k, const T* v,
                             const int32_t* segment_ids, const int32_t* first_key,
                             ForwardParams p) {
  extern __shared__ __align__(128) unsigned char shared[];
  const int D = int(p.head_dim);
  const int ld_bf = bf16_ld(D), ld_o = f32_ld(D), ld_s = f32_ld(kRows), ld_p = bf16_ld(kRows);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t batch = blockIdx.z, head = blockIdx.y, kv_head = head / (p.heads / p.kv_heads);
  const int64_t q0 = int64_t(blockIdx.x) * kRows;
  const int64_t offset = p.kv_len - p.q_len;  // absolute position of query i is offset + i

  SharedCarver carve(shared);
  bf16* q_tile = carve.take<bf16>(size_t(kRows) * ld_bf);
  bf16* k_tile = carve.take<bf16>(size_t(kRows) * ld_bf);
  bf16* v_tile = carve.take<bf16>(size_t(kRows) * ld_bf);
  float* s_warp = carve.take<float>(size_t(kWarps) * 16 * ld_s) + warp * 16 * ld_s;
  bf16* p_warp = carve.take<bf16>(size_t(kWarps) * 16 * ld_p) + warp * 16 * ld_p;
  float* o_warp = carve.take<float>(size_t(kWarps) * 16 * ld_o) + warp * 16 * ld_o;

  const int64_t q_stride = p.heads * D, kv_stride = p.kv_heads * D;
  const T* q_head = q + (batch * p.q_len) * q_stride + head * D;
  const T* k_head = k + batch * p.kv_batch_stride + kv_head * D;
  const T* v_head = v + batch * p.kv_batch_stride + kv_head * D;
  const int32_t* seg = segment_ids ? segment_ids + batch * p.kv_len : nullptr;

  load_tile(q_tile, q_head, q_stride, q0, kRows, p.q_len, D);
  for (int index = lane; index < 16 * ld_o; index += 32) o_warp[index] = 0.0f;

  const int row = lane / 2, half = lane % 2;
  const int64_t query = q0 + warp * 16 + row;  // index within q_len
  const bool row_valid = query < p.q_len;
  const int64_t query_pos = offset + (row_valid ? query : p.q_len - 1);
  float row_max = -INFINITY, row_sum = 0.0f;

  // Key range of the tile: from the first key of the first query's document to the last query's
  // position.
  const int64_t first_pos = offset + q0;
  const int64_t last_pos = offset + std::min<int64_t>(q0 + kRows, p.q_len) - 1;
  const int64_t key_begin = first_key ? first_key[batch * p.kv_len + first_pos] : 0;
  for (int64_t k0 = key_begin / kRows * kRows; k0 <= last_pos; k0 += kRows) {
    __syncthreads();  // previous tile fully consumed
    load_tile(k_tile, k_head, kv_stride, k0, kRows, p.kv_len, D);
    load_tile(v_tile, v_head, kv_stride, k0, kRows, p.kv_len, D);
    __syncthreads();

    warp_gemm<false, false>(s_warp, ld_s, q_tile + warp * 16 * ld_bf, ld_bf, k_tile, ld_bf,
                            kRows / 16, D / 16);
    __syncwarp();

    // Online softmax over this row's 32 columns of the tile.
    float scores[32];
    float tile_max = -INFINITY;
#pragma unroll
    for (int j = 0; j < 32; ++j) {
      const int col = half * 32 + j;
      const int64_t key = k0 + col;
      const bool ok = row_valid && key < p.kv_len && visible(query_pos, key, seg);
      scores[j] = ok ? s_warp[row * ld_s + col] * p.scale_log2 : -INFINITY;
      tile_max = fmaxf(tile_max, scores[j]);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 1));
    const float new_max = fmaxf(row_max, tile_max);
    const float alpha = new_max == -INFINITY ? 1.0f : exp2f(row_max - new_max);
    float tile_sum = 0.0f;
#pragma unroll
    for (int j = 0; j < 32; ++j) {
      const float prob = scores[j] == -INFINITY ? 0.0f : exp2f(scores[j] - new_max);
      tile_sum += prob;
      p_warp[row * ld_p + half * 32 + j] = __float2bfloat16_rn(prob);
    }
    tile_sum += __shfl_xor_sync(0xffffffffu, tile_sum, 1);
    row_sum = row_sum * alpha + tile_sum;
    row_max = new_max;
    for (int d = half; d < D; d += 2) o_warp[row * ld_o + d] *= alpha;
    __syncwarp();

    warp_gemm<true, true>(o_warp, ld_o, p_warp, ld_p, v_tile, ld_bf, D / 16, kRows / 16);
    __syncwarp();
  }

  if (row_valid) {
    const float inv = row_sum > 0.0f ? 1.0f / row_sum : 0.0f;
    T* o_row = out + (batch * p.q_len + query) * q_stride + head * D;
    for (int d = half; d < D; d += 2) o_row[d] = from_float<T>(o_warp[row * ld_o + d] * inv);
    if (lse && half == 0) {
      lse[(batch * p.heads + head) * p.q_len + query] = (row_max + log2f(row_sum)) * kLn2;
    }
  }
}

// One block per batch row. Non-decreasing rows get run starts (a prefix max of "j starts a run ? j
// : 0"), other rows get 0 everywhere.
__global__ void segment_first_keys_kernel(int32_t* out, const int32_t* segment_ids, int64_t len) {
  __shared__ int32_t chunk_max[1024];
  const int32_t* seg = segment_ids + int64_t(blockIdx.x) * len;
  int32_t* dst = out + int64_t(blockIdx.x) * len;
  int decreasing = 0;
  for (int64_t j = 1 + threadIdx.x; j < len; j += blockDim.x) decreasing |= seg[j] < seg[j - 1];
  if (__syncthreads_or(decreasing)) {
    for (int64_t j = threadIdx.x; j < len; j += blockDim.x) dst[j] = 0;
    return;
  }
  const int64_t chunk = (len + blockDim.x - 1) / blockDim.x;
  const int64_t begin = threadIdx.x * chunk, end = std::min<int64_t>(len, begin + chunk);
  int32_t running = 0;
  for (int64_t j = begin; j < end; ++j) {
    if (j == 0 || seg[j] != seg[j - 1]) running = int32_t(j);
    dst[j] = running;
  }
  chunk_max[threadIdx.x] = running;
  __syncthreads();
  if (threadIdx.x == 0) {
    int32_t prefix = 0;
    for (unsigned t = 0; t < blockDim.x; ++t) {
      const int32_t own = chunk_max[t];
      chunk_max[t] = prefix;  // exclusive prefix max
      prefix = max(prefix, own);
    }
  }
  __syncthreads();
  const int32_t carried = chunk_max[threadIdx.x];
  for (int64_t j = begin; j < end; ++j) dst[j] = max(dst[j], carried);
}

}  // namespace

size_t forward_shared_bytes_for(int head_dim) {
  return forward_shared_bytes(head_dim);
}

}  // namespace attention

void segment_first_keys(Device& device, int32_t* out, const int32_t* segment_ids, int64_t batch,
                        int64_t len) {
  if (batch == 0 || len == 0) return;
  attention::
      segment_first_keys_kernel<<<static_cast<unsigned>(batch), 1024, 0, device.state().stream>>>(
          out, segment_ids, len);
  MOAI_CUDA_CHECK_LAUNCH();
}

namespace {

void check_attention_shape(Device& device, const AttentionShape& s, size_t shared_bytes,
                           const char* op) {
  const bool ok = s.head_dim % 16 == 0 && s.head_dim >= 16 && s.kv_heads > 0 &&
                  s.heads % s.kv_heads == 0 && s.q_len <= s.kv_len;
  if (!ok || shared_bytes > device.state().max_shared_memory_per_block) {
    throw InternalError(
        std::string(op) + ": unsupported shape on CUDA: head_dim " + std::to_string(s.head_dim) +
        " (needs a multiple of 16, shared memory " + std::to_string(shared_bytes) + " of " +
        std::to_string(device.state().max_shared_memory_per_block) + " bytes), heads " +
        std::to_string(s.heads) + "/" + std::to_string(s.kv_heads) + ", q_len " +
        std::to_string(s.q_len) + ", kv_len " + std::to_string(s.kv_len));
  }
}

}  // namespace

template <typename T>
void attention_forward(Device& device, T* out, float* lse, const T* q, const T* k, const T* v,
                       const int32_t* segment_ids, const AttentionShape& s) {
  if (s.batch == 0 || s.q_len == 0 || s.heads == 0) return;
  const size_t shared_bytes = attention::forward_shared_bytes(int(s.head_dim));
  check_attention_shape(device, s, shared_bytes, "attention_forward");
  nvtxRangePushA("moai::attention_forward");
  cudaStream_t stream = device.state().stream;
  int32_t* first_key = nullptr;
  if (segment_ids) {
    first_key =
        static_cast<int32_t*>(device_scratch(device, size_t(s.batch * s.kv_len) * sizeof(int32_t)));
    segment_first_keys(device, first_key, segment_ids, s.batch, s.kv_len);
  }
  attention::ForwardParams params{
      s.q_len,
      s.kv_len,
      s.heads,
      s.kv_heads,
      s.head_dim,
      s.kv_batch_stride ? s.kv_batch_stride : s.kv_len * s.kv_heads * s.head_dim,
      s.scale * attention::kLog2e};
  auto kernel = attention::attention_forward_kernel<T>;
  MOAI_CUDA_CHECK(
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(shared_bytes)));
  const dim3 grid(static_cast<unsigned>(ceil_div(s.q_len, attention::kRows)),
                  static_cast<unsigned>(s.heads), static_cast<unsigned>(s.batch));
  kernel<<<grid, attention::kWarps * 32, shared_bytes, stream>>>(out, lse, q, k, v, segment_ids,
                                                                 first_key, params);
  MOAI_CUDA_CHECK_LAUNCH();
  nvtxRangePop();
}

template void attention_forward<float>(Device&, float*, float*, const float*, const float*,
                                       const float*, const int32_t*, const AttentionShape&);
template void attention_forward<bf16>(Device&, bf16*, float*, const bf16*, const bf16*, const bf16*,
                                      const int32_t*, const AttentionShape&);

}  // namespace moai::ops::cuda
