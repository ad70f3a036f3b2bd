#pragma once
// Pieces shared by the flash-style attention kernels (attention_forward.cu, attention_backward.cu).
//
// Design (chosen without a GPU to measure on; see docs/cuda.md): bf16 tensor-core products through
// WMMA (16x16x16 fragments, fp32 accumulation), one warp per 16 rows of a 64-row tile, tiles staged
// in shared memory as bf16 whatever the storage type, softmax in fp32 with exp2. Every product
// writes its fp32 result to shared memory and the elementwise steps (mask, online softmax, dS) run
// on it there: simple to check, not the fastest layout (FlashAttention-2 keeps accumulators in
// registers).
//
// Masks: key j is visible to query i (absolute positions within the batch row) when j <= i and,
// with segment ids, seg[j] == seg[i]. Tiles that are entirely masked are skipped: key tiles below
// the first key of the query tile's document (first_key, from segment_first_keys()) and above its
// last query.
#include <cuda_bf16.h>
#include <mma.h>

#include <cstdint>
#include <type_traits>

#include "moai/ops/cuda/common.cuh"
#include "moai/ops/cuda/device.h"

namespace moai::ops::cuda::attention {

namespace wmma = nvcuda::wmma;

constexpr int kWarps = 4;
constexpr int kRows =
    16 * kWarps;  // rows of a block's own tile (queries forward/dQ, keys for dK/dV)
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// Leading dimensions (elements) of the shared-memory tiles: padded by 16 bytes against bank
// conflicts, and multiples of 8 (bf16) or 4 (fp32) as WMMA requires.
__host__ __device__ constexpr int bf16_ld(int cols) {
  return cols + 8;
}
__host__ __device__ constexpr int f32_ld(int cols) {
  return cols + 4;
}

// Bytes of a region rounded up to 128 so every region starts 32-byte aligned (WMMA needs 256-bit
// alignment).
__host__ __device__ constexpr size_t region(size_t bytes) {
  return (bytes + 127) / 128 * 128;
}

// Hands out consecutive regions of a block's dynamic shared memory, each padded by region().
class SharedCarver {
 public:
  __device__ explicit SharedCarver(unsigned char* base) : cursor_(base) {}
  template <typename E>
  __device__ E* take(size_t count) {
    E* ptr = reinterpret_cast<E*>(cursor_);
    cursor_ += region(count * sizeof(E));
    return ptr;
  }

 private:
  unsigned char* cursor_;
};

// Copies rows [row0, row0 + rows) of a [total_rows, D] head slice (row stride `stride` elements)
// into a bf16 shared tile; rows past total_rows are zero. All threads of the block take part.
template <typename T>
__device__ __forceinline__ void load_tile(bf16* tile, const T* src, int64_t stride, int64_t row0,
                                          int rows, int64_t total_rows, int head_dim) {
  const int ld = bf16_ld(head_dim);
  for (int index = threadIdx.x; index < rows * head_dim; index += blockDim.x) {
    const int r = index / head_dim, d = index % head_dim;
    const int64_t row = row0 + r;
    tile[r * ld + d] = row < total_rows ? __float2bfloat16_rn(to_float(src[row * stride + d]))
                                        : __float2bfloat16_rn(0.0f);
  }
}

// C[16, 16*n_tiles] (fp32, shared, ldc) = A[16, K] . B[K, 16*n_tiles], K = 16*k_tiles, for one
// warp. A is row-major (lda). B is row-major [K, N] (ldb) when B_ROW_MAJOR, else it is stored
// transposed as row-major [N, K] (ldb), i.e. column-major [K, N]. When ACCUMULATE, C's old contents
// are added.
template <bool B_ROW_MAJOR, bool ACCUMULATE>
__device__ __forceinline__ void warp_gemm(float* c, int ldc, const bf16* a, int lda, const bf16* b,
                                          int ldb, int n_tiles, int k_tiles) {
  using BLayout = typename std::conditional<B_ROW_MAJOR, wmma::row_major, wmma::col_major>::type;
  for (int nt = 0; nt < n_tiles; ++nt) {
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
    if (ACCUMULATE) {
      wmma::load_matrix_sync(acc, c + nt * 16, ldc, wmma::mem_row_major);
    } else {
      wmma::fill_fragment(acc, 0.0f);
    }
    for (int kt = 0; kt < k_tiles; ++kt) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> frag_a;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, BLayout> frag_b;
      wmma::load_matrix_sync(frag_a, a + kt * 16, lda);
      if (B_ROW_MAJOR) {
        wmma::load_matrix_sync(frag_b, b + int64_t(kt) * 16 * ldb + nt * 16, ldb);
      } else {
        wmma::load_matrix_sync(frag_b, b + int64_t(nt) * 16 * ldb + kt * 16, ldb);
      }
      wmma::mma_sync(acc, frag_a, frag_b, acc);
    }
    wmma::store_matrix_sync(c + nt * 16, acc, ldc, wmma::mem_row_major);
  }
}

__device__ __forceinline__ bool visible(int64_t query, int64_t key, const int32_t* seg) {
  return key <= query && (seg == nullptr || seg[key] == seg[query]);
}

}  // namespace moai::ops::cuda::attention

namespace moai::ops::cuda {

// first_key[b, j] = the first position of the run of equal segment ids that contains j, when every
// row's segment ids are non-decreasing (packed documents); 0 for every position of a row that is
// not, so tile skipping stays exact for any segment layout. `out` is [batch, len] in device memory.
void segment_first_keys(Device& device, int32_t* out, const int32_t* segment_ids, int64_t batch,
                        int64_t len);

}  // namespace moai::ops::cuda
