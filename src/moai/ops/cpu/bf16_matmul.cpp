// bf16 matmul engines (see bf16_matmul.h).
//
// The AVX512-BF16 kernel, GotoBLAS style: for each NC-column panel and KC-deep slice, B is packed
// into 32-column strips of bf16 pairs (k, k+1) -> one uint32 per column, and for each MC-row block
// A into 12-row strips of the same pairs. The micro-kernel keeps a 12 x 32 fp32 tile in 24 zmm
// registers; per pair of k it loads two B vectors, broadcasts each row's A pair and issues 24
// vdpbf16ps (each one 16 lanes x 2 products). alpha and beta are applied when the tile is stored;
// slices after the first add into c (beta 1).
#include "moai/ops/cpu/bf16_matmul.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "moai/core/error.h"
#include "moai/ops/cpu/kernels.h"  // gemm (fp32 BLAS)

namespace moai::ops::cpu {

#define MOAI_TARGET_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace {

constexpr int64_t kMr = 12;    // rows of the register tile
constexpr int64_t kNr = 32;    // columns of the register tile (two zmm)
constexpr int64_t kKc = 256;   // depth of one packed slice (even)
constexpr int64_t kMc = 144;   // rows of A packed at once (multiple of kMr)
constexpr int64_t kNc = 2048;  // columns of B packed at once (multiple of kNr)

// Thread-local packing buffers that grow to the largest request (allocation in the first call
// only).
template <int Slot>
uint32_t* pack_buffer(size_t count) {
  static thread_local std::vector<uint32_t> buffer;
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

template <int Slot>
float* float_buffer(size_t count) {
  static thread_local std::vector<float> buffer;
  if (buffer.size() < count) buffer.resize(count);
  return buffer.data();
}

// A matrix operand: element (row, col) of op(x) at x[row * row_step + col * col_step]. T is
// uint16_t (bf16 bits) or float (fp32 weights as b, rounded to bf16 as they are packed).
template <typename T = uint16_t>
struct Operand {
  const T* data;
  int64_t row_step;
  int64_t col_step;
};

// Two bf16 at src[0], src[step] as one pair (low half first); hi only when `both`.
inline uint32_t pair(const uint16_t* src, int64_t step, bool both) {
  return uint32_t(src[0]) | (both ? uint32_t(src[step]) << 16 : 0u);
}

// Packs op(a)[row0 .. row0+rows, k0 .. k0+depth) as kMr-row strips of (k, k+1) pairs, zero-padded.
// Each orientation reads memory in order: along k when a's rows are contiguous, else along rows.
void pack_a(uint32_t* __restrict dst, const Operand<>& a, int64_t row0, int64_t rows, int64_t k0,
            int64_t depth) {
  const int64_t pairs = (depth + 1) / 2;
  for (int64_t s = 0; s * kMr < rows; ++s) {
    uint32_t* __restrict strip = dst + s * pairs * kMr;
    const int64_t height = std::min(kMr, rows - s * kMr);
    const uint16_t* base = a.data + (row0 + s * kMr) * a.row_step + k0 * a.col_step;
    if (a.col_step == 1) {
      for (int64_t r = 0; r < height; ++r) {
        const uint16_t* src = base + r * a.row_step;
        for (int64_t p = 0; p < depth / 2; ++p) {
          uint32_t value;
          std::memcpy(&value, src + 2 * p, 4);
          strip[p * kMr + r] = value;
        }
        if (depth % 2) strip[(pairs - 1) * kMr + r] = src[depth - 1];
      }
    } else {
      for (int64_t p = 0; p < pairs; ++p) {
        const uint16_t* src = base + 2 * p * a.col_step;
        const bool both = 2 * p + 1 < depth;
        for (int64_t r = 0; r < height; ++r)
          strip[p * kMr + r] = pair(src + r * a.row_step, a.col_step, both);
      }
    }
    for (int64_t r = height; r < kMr; ++r)
      for (int64_t p = 0; p < pairs; ++p) strip[p * kMr + r] = 0;
  }
}

// Packs op(b)[k0 .. k0+depth, col0 .. col0+cols) as kNr-column strips of (k, k+1) pairs.
void pack_b(uint32_t* __restrict dst, const Operand<>& b, int64_t k0, int64_t depth, int64_t col0,
            int64_t cols) {
  const int64_t pairs = (depth + 1) / 2;
  for (int64_t s = 0; s * kNr < cols; ++s) {
    uint32_t* __restrict strip = dst + s * pairs * kNr;
    const int64_t width = std::min(kNr, cols - s * kNr);
    const uint16_t* base = b.data + k0 * b.row_step + (col0 + s * kNr) * b.col_step;
    if (b.row_step == 1) {  // b stored [N, K]: each column's k run is contiguous
      for (int64_t j = 0; j < width; ++j) {
        const uint16_t* src = base + j * b.col_step;
        for (int64_t p = 0; p < depth / 2; ++p) {
          uint32_t value;
          std::memcpy(&value, src + 2 * p, 4);
          strip[p * kNr + j] = value;
        }
        if (depth % 2) strip[(pairs - 1) * kNr + j] = src[depth - 1];
      }
    } else {  // b stored [K, N]: interleave two rows
      for (int64_t p = 0; p < pairs; ++p) {
        const uint16_t* lo = base + 2 * p * b.row_step;
        const uint16_t* hi = lo + b.row_step;
        uint32_t* __restrict out = strip + p * kNr;
        if (2 * p + 1 < depth && b.col_step == 1) {
          for (int64_t j = 0; j < width; ++j) out[j] = uint32_t(lo[j]) | (uint32_t(hi[j]) << 16);
        } else {
          for (int64_t j = 0; j < width; ++j)
            out[j] = pair(lo + j * b.col_step, b.row_step, 2 * p + 1 < depth);
        }
      }
    }
    for (int64_t p = 0; p < pairs; ++p)
      for (int64_t j = width; j < kNr; ++j) strip[p * kNr + j] = 0;
  }
}

// GCC 12's conversion intrinsics pass _mm512_undefined_*() as the unused merge source of their
// masked builtins; once inlined, -Wmaybe-uninitialized reports it (a false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// out[j] = (bf16(lo[j]), bf16(hi[j])) as a pair, j < width (hi absent: 0): the rounding of to_bf16.
MOAI_TARGET_BF16 void pair_rows_f32(uint32_t* __restrict out, const float* lo, const float* hi,
                                    int64_t width) {
  for (int64_t j = 0; j < width; j += 16) {
    const __mmask16 m = __mmask16(width - j >= 16 ? 0xFFFF : (1u << (width - j)) - 1);
    const __m256i l = (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, lo + j));
    const __m256i h =
        hi ? (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, hi + j)) : _mm256_setzero_si256();
    const __m512i pairs =
        _mm512_or_si512(_mm512_cvtepu16_epi32(l), _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    _mm512_mask_storeu_epi32(out + j, m, pairs);
  }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// fp32 b stored [K, N] (col_step 1): each pair of rows rounded and interleaved in one pass.
void pack_b_rows_f32(uint32_t* __restrict dst, const Operand<float>& b, int64_t k0, int64_t depth,
                     int64_t col0, int64_t cols) {
  const int64_t pairs = (depth + 1) / 2;
  for (int64_t s = 0; s * kNr < cols; ++s) {
    uint32_t* __restrict strip = dst + s * pairs * kNr;
    const int64_t width = std::min(kNr, cols - s * kNr);
    const float* base = b.data + k0 * b.row_step + col0 + s * kNr;
    for (int64_t p = 0; p < pairs; ++p) {
      const float* lo = base + 2 * p * b.row_step;
      pair_rows_f32(strip + p * kNr, lo, 2 * p + 1 < depth ? lo + b.row_step : nullptr, width);
      for (int64_t j = width; j < kNr; ++j) strip[p * kNr + j] = 0;
    }
  }
}

// fp32 b: rounded to bf16 (the bits of the bf16 working copy) as it is packed. One of b's steps is
// 1. Stored [K, N]: in one pass; stored [N, K] (each column's k run contiguous): each run rounded
// (to_bf16, vectorised) into thread-local staging, then packed as bf16.
void pack_b(uint32_t* __restrict dst, const Operand<float>& b, int64_t k0, int64_t depth,
            int64_t col0, int64_t cols) {
  if (b.col_step == 1) return pack_b_rows_f32(dst, b, k0, depth, col0, cols);
  static thread_local std::vector<bf16> staging;
  if (staging.size() < size_t(cols * depth)) staging.resize(size_t(cols * depth));
  for (int64_t j = 0; j < cols; ++j)
    to_bf16(staging.data() + j * depth, b.data + k0 + (col0 + j) * b.col_step, depth);
  const Operand<> staged{reinterpret_cast<const uint16_t*>(staging.data()), 1, depth};
  pack_b(dst, staged, 0, depth, 0, cols);
}

// c[R, cols] = alpha * tile + beta * c (beta == 0: c not read), cols <= kNr.
template <int R>
MOAI_TARGET_BF16 void micro_kernel(int64_t pairs, const uint32_t* ap, const uint32_t* bp, float* c,
                                   int64_t ldc, int64_t cols, float alpha, float beta) {
  __m512 acc0[R], acc1[R];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp + p * kNr);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(bp + p * kNr + 16);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(int(ap[p * kMr + r]));
      acc0[r] = _mm512_dpbf16_ps(acc0[r], a, b0);
      acc1[r] = _mm512_dpbf16_ps(acc1[r], a, b1);
    }
  }
  const __mmask16 m0 = __mmask16(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
  const __mmask16 m1 = __mmask16(cols >= 32 ? 0xFFFF : cols > 16 ? (1u << (cols - 16)) - 1 : 0);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    float* row = c + r * ldc;
    __m512 v0 = _mm512_mul_ps(va, acc0[r]), v1 = _mm512_mul_ps(va, acc1[r]);
    if (beta != 0.0f) {
      v0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, row), v0);
      v1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, row + 16), v1);
    }
    _mm512_mask_storeu_ps(row, m0, v0);
    _mm512_mask_storeu_ps(row + 16, m1, v1);
  }
}

using MicroKernel = void (*)(int64_t, const uint32_t*, const uint32_t*, float*, int64_t, int64_t,
                             float, float);
constexpr MicroKernel kMicroKernels[kMr + 1] = {
    nullptr,          micro_kernel<1>,  micro_kernel<2>, micro_kernel<3>, micro_kernel<4>,
    micro_kernel<5>,  micro_kernel<6>,  micro_kernel<7>, micro_kernel<8>, micro_kernel<9>,
    micro_kernel<10>, micro_kernel<11>, micro_kernel<12>};

// c[rows, cols] (row stride ldc) = alpha * op(a) op(b) + beta * c on the calling thread.
template <typename T>
void gemm_avx512_block(float* c, int64_t ldc, const Operand<>& a, const Operand<T>& b, int64_t rows,
                       int64_t cols, int64_t k, float alpha, float beta) {
  const int64_t kc_max = std::min(kKc, k), pairs_max = (kc_max + 1) / 2;
  uint32_t* bp = pack_buffer<0>(size_t(pairs_max * ((std::min(kNc, cols) + kNr - 1) / kNr) * kNr));
  uint32_t* ap = pack_buffer<1>(size_t(pairs_max * ((std::min(kMc, rows) + kMr - 1) / kMr) * kMr));
  for (int64_t jc = 0; jc < cols; jc += kNc) {
    const int64_t nc = std::min(kNc, cols - jc);
    for (int64_t pc = 0; pc < k; pc += kKc) {
      const int64_t kc = std::min(kKc, k - pc), pairs = (kc + 1) / 2;
      const float slice_beta = pc == 0 ? beta : 1.0f;
      pack_b(bp, b, pc, kc, jc, nc);
      for (int64_t ic = 0; ic < rows; ic += kMc) {
        const int64_t mc = std::min(kMc, rows - ic);
        pack_a(ap, a, ic, mc, pc, kc);
        for (int64_t jr = 0; jr < nc; jr += kNr) {
          const uint32_t* b_strip = bp + (jr / kNr) * pairs * kNr;
          for (int64_t ir = 0; ir < mc; ir += kMr) {
            const int64_t tile_rows = std::min(kMr, mc - ir);
            kMicroKernels[tile_rows](pairs, ap + (ir / kMr) * pairs * kMr, b_strip,
                                     c + (ic + ir) * ldc + jc + jr, ldc, std::min(kNr, nc - jr),
                                     alpha, slice_beta);
          }
        }
      }
    }
  }
}

// 16 bf16 (masked) -> 16 fp32.
MOAI_TARGET_BF16 inline __m512 load16(const uint16_t* src, __mmask16 mask) {
  return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(
      0xFFFF, _mm512_maskz_cvtepu16_epi32(0xFFFF, _mm256_maskz_loadu_epi16(mask, src)), 16));
}

// GCC 12's shuffle/unpack intrinsics pass _mm512_undefined_ps() as the unused merge source of their
// masked builtins; once inlined here, -Wmaybe-uninitialized reports it (a false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// Lane r of the result = the sum of the 16 lanes of acc[r]: an add tree that transposes as it
// goes (128-bit blocks, then pairs, then single lanes), ending with lane 4b + e holding row 4e + b.
MOAI_TARGET_BF16 inline __m512 sum_lanes16(const __m512 (&acc)[16]) {
  __m512 blocks[8], rows4[4], halves[2];
  for (int i = 0; i < 8; ++i) {  // [x0+x2, x1+x3, y0+y2, y1+y3] for the pair (x, y)
    const __m512 x = acc[2 * i], y = acc[2 * i + 1];
    blocks[i] = _mm512_add_ps(_mm512_shuffle_f32x4(x, y, 0x44), _mm512_shuffle_f32x4(x, y, 0xEE));
  }
  for (int i = 0; i < 4; ++i) {  // block b: four partial sums of row 4i + b
    const __m512 p = blocks[2 * i], q = blocks[2 * i + 1];
    rows4[i] = _mm512_add_ps(_mm512_shuffle_f32x4(p, q, 0x88), _mm512_shuffle_f32x4(p, q, 0xDD));
  }
  for (int i = 0; i < 2; ++i) {  // block b: rows 8i + b (lanes 0, 2) and 8i + 4 + b (lanes 1, 3)
    const __m512 a = rows4[2 * i], b = rows4[2 * i + 1];
    halves[i] = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
  }
  const __m512d lo = _mm512_castps_pd(halves[0]), hi = _mm512_castps_pd(halves[1]);
  const __m512 sums = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(lo, hi)),
                                    _mm512_castpd_ps(_mm512_unpackhi_pd(lo, hi)));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(order, sums);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

constexpr int64_t kGemvRows = 16;  // dot products per pass of gemv_rows

// M = 1 with b as [cols, k] rows (y = x W^T: the decode projections and the lm_head, memory-bound):
// 16 dot products per pass, 32 products per vdpbf16ps, unmasked loads but for the last k % 32 of a
// row, and a prefetch of the next pass's rows one cache line at a time. A last pass of fewer rows
// repeats its last row (every row is summed in the same order) and stores only its own.
MOAI_TARGET_BF16 void gemv_rows(float* c, const uint16_t* x, const uint16_t* w, int64_t ldw,
                                int64_t cols, int64_t k, float alpha, float beta) {
  const int64_t full = k / 32 * 32;
  const __mmask32 tail = __mmask32((uint64_t(1) << (k - full)) - 1);
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int64_t j = 0; j < cols; j += kGemvRows) {
    const int64_t rows = std::min(kGemvRows, cols - j);
    const uint16_t* row[kGemvRows];
    const uint16_t* next[kGemvRows];
    __m512 acc[kGemvRows];
    for (int64_t r = 0; r < kGemvRows; ++r) {
      row[r] = w + (j + std::min(r, rows - 1)) * ldw;
      next[r] = w + std::min(j + kGemvRows + r, cols - 1) * ldw;
      acc[r] = _mm512_setzero_ps();
    }
    for (int64_t i = 0; i < full; i += 32) {
      const __m512bh xv = (__m512bh)_mm512_loadu_si512(x + i);
#pragma GCC unroll 16
      for (int r = 0; r < kGemvRows; ++r) {
        _mm_prefetch(reinterpret_cast<const char*>(next[r] + i), _MM_HINT_T0);
        acc[r] = _mm512_dpbf16_ps(acc[r], xv, (__m512bh)_mm512_loadu_si512(row[r] + i));
      }
    }
    if (full < k) {
      const __m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(tail, x + full);
#pragma GCC unroll 16
      for (int r = 0; r < kGemvRows; ++r)
        acc[r] =
            _mm512_dpbf16_ps(acc[r], xv, (__m512bh)_mm512_maskz_loadu_epi16(tail, row[r] + full));
    }
    const __mmask16 mine = __mmask16((1u << rows) - 1);
    __m512 v = _mm512_mul_ps(va, sum_lanes16(acc));
    if (beta != 0.0f) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mine, c + j), v);
    _mm512_mask_storeu_ps(c + j, mine, v);
  }
}

// M = 1 with b as [k, cols] (y = x B): 64 columns at a time, one broadcast x[i] per row of b.
MOAI_TARGET_BF16 void gemv_cols(float* c, const uint16_t* x, int64_t x_step, const uint16_t* b,
                                int64_t ldb, int64_t cols, int64_t k, float alpha, float beta) {
  for (int64_t j = 0; j < cols; j += 64) {
    __mmask16 masks[4];
    for (int q = 0; q < 4; ++q) {
      const int64_t left = cols - j - 16 * q;
      masks[q] = __mmask16(left >= 16 ? 0xFFFF : left > 0 ? (1u << left) - 1 : 0);
    }
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                     _mm512_setzero_ps()};
    for (int64_t i = 0; i < k; ++i) {
      const __m512 xi = _mm512_castsi512_ps(_mm512_set1_epi32(int(uint32_t(x[i * x_step]) << 16)));
      const uint16_t* row = b + i * ldb + j;
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q)
        acc[q] = _mm512_fmadd_ps(xi, load16(row + 16 * q, masks[q]), acc[q]);
    }
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int q = 0; q < 4; ++q) {
      __m512 v = _mm512_mul_ps(va, acc[q]);
      if (beta != 0.0f) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(masks[q], c + j + 16 * q), v);
      _mm512_mask_storeu_ps(c + j + 16 * q, masks[q], v);
    }
  }
}

// Splits c over the OpenMP team like cpu::gemm: rows when M >= N, else columns, block edges on
// multiples of `unit`. block(row0, rows, col0, cols) runs single-threaded.
template <typename Block>
void split_over_threads(int64_t m, int64_t n, int64_t k, const Block& block) {
  const bool split_rows = m >= n;
  const int64_t extent = split_rows ? m : n;
  const int64_t unit = split_rows ? kMr : (m == 1 ? 64 : kNr);
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  // A matrix-vector product is memory-bound and short: below 2^20 weights (2 MB of bf16) starting
  // the team costs more than the second thread gains.
  const int64_t min_work = m == 1 ? int64_t{1} << 20 : int64_t{1} << 17;
  if (threads <= 1 || m * n * k < min_work || extent < 2 * unit * threads) {
    block(0, m, 0, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t parts = omp_get_num_threads(), part = omp_get_thread_num();
    const int64_t units = (extent + unit - 1) / unit;
    const int64_t begin = std::min(extent, units * part / parts * unit);
    const int64_t end = std::min(extent, units * (part + 1) / parts * unit);
    if (end > begin) {
      if (split_rows)
        block(begin, end - begin, 0, n);
      else
        block(0, m, begin, end - begin);
    }
  }
}

// b's storage as the kernels read it: bf16 bits, or fp32 (rounded while packing).
inline const uint16_t* storage(const bf16* b) {
  return reinterpret_cast<const uint16_t*>(b);
}
inline const float* storage(const float* b) {
  return b;
}

// b[0, extent) as bf16 bits for the matrix-vector paths, which read b unpacked: bf16 as it is,
// fp32 rounded (to_bf16) into a thread-local buffer (only a lone row of c takes these paths).
const uint16_t* bf16_extent(const uint16_t* b, int64_t /*extent*/) {
  return b;
}
const uint16_t* bf16_extent(const float* b, int64_t extent) {
  static thread_local std::vector<bf16> buffer;
  if (buffer.size() < size_t(extent)) buffer.resize(size_t(extent));
  to_bf16(buffer.data(), b, extent);
  return storage(buffer.data());
}

template <typename B>
void gemm_avx512(float* c, const bf16* a_bf, const B* b_in, int64_t m, int64_t n, int64_t k,
                 bool trans_a, bool trans_b, float alpha, float beta) {
  const auto* a = storage(a_bf);
  const auto* b = storage(b_in);
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  split_over_threads(m, n, k, [&](int64_t row0, int64_t rows, int64_t col0, int64_t cols) {
    const uint16_t* a_block = a + (trans_a ? row0 : row0 * lda);
    const auto* b_block = b + (trans_b ? col0 * ldb : col0);
    float* c_block = c + row0 * n + col0;
    const int64_t b_extent = trans_b ? (cols - 1) * ldb + k : (k - 1) * ldb + cols;
    if (rows == 1 && trans_b && (!trans_a || lda == 1)) {  // x contiguous
      gemv_rows(c_block, a_block, bf16_extent(b_block, b_extent), ldb, cols, k, alpha, beta);
    } else if (rows == 1 && !trans_b) {
      gemv_cols(c_block, a_block, trans_a ? lda : 1, bf16_extent(b_block, b_extent), ldb, cols, k,
                alpha, beta);
    } else {
      const Operand<> a_op{a_block, trans_a ? 1 : lda, trans_a ? lda : 1};
      const Operand<std::remove_cvref_t<decltype(*b)>> b_op{b_block, trans_b ? 1 : ldb,
                                                            trans_b ? ldb : 1};
      gemm_avx512_block(c_block, n, a_op, b_op, rows, cols, k, alpha, beta);
    }
  });
}

// dst[i] = src[i] as fp32: bf16 widened, fp32 rounded to a bf16 value (the same bits as widening
// its to_bf16).
void widen_parallel(float* dst, const bf16* src, int64_t n) {
  to_float_parallel(dst, src, n);
}
void widen_parallel(float* dst, const float* src, int64_t n) {
#pragma omp parallel for schedule(static) if (n > (int64_t(1) << 16) && !omp_in_parallel())
  for (int64_t i = 0; i < n; ++i) dst[i] = round_to_bf16(src[i]);
}

template <typename B>
void gemm_convert(float* c, const bf16* a, const B* b, int64_t m, int64_t n, int64_t k,
                  bool trans_a, bool trans_b, float alpha, float beta) {
  float* a32 = float_buffer<0>(size_t(m * k));
  float* b32 = float_buffer<1>(size_t(k * n));
  to_float_parallel(a32, a, m * k);
  widen_parallel(b32, b, k * n);
  gemm(c, a32, b32, m, n, k, trans_a, trans_b, alpha, beta);
}

// Whether the fp32 BLAS runs AVX-512 kernels (asked once: the answer never changes).
bool blas_kernels_avx512() {
  static const bool avx512 = blas_kernel_info().avx512_core;
  return avx512;
}

// Whether vdpbf16ps issues at the fp32 FMA rate, i.e. does twice an sgemm's FLOPs per cycle. AMD's
// AVX512-BF16 CPUs (Zen 4 and later) do: measured on an EPYC Zen 4, the own kernel ran 320-390
// GFLOP/s per core against 100-175 for OpenBLAS's sgemm (Haswell or SkylakeX kernels). The Intel
// Xeons measured without AMX issue it at half the rate (docs/BENCHMARKS.md, "bf16 CPU kernels").
// A fixed rule, not a timing at start: the engine decides the bits of every result, and a timing
// under load could flip between runs.
bool bf16_dot_full_rate() {
  static const bool amd = __builtin_cpu_is("amd");
  return amd;
}

}  // namespace

Bf16GemmEngine bf16_gemm_engine(int64_t m, int64_t n, int64_t k) {
  if (!cpu_has_avx512_bf16()) return Bf16GemmEngine::kConvertSgemm;
  if (m == 1 || bf16_dot_full_rate()) return Bf16GemmEngine::kAvx512Bf16;
  return blas_kernels_avx512() ? Bf16GemmEngine::kConvertSgemm : Bf16GemmEngine::kAvx512Bf16;
}

const char* bf16_gemm_engine_name(Bf16GemmEngine engine) {
  switch (engine) {
    case Bf16GemmEngine::kAuto:
      return "auto";
    case Bf16GemmEngine::kAvx512Bf16:
      return "avx512-bf16";
    case Bf16GemmEngine::kConvertSgemm:
      return "convert+sgemm";
  }
  return "?";
}

namespace {

template <typename B>
void gemm_any(float* c, const bf16* a, const B* b, int64_t m, int64_t n, int64_t k, bool trans_a,
              bool trans_b, float alpha, float beta, Bf16GemmEngine engine) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // no products: c = beta * c (beta 0 clears NaN too)
    for (int64_t i = 0; i < m * n; ++i) c[i] = beta == 0.0f ? 0.0f : beta * c[i];
    return;
  }
  if (engine == Bf16GemmEngine::kAuto) engine = bf16_gemm_engine(m, n, k);
  if (engine == Bf16GemmEngine::kAvx512Bf16) {
    if (!cpu_has_avx512_bf16())
      throw Error("bf16_gemm: the avx512-bf16 engine needs a CPU with AVX512-BF16");
    gemm_avx512(c, a, b, m, n, k, trans_a, trans_b, alpha, beta);
  } else {
    gemm_convert(c, a, b, m, n, k, trans_a, trans_b, alpha, beta);
  }
}

template <typename B>
void gemm_any(bf16* c, const bf16* a, const B* b, int64_t m, int64_t n, int64_t k, bool trans_a,
              bool trans_b, float alpha, float beta, Bf16GemmEngine engine) {
  if (m <= 0 || n <= 0) return;
  // The fp32 result is staged in blocks of rows of about 1M elements (4 MB; at least 192 rows,
  // whole register tiles), not as a whole [M, N] copy: a [tokens, ffn] output of a large model
  // would otherwise need an fp32 buffer of hundreds of MB. Rows of op(a) are contiguous only
  // without trans_a; a transposed a (not used with a bf16 output by the model) is staged whole, and
  // so is convert+sgemm's result (it widens all of a and b anyway, and would widen b once per
  // block).
  if (engine == Bf16GemmEngine::kAuto) engine = bf16_gemm_engine(m, n, k);
  const int64_t block =
      trans_a || engine != Bf16GemmEngine::kAvx512Bf16
          ? m
          : std::min(m, std::max<int64_t>(192, (int64_t(1) << 20) / n / kMr * kMr));
  // A lone last row would take the matrix-vector path (another summation order): it joins the
  // block before it, so every element has the bits of one whole-matrix call.
  float* c32 = float_buffer<2>(size_t((block + 1) * n));
  for (int64_t row0 = 0, rows = 0; row0 < m; row0 += rows) {
    rows = std::min(block, m - row0);
    if (m - row0 - rows == 1) ++rows;
    bf16* c_rows = c + row0 * n;
    if (beta != 0.0f) to_float_parallel(c32, c_rows, rows * n);
    gemm_any(c32, a + row0 * k, b, rows, n, k, trans_a, trans_b, alpha, beta, engine);
    to_bf16_parallel(c_rows, c32, rows * n);
  }
}

}  // namespace

void bf16_gemm(float* c, const bf16* a, const bf16* b, int64_t m, int64_t n, int64_t k,
               bool trans_a, bool trans_b, float alpha, float beta, Bf16GemmEngine engine) {
  gemm_any(c, a, b, m, n, k, trans_a, trans_b, alpha, beta, engine);
}
void bf16_gemm(float* c, const bf16* a, const float* b, int64_t m, int64_t n, int64_t k,
               bool trans_a, bool trans_b, float alpha, float beta, Bf16GemmEngine engine) {
  gemm_any(c, a, b, m, n, k, trans_a, trans_b, alpha, beta, engine);
}
void bf16_gemm(bf16* c, const bf16* a, const bf16* b, int64_t m, int64_t n, int64_t k, bool trans_a,
               bool trans_b, float alpha, float beta, Bf16GemmEngine engine) {
  gemm_any(c, a, b, m, n, k, trans_a, trans_b, alpha, beta, engine);
}
void bf16_gemm(bf16* c, const bf16* a, const float* b, int64_t m, int64_t n, int64_t k,
               bool trans_a, bool trans_b, float alpha, float beta, Bf16GemmEngine engine) {
  gemm_any(c, a, b, m, n, k, trans_a, trans_b, alpha, beta, engine);
}

void bf16_gemm_reference(float* c, const bf16* a, const bf16* b, int64_t m, int64_t n, int64_t k,
                         bool trans_a, bool trans_b, float alpha, float beta) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p) {
        const float x = to_f32(trans_a ? a[p * m + i] : a[i * k + p]);
        const float y = to_f32(trans_b ? b[j * k + p] : b[p * n + j]);
        sum += double(x) * double(y);
      }
      const double old = beta == 0.0f ? 0.0 : double(beta) * double(c[i * n + j]);
      c[i * n + j] = float(double(alpha) * sum + old);
    }
}

}  // namespace moai::ops::cpu
