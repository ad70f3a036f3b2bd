#pragma once
// bf16 matmul with fp32 accumulation: c[M,N] = alpha * op(a) · op(b) + beta * c, row-major, the
// same semantics as Backend::matmul (op(a) is [M,K]: a is [M,K], or [K,M] when trans_a; op(b) is
// [K,N]: b is [K,N], or [N,K] when trans_b; beta = 0 ignores c's old contents, which may be NaN). a
// is bf16, b bf16 or fp32 rounded to bf16 as it is read; products are exact in fp32 and sums are
// fp32.
//
// Engines (docs/BENCHMARKS.md "bf16 CPU kernels" has the measurements behind the rule):
//   kAvx512Bf16    own kernel: A and B packed as bf16 pairs, a 12 x 32 register tile of vdpbf16ps
//                  (GotoBLAS blocking), and dot-product / broadcast matrix-vector paths for M = 1.
//   kConvertSgemm  bf16 -> fp32 copies of a and b, then the fp32 BLAS gemm (cpu::gemm). Runs on any
//                  CPU.
//   kAuto          per call, bf16_gemm_engine(m, n, k): on a CPU without AVX512-BF16 convert+sgemm;
//                  for M = 1 (decode) avx512-bf16 (memory-bound: half the bytes of fp32); on AMD
//                  (Zen 4 and later: vdpbf16ps at the fp32 FMA rate) avx512-bf16; otherwise
//                  convert+sgemm when the BLAS runs AVX-512 kernels (on the Intel Xeons measured
//                  without AMX vdpbf16ps issues at half the FMA rate, so a good sgemm does twice
//                  its FLOPs), else avx512-bf16 (e.g. OpenBLAS on its Haswell or "Prescott"
//                  kernels).
// Threading: as cpu::gemm, one single-threaded block per OpenMP thread (rows or columns of c, fixed
// partition: deterministic for a fixed thread count); inside a parallel region it runs on the
// calling thread only.
#include <cstdint>
#include <string>

#include "moai/ops/cpu/bf16.h"

namespace moai::ops::cpu {

enum class Bf16GemmEngine { kAuto, kAvx512Bf16, kConvertSgemm };

// The engine kAuto uses for an M x N x K product on this machine, and printable names ("auto",
// "avx512-bf16", "convert+sgemm").
Bf16GemmEngine bf16_gemm_engine(int64_t m, int64_t n, int64_t k);
const char* bf16_gemm_engine_name(Bf16GemmEngine engine);

// lda: a's row stride in elements, 0 = dense (k, or m when trans_a); larger strides read a's rows
// out of a wider buffer (the classifier's gradient rows, written in place of its fp32 logits).
// fp32 output. kAvx512Bf16 on a CPU without the instructions throws moai::Error.
void bf16_gemm(float* c, const bf16* a, const bf16* b, int64_t m, int64_t n, int64_t k,
               bool trans_a, bool trans_b, float alpha, float beta,
               Bf16GemmEngine engine = Bf16GemmEngine::kAuto, int64_t lda = 0);
// b in fp32 (the fp32 master weights of bf16 training): each element rounded to bf16 (to_bf16,
// round to nearest even) as it is read, while packing; the same bits as passing its to_bf16 copy.
void bf16_gemm(float* c, const bf16* a, const float* b, int64_t m, int64_t n, int64_t k,
               bool trans_a, bool trans_b, float alpha, float beta,
               Bf16GemmEngine engine = Bf16GemmEngine::kAuto, int64_t lda = 0);

// bf16 output: computed in fp32 (c read as bf16 when beta != 0), rounded once at the end; the
// avx512-bf16 engine stages the fp32 result in blocks of ~1M elements of rows, not whole.
void bf16_gemm(bf16* c, const bf16* a, const bf16* b, int64_t m, int64_t n, int64_t k, bool trans_a,
               bool trans_b, float alpha, float beta, Bf16GemmEngine engine = Bf16GemmEngine::kAuto,
               int64_t lda = 0);
void bf16_gemm(bf16* c, const bf16* a, const float* b, int64_t m, int64_t n, int64_t k,
               bool trans_a, bool trans_b, float alpha, float beta,
               Bf16GemmEngine engine = Bf16GemmEngine::kAuto, int64_t lda = 0);

// The slow, obvious twin (double accumulation, single thread): what the tests compare against.
void bf16_gemm_reference(float* c, const bf16* a, const bf16* b, int64_t m, int64_t n, int64_t k,
                         bool trans_a, bool trans_b, float alpha, float beta);

}  // namespace moai::ops::cpu
