// Flash-style attention backward (training shape: q_len == kv_len), in three deterministic kernels:
//   1. delta[b, h, i] = sum_d dout . out                       (one warp per query row)
//   2. dq: per query tile, loop over key tiles: recompute P from lse, dS = P * (dP - delta), dq +=
//   dS . K
//   3. dk, dv: per key tile and kv head, loop over the query heads of its group and the query
//   tiles:
//      dv += P^T . dO, dk += dS^T . Q
// Recomputing P in both 2 and 3 costs one extra Q.K^T and dO.V^T product but needs no atomics, so
// the gradients repeat bit for bit. Shared pieces and the masking rule are in attention_common.cuh.
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

struct BackwardParams {
  int64_t len, heads, kv_heads, head_dim;
  float scale;       // applied to q.k
  float scale_log2;  // scale * log2(e)
};

template <typename T>
__global__ void delta_kernel(float* delta, const T* dout, const T* out, int64_t rows, int64_t heads,
                             int64_t len, int64_t head_dim) {
  // rows = batch * len * heads, in the [B, L, H] order of out; delta is [B, H, L].
  const int64_t row = int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  float sum = 0.0f;
  for (int64_t d = lane; d < head_dim; d += 32)
    sum += to_float(dout[row * head_dim + d]) * to_float(out[row * head_dim + d]);
  sum = warp_sum(sum);
  if (lane == 0) {
    const int64_t head = row % heads, token = (row / heads) % len, batch = row / (heads * len);
    delta[(batch * heads + head) * len + token] = sum;
  }
}

size_t dq_shared_bytes(int head_dim) {
  return 4 * region(size_t(kRows) * bf16_ld(head_dim) * sizeof(bf16)) +     // Q, dO, K, V tiles
         2 * region(size_t(kWarps) * 16 * f32_ld(kRows) * sizeof(float)) +  // S, dP per warp
         region(size_t(kWarps) * 16 * bf16_ld(kRows) * sizeof(bf16)) +      // dS per warp
         region(size_t(kWarps) * 16 * f32_ld(head_dim) * sizeof(float));    // dQ per warp
}

// grid (query tiles, heads, batch). Lanes 2r, 2r+1 own row r of the warp's 16 query rows.
template <typename T>
__global__ void __launch_bounds__(kWarps * 32)
    attention_dq_kernel(T* dq, const T* dout, const float* lse, const float* delta, const T* q,
                        const T* k, const T* v, const int32_t* segment_ids,
                        const int32_t* first_key, BackwardParams p) {
  extern __shared__ __align__(128) unsigned char shared[];
  const int D = int(p.head_dim);
  const int ld_bf = bf16_ld(D), ld_acc = f32_ld(D), ld_s = f32_ld(kRows), ld_p = bf16_ld(kRows);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t batch = blockIdx.z, head = blockIdx.y, kv_head = head / (p.heads / p.kv_heads);
  const int64_t q0 = int64_t(blockIdx.x) * kRows;

  SharedCarver carve(shared);
  bf16* q_tile = carve.take<bf16>(size_t(kRows) * ld_bf);
  bf16* do_tile = carve.take<bf16>(size_t(kRows) * ld_bf);
  bf16* k_tile = carve.take<bf16>(size_t(kRows) * ld_bf);
  bf16* v_tile = carve.take<bf16>(size_t(kRows) * ld_bf);
  float* s_warp = carve.take<float>(size_t(kWarps) * 16 * ld_s) + warp * 16 * ld_s;
  float* dp_warp = carve.take<float>(size_t(kWarps) * 16 * ld_s) + warp * 16 * ld_s;
  bf16* ds_warp = carve.take<bf16>(size_t(kWarps) * 16 * ld_p) + warp * 16 * ld_p;
  float* dq_warp = carve.take<float>(size_t(kWarps) * 16 * ld_acc) + warp * 16 * ld_acc;

  const int64_t q_stride = p.heads * D, kv_stride = p.kv_heads * D;
  const int64_t q_base = batch * p.len * q_stride + head * D;
  const int64_t kv_base = batch * p.len * kv_stride + kv_head * D;
  const int32_t* seg = segment_ids ? segment_ids + batch * p.len : nullptr;
  load_tile(q_tile, q + q_base, q_stride, q0, kRows, p.len, D);
  load_tile(do_tile, dout + q_base, q_stride, q0, kRows, p.len, D);
  for (int index = lane; index < 16 * ld_acc; index += 32) dq_warp[index] = 0.0f;

  const int row = lane / 2, half = lane % 2;
  const int64_t query = q0 + warp * 16 + row;
  const bool row_valid = query < p.len;
  const int64_t stat = (batch * p.heads + head) * p.len + (row_valid ? query : 0);
  const float row_lse2 = row_valid ? lse[stat] * kLog2e : 0.0f;
  const float row_delta = row_valid ? delta[stat] : 0.0f;

  const int64_t last_query = std::min<int64_t>(q0 + kRows, p.len) - 1;
  const int64_t key_begin = first_key ? first_key[batch * p.len + q0] : 0;
  for (int64_t k0 = key_begin / kRows * kRows; k0 <= last_query; k0 += kRows) {
    __syncthreads();
    load_tile(k_tile, k + kv_base, kv_stride, k0, kRows, p.len, D);
    load_tile(v_tile, v + kv_base, kv_stride, k0, kRows, p.len, D);
    __syncthreads();
    warp_gemm<false, false>(s_warp, ld_s, q_tile + warp * 16 * ld_bf, ld_bf, k_tile, ld_bf,
                            kRows / 16, D / 16);
    warp_gemm<false, false>(dp_warp, ld_s, do_tile + warp * 16 * ld_bf, ld_bf, v_tile, ld_bf,
                            kRows / 16, D / 16);
    __syncwarp();
#pragma unroll 4
    for (int j = 0; j < 32; ++j) {
      const int col = half * 32 + j;
      const int64_t key = k0 + col;
      float ds = 0.0f;
      if (row_valid && key < p.len && visible(query, key, seg)) {
        const float prob = exp2f(s_warp[row * ld_s + col] * p.scale_log2 - row_lse2);
        ds = prob * (dp_warp[row * ld_s + col] - row_delta);
      }
      ds_warp[row * ld_p + col] = __float2bfloat16_rn(ds);
    }
    __syncwarp();
    warp_gemm<true, true>(dq_warp, ld_acc, ds_warp, ld_p, k_tile, ld_bf, D / 16, kRows / 16);
    __syncwarp();
  }
  if (row_valid) {
    T* dq_row = dq + q_base + query * q_stride;
    for (int d = half; d < D; d += 2)
      dq_row[d] = from_float<T>(dq_warp[row * ld_acc + d] * p.scale);
  }
}

template <int kQueryRows>
size_t dkdv_shared_bytes(int head_dim) {
  return 2 * region(size_t(kRows) * bf16_ld(head_dim) * sizeof(bf16)) +       // K, V (block's keys)
         2 * region(size_t(kQueryRows) * bf16_ld(head_dim) * sizeof(bf16)) +  // Q, dO tiles
         2 * region(size_t(kWarps) * 16 * f32_ld(kQueryRows) *
                    sizeof(float)) +  // S^T, dP^T per warp
         2 * region(size_t(kWarps) * 16 * bf16_ld(kQueryRows) *
                    sizeof(bf16)) +                                            // P^T, dS^T per warp
         2 * region(size_t(kWarps) * 16 * f32_ld(head_dim) * sizeof(float)) +  // dK, dV per warp
         2 * region(size_t(kQueryRows) * sizeof(float));  // lse, delta of the tile
}

// grid (key tiles, kv heads, batch). Warp w owns keys [16w, 16w + 16) of the block's 64; lanes 2r,
// 2r+1 own key row r and split the kQueryRows query columns of each tile.
template <typename T, int kQueryRows>
__global__ void __launch_bounds__(kWarps * 32)
    attention_dkdv_kernel(T* dk, T* dv, const T* dout, const float* lse, const float* delta,
                          const T* q, const T* k, const T* v, const int32_t* segment_ids,
                          const int32_t* first_key, BackwardParams p) {
  extern __shared__ __align__(128) unsigned char shared[];
  constexpr int kColsPerLane = kQueryRows / 2;
  const int D = int(p.head_dim);
  const int ld_bf = bf16_ld(D), ld_acc = f32_ld(D), ld_s = f32_ld(kQueryRows),
            ld_p = bf16_ld(kQueryRows);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t batch = blockIdx.z, kv_head = blockIdx.y, group = p.heads / p.kv_heads;
  const int64_t k0 = int64_t(blockIdx.x) * kRows;

  SharedCarver carve(shared);
  bf16* k_tile = carve.take<bf16>(size_t(kRows) * ld_bf);
  bf16* v_tile = carve.take<bf16>(size_t(kRows) * ld_bf);
  bf16* q_tile = carve.take<bf16>(size_t(kQueryRows) * ld_bf);
  bf16* do_tile = carve.take<bf16>(size_t(kQueryRows) * ld_bf);
  float* s_warp = carve.take<float>(size_t(kWarps) * 16 * ld_s) + warp * 16 * ld_s;
  float* dp_warp = carve.take<float>(size_t(kWarps) * 16 * ld_s) + warp * 16 * ld_s;
  bf16* p_warp = carve.take<bf16>(size_t(kWarps) * 16 * ld_p) + warp * 16 * ld_p;
  bf16* ds_warp = carve.take<bf16>(size_t(kWarps) * 16 * ld_p) + warp * 16 * ld_p;
  float* dk_warp = carve.take<float>(size_t(kWarps) * 16 * ld_acc) + warp * 16 * ld_acc;
  float* dv_warp = carve.take<float>(size_t(kWarps) * 16 * ld_acc) + warp * 16 * ld_acc;
  float* lse_tile = carve.take<float>(kQueryRows);
  float* delta_tile = carve.take<float>(kQueryRows);

  const int64_t q_stride = p.heads * D, kv_stride = p.kv_heads * D;
  const int64_t kv_base = batch * p.len * kv_stride + kv_head * D;
  const int32_t* seg = segment_ids ? segment_ids + batch * p.len : nullptr;
  load_tile(k_tile, k + kv_base, kv_stride, k0, kRows, p.len, D);
  load_tile(v_tile, v + kv_base, kv_stride, k0, kRows, p.len, D);
  for (int index = lane; index < 16 * ld_acc; index += 32) {
    dk_warp[index] = 0.0f;
    dv_warp[index] = 0.0f;
  }
  const int row = lane / 2, half = lane % 2;
  const int64_t key = k0 + warp * 16 + row;
  const bool key_valid = key < p.len;
  const int64_t last_key = std::min<int64_t>(k0 + kRows, p.len) - 1;

  for (int64_t head = kv_head * group; head < (kv_head + 1) * group; ++head) {
    const int64_t q_base = batch * p.len * q_stride + head * D;
    const int64_t stat_base = (batch * p.heads + head) * p.len;
    for (int64_t q0 = k0 / kQueryRows * kQueryRows; q0 < p.len; q0 += kQueryRows) {
      // Queries whose document starts after this block's last key see none of its keys; with
      // non-decreasing segments so do all later tiles.
      if (first_key && first_key[batch * p.len + q0] > last_key) break;
      __syncthreads();
      load_tile(q_tile, q + q_base, q_stride, q0, kQueryRows, p.len, D);
      load_tile(do_tile, dout + q_base, q_stride, q0, kQueryRows, p.len, D);
      for (int index = threadIdx.x; index < kQueryRows; index += blockDim.x) {
        const int64_t query = q0 + index;
        lse_tile[index] = query < p.len ? lse[stat_base + query] * kLog2e : 0.0f;
        delta_tile[index] = query < p.len ? delta[stat_base + query] : 0.0f;
      }
      __syncthreads();
      // S^T = K_w . Q^T and dP^T = V_w . dO^T, [16 keys, kQueryRows queries].
      warp_gemm<false, false>(s_warp, ld_s, k_tile + warp * 16 * ld_bf, ld_bf, q_tile, ld_bf,
                              kQueryRows / 16, D / 16);
      warp_gemm<false, false>(dp_warp, ld_s, v_tile + warp * 16 * ld_bf, ld_bf, do_tile, ld_bf,
                              kQueryRows / 16, D / 16);
      __syncwarp();
#pragma unroll 4
      for (int j = 0; j < kColsPerLane; ++j) {
        const int col = half * kColsPerLane + j;
        const int64_t query = q0 + col;
        float prob = 0.0f, ds = 0.0f;
        if (key_valid && query < p.len && visible(query, key, seg)) {
          prob = exp2f(s_warp[row * ld_s + col] * p.scale_log2 - lse_tile[col]);
          ds = prob * (dp_warp[row * ld_s + col] - delta_tile[col]);
        }
        p_warp[row * ld_p + col] = __float2bfloat16_rn(prob);
        ds_warp[row * ld_p + col] = __float2bfloat16_rn(ds);
      }
      __syncwarp();
      warp_gemm<true, true>(dv_warp, ld_acc, p_warp, ld_p, do_tile, ld_bf, D / 16, kQueryRows / 16);
      warp_gemm<true, true>(dk_warp, ld_acc, ds_warp, ld_p, q_tile, ld_bf, D / 16, kQueryRows / 16);
      __syncwarp();
    }
  }
  if (key_valid) {
    T* dk_row = dk + kv_base + key * kv_stride;
    T* dv_row = dv + kv_base + key * kv_stride;
    for (int d = half; d < D; d += 2) {
      dk_row[d] = from_float<T>(dk_warp[row * ld_acc + d] * p.scale);
      dv_row[d] = from_float<T>(dv_warp[row * ld_acc + d]);
    }
  }
}

}  // namespace
}  // namespace attention

template <typename T>
void attention_backward(Device& device, T* dq, T* dk, T* dv, const T* dout, const T* out,
                        const float* lse, const T* q, const T* k, const T* v,
                        const int32_t* segment_ids, const AttentionShape& s) {
  using namespace attention;
  if (s.batch == 0 || s.q_len == 0 || s.heads == 0) return;
  const bool ok =
      s.q_len == s.kv_len &&
      (s.kv_batch_stride == 0 || s.kv_batch_stride == s.kv_len * s.kv_heads * s.head_dim) &&
      s.head_dim % 16 == 0 && s.kv_heads > 0 && s.heads % s.kv_heads == 0;
  const int D = int(s.head_dim);
  const size_t limit = device.state().max_shared_memory_per_block;
  const size_t dq_bytes = dq_shared_bytes(D);
  const bool wide =
      dkdv_shared_bytes<64>(D) <= limit;  // 64 query rows per tile where it fits (Hopper)
  const size_t dkdv_bytes = wide ? dkdv_shared_bytes<64>(D) : dkdv_shared_bytes<32>(D);
  if (!ok || dq_bytes > limit || dkdv_bytes > limit) {
    throw InternalError("attention_backward: unsupported shape on CUDA: head_dim " +
                        std::to_string(s.head_dim) + " (multiple of 16 needed; shared memory " +
                        std::to_string(std::max(dq_bytes, dkdv_bytes)) + " of " +
                        std::to_string(limit) + " bytes), heads " + std::to_string(s.heads) + "/" +
                        std::to_string(s.kv_heads) + ", q_len " + std::to_string(s.q_len) +
                        ", kv_len " + std::to_string(s.kv_len));
  }
  nvtxRangePushA("moai::attention_backward");
  cudaStream_t stream = device.state().stream;
  const int64_t L = s.q_len;
  const size_t delta_bytes = region(size_t(s.batch * s.heads * L) * sizeof(float));
  const size_t first_bytes = segment_ids ? region(size_t(s.batch * L) * sizeof(int32_t)) : 0;
  char* scratch = static_cast<char*>(device_scratch(device, delta_bytes + first_bytes));
  auto* delta = reinterpret_cast<float*>(scratch);
  int32_t* first_key = segment_ids ? reinterpret_cast<int32_t*>(scratch + delta_bytes) : nullptr;
  if (segment_ids) segment_first_keys(device, first_key, segment_ids, s.batch, L);

  const int64_t rows = s.batch * L * s.heads;
  delta_kernel<T><<<static_cast<unsigned>(ceil_div(rows, 8)), 256, 0, stream>>>(
      delta, dout, out, rows, s.heads, L, s.head_dim);
  MOAI_CUDA_CHECK_LAUNCH();

  const BackwardParams params{L, s.heads, s.kv_heads, s.head_dim, s.scale, s.scale * kLog2e};
  auto dq_kernel = attention_dq_kernel<T>;
  MOAI_CUDA_CHECK(
      cudaFuncSetAttribute(dq_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(dq_bytes)));
  const dim3 dq_grid(static_cast<unsigned>(ceil_div(L, kRows)), static_cast<unsigned>(s.heads),
                     static_cast<unsigned>(s.batch));
  dq_kernel<<<dq_grid, kWarps * 32, dq_bytes, stream>>>(dq, dout, lse, delta, q, k, v, segment_ids,
                                                        first_key, params);
  MOAI_CUDA_CHECK_LAUNCH();

  auto dkdv_kernel = wide ? attention_dkdv_kernel<T, 64> : attention_dkdv_kernel<T, 32>;
  MOAI_CUDA_CHECK(cudaFuncSetAttribute(dkdv_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       int(dkdv_bytes)));
  const dim3 dkdv_grid(static_cast<unsigned>(ceil_div(L, kRows)), static_cast<unsigned>(s.kv_heads),
                       static_cast<unsigned>(s.batch));
  dkdv_kernel<<<dkdv_grid, kWarps * 32, dkdv_bytes, stream>>>(dk, dv, dout, lse, delta, q, k, v,
                                                              segment_ids, first_key, params);
  MOAI_CUDA_CHECK_LAUNCH();
  nvtxRangePop();
}

template void attention_backward<float>(Device&, float*, float*, float*, const float*, const float*,
                                        const float*, const float*, const float*, const float*,
                                        const int32_t*, const AttentionShape&);
template void attention_backward<bf16>(Device&, bf16*, bf16*, bf16*, const bf16*, const bf16*,
                                       const float*, const bf16*, const bf16*, const bf16*,
                                       const int32_t*, const AttentionShape&);

}  // namespace moai::ops::cuda
