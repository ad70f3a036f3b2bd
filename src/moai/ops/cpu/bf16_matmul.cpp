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

// Two elements at src[0], src[step] as one bf16 pair (low half first); hi only when `both`.
inline uint32_t pair_of(const uint16_t* src, int64_t step, bool both) {
  return uint32_t(src[0]) | (both ? uint32_t(src[step]) << 16 : 0u);
}
inline uint32_t pair_of(const float* src, int64_t step, bool both) {
  return uint32_t(to_bf16(src[0]).bits) | (both ? uint32_t(to_bf16(src[step]).bits) << 16 : 0u);
}

// GCC 12's conversion and shuffle intrinsics pass _mm512_undefined_*() as the unused merge source
// of their masked builtins; once inlined, -Wmaybe-uninitialized reports it (a false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// The low `count` bits set, count in [0, 16] (a lane mask).
inline __mmask16 lanes(int64_t count) {
  return __mmask16(count >= 16 ? 0xFFFF : count <= 0 ? 0 : (1u << count) - 1);
}

// 32 consecutive k of one row as 16 (k, k+1) pairs, `valid` of them real (the rest 0): bf16 bits
// as they are, fp32 rounded to nearest even (the rounding of to_bf16).
MOAI_TARGET_BF16 inline __m512i load_pairs(const uint16_t* src, int64_t valid) {
  const __mmask32 mask = __mmask32(valid >= 32 ? ~0u : (1u << valid) - 1);
  return _mm512_maskz_loadu_epi16(mask, src);
}
MOAI_TARGET_BF16 inline __m512i load_pairs(const float* src, int64_t valid) {
  const __m512 lo = _mm512_maskz_loadu_ps(lanes(valid), src);
  const __m512 hi = _mm512_maskz_loadu_ps(lanes(valid - 16), src + 16);
  return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

// In-register transpose of 16 x 16 32-bit lanes: row i lane j -> row j lane i. Unpacks pair up
// rows, then 64-bit halves, then 128-bit blocks across the four row groups.
MOAI_TARGET_BF16 inline void transpose16(__m512i (&r)[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // u[4i + c], block L: column 4L + c of rows 4i .. 4i+3
    u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    const __m512i v0 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0x88);
    const __m512i v1 = _mm512_shuffle_i32x4(u[c], u[4 + c], 0xDD);
    const __m512i w0 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0x88);
    const __m512i w1 = _mm512_shuffle_i32x4(u[8 + c], u[12 + c], 0xDD);
    r[c] = _mm512_shuffle_i32x4(v0, w0, 0x88);
    r[4 + c] = _mm512_shuffle_i32x4(v1, w1, 0x88);
    r[8 + c] = _mm512_shuffle_i32x4(v0, w0, 0xDD);
    r[12 + c] = _mm512_shuffle_i32x4(v1, w1, 0xDD);
  }
}

// Up to 16 rows that are contiguous along k (row r at src + r * step, `rows` of them) as pairs:
// dst[p * dst_step + r] = (k 2p, 2p+1) of row r for p < (depth + 1) / 2 and r < width, rows past
// `rows` (and a missing k of an odd depth) zero. 32 k at a time: one load per row, one transpose.
template <typename T>
MOAI_TARGET_BF16 void pack_pairs_across(uint32_t* __restrict dst, int64_t dst_step, int64_t width,
                                        const T* src, int64_t step, int64_t rows, int64_t depth) {
  const int64_t pairs = (depth + 1) / 2;
  const __mmask16 store = lanes(width);
  for (int64_t k = 0; k < depth; k += 32) {
    __m512i r[16];
    for (int64_t i = 0; i < 16; ++i)
      r[i] = i < rows ? load_pairs(src + i * step + k, depth - k) : _mm512_setzero_si512();
    transpose16(r);
    const int64_t count = std::min<int64_t>(16, pairs - k / 2);
    for (int64_t p = 0; p < count; ++p)
      _mm512_mask_storeu_epi32(dst + (k / 2 + p) * dst_step, store, r[p]);
  }
}

// Two rows contiguous along the packed dimension as one row of pairs: out[j] = (lo[j], hi[j]) for
// j < valid (hi absent: 0), out[valid .. width) = 0.
MOAI_TARGET_BF16 inline __m512i widen16(const uint16_t* src, __mmask16 m) {
  return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src));
}
MOAI_TARGET_BF16 inline __m512i widen16(const float* src, __mmask16 m) {
  return _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src)));
}
template <typename T>
MOAI_TARGET_BF16 void pair_rows(uint32_t* __restrict out, const T* lo, const T* hi, int64_t valid,
                                int64_t width) {
  for (int64_t j = 0; j < width; j += 16) {
    const __mmask16 m = lanes(valid - j);
    const __m512i l = widen16(lo + j, m);
    const __m512i h = hi ? widen16(hi + j, m) : _mm512_setzero_si512();
    _mm512_mask_storeu_epi32(out + j, lanes(width - j),
                             _mm512_or_si512(l, _mm512_slli_epi32(h, 16)));
  }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// Packs `count` x `depth` of an operand into strips of `width` (kMr or kNr) pairs: element (i, k)
// at x[i * along + k * deep] (i the packed row or column, k the depth). Strip s holds i in
// [s * width, (s + 1) * width) as dst[s * pairs * width + p * width + i % width], padding zero.
// Both unit-step layouts are vectorised: contiguous along k (transposed 16 rows at a time) and
// contiguous along i (two k rows interleaved); other steps go pair by pair.
template <typename T>
void pack_strips(uint32_t* __restrict dst, int64_t width, const T* x, int64_t along, int64_t deep,
                 int64_t count, int64_t depth) {
  const int64_t pairs = (depth + 1) / 2;
  for (int64_t s = 0; s * width < count; ++s) {
    uint32_t* __restrict strip = dst + s * pairs * width;
    const int64_t valid = std::min(width, count - s * width);
    const T* base = x + s * width * along;
    if (deep == 1) {
      for (int64_t h = 0; h < width; h += 16)
        pack_pairs_across(strip + h, width, std::min<int64_t>(16, width - h), base + h * along,
                          along, std::clamp<int64_t>(valid - h, 0, 16), depth);
    } else if (along == 1) {
      for (int64_t p = 0; p < pairs; ++p) {
        const T* lo = base + 2 * p * deep;
        pair_rows(strip + p * width, lo, 2 * p + 1 < depth ? lo + deep : nullptr, valid, width);
      }
    } else {
      for (int64_t p = 0; p < pairs; ++p)
        for (int64_t i = 0; i < width; ++i) {
          const T* at = base + i * along + 2 * p * deep;
          const bool both = 2 * p + 1 < depth;
          strip[p * width + i] = i >= valid ? 0u : pair_of(at, deep, both);
        }
    }
  }
}

// Packs op(a)[row0 .. row0+rows, k0 .. k0+depth) as kMr-row strips of (k, k+1) pairs, zero-padded.
void pack_a(uint32_t* __restrict dst, const Operand<>& a, int64_t row0, int64_t rows, int64_t k0,
            int64_t depth) {
  pack_strips(dst, kMr, a.data + row0 * a.row_step + k0 * a.col_step, a.row_step, a.col_step, rows,
              depth);
}

// Packs op(b)[k0 .. k0+depth, col0 .. col0+cols) as kNr-column strips of (k, k+1) pairs; fp32 b
// (the master weights of bf16 training) is rounded to bf16 as it is packed, the same bits as
// packing its to_bf16 copy.
template <typename T>
void pack_b(uint32_t* __restrict dst, const Operand<T>& b, int64_t k0, int64_t depth, int64_t col0,
            int64_t cols) {
  pack_strips(dst, kNr, b.data + k0 * b.row_step + col0 * b.col_step, b.col_step, b.row_step, cols,
              depth);
}

// c[R, cols] = alpha * tile + beta * c (beta == 0: c not read), cols <= kNr.
template <int R>
MOAI_TARGET_BF16 void micro_kernel(int64_t pairs, const uint32_t* ap, const uint32_t* bp, float* c,
                                   int64_t ldc, int64_t cols, float alpha, float beta) {
  __m512 acc0[R], acc1[R];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    acc0[r] = acc1[r] = _mm512_setzero_ps();
    // The tile's rows of c, read or written at the end, are ldc apart (no stream the hardware
    // prefetcher follows): fetched now, their misses overlap the products.
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 16), _MM_HINT_T0);
  }
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
void gemm_avx512(float* c, const bf16* a_bf, int64_t lda, const B* b_in, int64_t m, int64_t n,
                 int64_t k, bool trans_a, bool trans_b, float alpha, float beta) {
  const auto* a = storage(a_bf);
  const auto* b = storage(b_in);
  const int64_t ldb = trans_b ? k : n;
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
void gemm_convert(float* c, const bf16* a, int64_t lda, const B* b, int64_t m, int64_t n, int64_t k,
                  bool trans_a, bool trans_b, float alpha, float beta) {
  float* a32 = float_buffer<0>(size_t(m * k));
  float* b32 = float_buffer<1>(size_t(k * n));
  const int64_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
  if (lda == a_cols) {
    to_float_parallel(a32, a, m * k);
  } else {  // strided rows, made dense
    for (int64_t r = 0; r < a_rows; ++r) to_float(a32 + r * a_cols, a + r * lda, a_cols);
  }
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
void gemm_any(float* c, const bf16* a, int64_t lda, const B* b, int64_t m, int64_t n, int64_t k,
              bool trans_a, bool trans_b, float alpha, float beta, Bf16GemmEngine engine) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {  // no products: c = beta * c (beta 0 clears NaN too)
    for (int64_t i = 0; i < m * n; ++i) c[i] = beta == 0.0f ? 0.0f : beta * c[i];
    return;
  }
  if (engine == Bf16GemmEngine::kAuto) engine = bf16_gemm_engine(m, n, k);
  if (engine == Bf16GemmEngine::kAvx512Bf16) {
    if (!cpu_has_avx512_bf16())
      throw Error("bf16_gemm: the avx512-bf16 engine needs a CPU with AVX512-BF16");
    gemm_avx512(c, a, lda, b, m, n, k, trans_a, trans_b, alpha, beta);
  } else {
    gemm_convert(c, a, lda, b, m, n, k, trans_a, trans_b, alpha, beta);
  }
}

template <typename B>
void gemm_any(bf16* c, const bf16* a, int64_t lda, const B* b, int64_t m, int64_t n, int64_t k,
              bool trans_a, bool trans_b, float alpha, float beta, Bf16GemmEngine engine) {
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
    gemm_any(c32, a + row0 * lda, lda, b, rows, n, k, trans_a, trans_b, alpha, beta, engine);
    to_bf16_parallel(c_rows, c32, rows * n);
  }
}

// a's row stride: the caller's, or 0 = dense.
int64_t a_stride(int64_t lda, bool trans_a, int64_t m, int64_t k) {
  return lda > 0 ? lda : trans_a ? m : k;
}

}  // namespace

void bf16_gemm(float* c, const bf16* a, const bf16* b, int64_t m, int64_t n, int64_t k,
               bool trans_a, bool trans_b, float alpha, float beta, Bf16GemmEngine engine,
               int64_t lda) {
  gemm_any(c, a, a_stride(lda, trans_a, m, k), b, m, n, k, trans_a, trans_b, alpha, beta, engine);
}
void bf16_gemm(float* c, const bf16* a, const float* b, int64_t m, int64_t n, int64_t k,
               bool trans_a, bool trans_b, float alpha, float beta, Bf16GemmEngine engine,
               int64_t lda) {
  gemm_any(c, a, a_stride(lda, trans_a, m, k), b, m, n, k, trans_a, trans_b, alpha, beta, engine);
}
void bf16_gemm(bf16* c, const bf16* a, const bf16* b, int64_t m, int64_t n, int64_t k, bool trans_a,
               bool trans_b, float alpha, float beta, Bf16GemmEngine engine, int64_t lda) {
  gemm_any(c, a, a_stride(lda, trans_a, m, k), b, m, n, k, trans_a, trans_b, alpha, beta, engine);
}
void bf16_gemm(bf16* c, const bf16* a, const float* b, int64_t m, int64_t n, int64_t k,
               bool trans_a, bool trans_b, float alpha, float beta, Bf16GemmEngine engine,
               int64_t lda) {
  gemm_any(c, a, a_stride(lda, trans_a, m, k), b, m, n, k, trans_a, trans_b, alpha, beta, engine);
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
