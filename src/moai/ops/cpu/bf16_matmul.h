#pragma once
// bf16 matmul with fp32 accumulation: c[M,N] = alpha * op(a) · op(b) + beta * c, row-major, the
// same semantics as Backend::matmul (op(a) is [M,K]: a is [M,K], or [K,M] when trans_a; op(b) is
// [K,N]: b is [K,N], or [N,K] when trans_b; beta = 0 ignores c's old contents, which may be NaN). a
// and b are bf16; products are exact in fp32 and sums are fp32.
//
// Engines (docs/BENCHMARKS.md "bf16 CPU kernels" has the measurement that chose the default):
//   kAvx512Bf16    own kernel: A and B packed as bf16 pairs, a 12 x 32 register tile of vdpbf16ps
//                  (GotoBLAS blocking), and a dot-product matrix-vector path for M = 1.
//   kConvertSgemm  bf16 -> fp32 copies of a and b, then the fp32 BLAS gemm (cpu::gemm). Runs on any
//                  CPU; what kAuto picks when the CPU lacks AVX512-BF16.
//   kAuto          kAvx512Bf16 when cpu_has_avx512_bf16(), else kConvertSgemm.
// Threading: as cpu::gemm, one single-threaded block per OpenMP thread (rows or columns of c, fixed
// partition: deterministic for a fixed thread count); inside a parallel region it runs on the
// calling thread only.
#include <cstdint>

#include "moai/ops/cpu/bf16.h"

namespace moai::ops::cpu {

enum class Bf16GemmEngine { kAuto, kAvx512Bf16, kConvertSgemm };

// The engine kAuto resolves to on this CPU, and a printable name ("avx512-bf16", "convert+sgemm").
Bf16GemmEngine bf16_gemm_engine();
const char* bf16_gemm_engine_name(Bf16GemmEngine engine);

// fp32 output. kAvx512Bf16 on a CPU without the instructions throws moai::Error.
void bf16_gemm(float* c, const bf16* a, const bf16* b, int64_t m, int64_t n, int64_t k,
               bool trans_a, bool trans_b, float alpha, float beta,
               Bf16GemmEngine engine = Bf16GemmEngine::kAuto);

// bf16 output: computed in fp32 (c read as bf16 when beta != 0), rounded once at the end.
void bf16_gemm(bf16* c, const bf16* a, const bf16* b, int64_t m, int64_t n, int64_t k, bool trans_a,
               bool trans_b, float alpha, float beta,
               Bf16GemmEngine engine = Bf16GemmEngine::kAuto);

// The slow, obvious twin (double accumulation, single thread): what the tests compare against.
void bf16_gemm_reference(float* c, const bf16* a, const bf16* b, int64_t m, int64_t n, int64_t k,
                         bool trans_a, bool trans_b, float alpha, float beta);

}  // namespace moai::ops::cpu
