// bf16 matmul against the double-precision reference on the same bf16 inputs: every engine, every
// transpose, alpha/beta (beta 0 over NaN), odd shapes around the kernel's blocking (12 x 32 tiles,
// depth slices of 256, 144-row and 2048-column panels), K = 1 and M = 1 (the matrix-vector paths,
// including the 16-row passes of x W^T).
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "moai/ops/cpu/bf16_matmul.h"

namespace moai::ops::cpu {
namespace {

std::vector<bf16> random_bf16(int64_t count, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<bf16> out(static_cast<size_t>(count));
  for (bf16& value : out) value = to_bf16(normal(rng));
  return out;
}

std::vector<Bf16GemmEngine> engines() {
  std::vector<Bf16GemmEngine> list = {Bf16GemmEngine::kConvertSgemm};
  if (cpu_has_avx512_bf16()) list.push_back(Bf16GemmEngine::kAvx512Bf16);
  return list;
}

struct Case {
  int64_t m, n, k;
};

// fp32 accumulation of k products: |error| <= (k + 2) u * (|alpha| sum|a b| + |beta c|), u = 2^-24
// (the classic gamma_k bound; the products themselves are exact in fp32).
void expect_close(const std::vector<float>& got, const std::vector<float>& want,
                  const std::vector<float>& magnitude, int64_t k, const char* what) {
  const double u = std::ldexp(1.0, -24);
  for (size_t i = 0; i < got.size(); ++i) {
    const double bound = double(k + 2) * u * magnitude[i] + 1e-30;
    ASSERT_LE(std::fabs(double(got[i]) - double(want[i])), bound)
        << what << " element " << i << " got " << got[i] << " want " << want[i];
  }
}

void check_case(const Case& shape, bool trans_a, bool trans_b, float alpha, float beta,
                Bf16GemmEngine engine, std::mt19937& rng) {
  const auto [m, n, k] = shape;
  const std::vector<bf16> a = random_bf16(m * k, rng), b = random_bf16(k * n, rng);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> c0(static_cast<size_t>(m * n));
  for (float& value : c0) value = beta == 0.0f ? NAN : normal(rng);
  std::vector<float> want = c0, got = c0, magnitude(c0.size());
  bf16_gemm_reference(want.data(), a.data(), b.data(), m, n, k, trans_a, trans_b, alpha, beta);
  // sum |a||b| from the reference on absolute values.
  std::vector<bf16> abs_a = a, abs_b = b;
  for (bf16& value : abs_a) value.bits &= 0x7FFF;
  for (bf16& value : abs_b) value.bits &= 0x7FFF;
  bf16_gemm_reference(magnitude.data(), abs_a.data(), abs_b.data(), m, n, k, trans_a, trans_b,
                      std::fabs(alpha), 0.0f);
  for (size_t i = 0; i < c0.size(); ++i)
    if (beta != 0.0f) magnitude[i] += std::fabs(beta * c0[i]);
  bf16_gemm(got.data(), a.data(), b.data(), m, n, k, trans_a, trans_b, alpha, beta, engine);
  const std::string what = std::string(bf16_gemm_engine_name(engine)) + " m" + std::to_string(m) +
                           " n" + std::to_string(n) + " k" + std::to_string(k) +
                           (trans_a ? " ta" : "") + (trans_b ? " tb" : "") + " beta " +
                           std::to_string(beta);
  expect_close(got, want, magnitude, k, what.c_str());

  // bf16 output: the fp32 result (from c rounded to bf16) rounded once.
  std::vector<bf16> c_bf(c0.size());
  for (size_t i = 0; i < c0.size(); ++i) c_bf[i] = to_bf16(beta == 0.0f ? NAN : c0[i]);
  std::vector<float> via_fp32(c0.size());
  for (size_t i = 0; i < c0.size(); ++i) via_fp32[i] = to_f32(c_bf[i]);
  bf16_gemm(via_fp32.data(), a.data(), b.data(), m, n, k, trans_a, trans_b, alpha, beta, engine);
  bf16_gemm(c_bf.data(), a.data(), b.data(), m, n, k, trans_a, trans_b, alpha, beta, engine);
  for (size_t i = 0; i < c0.size(); ++i)
    ASSERT_EQ(c_bf[i].bits, to_bf16(via_fp32[i]).bits) << what << " bf16 out " << i;
}

TEST(Bf16Matmul, MatchesReferenceOnOddShapes) {
  std::mt19937 rng(11);
  const Case cases[] = {{1, 1, 1},      {3, 5, 1},     {2, 3, 2},     {13, 33, 17}, {25, 70, 300},
                        {150, 65, 513}, {12, 32, 256}, {37, 2100, 9}, {64, 48, 64}, {300, 40, 33}};
  for (const Bf16GemmEngine engine : engines())
    for (const Case& shape : cases)
      for (int trans = 0; trans < 4; ++trans)
        for (const float beta : {0.0f, -0.75f})
          check_case(shape, trans & 1, trans & 2, beta == 0.0f ? 1.0f : 0.5f, beta, engine, rng);
}

TEST(Bf16Matmul, Bf16OutputInRowBlocks) {
  // Wide bf16 outputs are staged in fp32 blocks of rows (~1M elements): several blocks, and a split
  // that would leave one row alone (193 rows, 192 per block), keep the whole-matrix bits.
  std::mt19937 rng(13);
  const Case cases[] = {{400, 4100, 8}, {193, 5462, 3}};
  for (const Bf16GemmEngine engine : engines())
    for (const Case& shape : cases)
      for (int trans = 0; trans < 4; ++trans)
        check_case(shape, trans & 1, trans & 2, 1.0f, 0.5f, engine, rng);
}

TEST(Bf16Matmul, MatrixVectorShapes) {
  std::mt19937 rng(12);
  // The last case (2^20 weights) splits over the threads.
  const Case cases[] = {{1, 1, 33},  {1, 37, 19},   {1, 100, 64},  {1, 197, 77},
                        {1, 256, 1}, {1, 640, 300}, {1, 4100, 256}};
  for (const Bf16GemmEngine engine : engines())
    for (const Case& shape : cases)
      for (int trans = 0; trans < 4; ++trans)
        for (const float beta : {0.0f, 0.25f})
          check_case(shape, trans & 1, trans & 2, 1.0f, beta, engine, rng);
}

// The 16-row matrix-vector pass (y = x W^T): row counts around 16 (a short last pass) and depths
// around its 32-wide steps (k < 32, k % 32 != 0), alpha and beta, and a vocabulary-sized product
// whose rows split over the threads.
TEST(Bf16Matmul, MatrixVectorRowPasses) {
  std::mt19937 rng(14);
  for (const Bf16GemmEngine engine : engines())
    for (const int64_t n : {1, 15, 16, 17, 31, 49, 1000})
      for (const int64_t k : {1, 7, 31, 32, 33, 95, 512})
        check_case({1, n, k}, false, true, 0.75f, n % 2 ? 0.0f : -1.5f, engine, rng);
  for (const Bf16GemmEngine engine : engines())
    check_case({1, 4109, 512}, false, true, 1.0f, 0.0f, engine, rng);
}

TEST(Bf16Matmul, ZeroDepthScalesByBeta) {
  std::vector<float> c = {1.0f, NAN, 3.0f, 4.0f};
  bf16_gemm(c.data(), static_cast<const bf16*>(nullptr), static_cast<const bf16*>(nullptr), 2, 2, 0,
            false, false, 1.0f, 0.0f);
  for (float value : c) EXPECT_EQ(value, 0.0f);
  c = {1.0f, 2.0f, 3.0f, 4.0f};
  bf16_gemm(c.data(), static_cast<const bf16*>(nullptr), static_cast<const bf16*>(nullptr), 2, 2, 0,
            false, false, 1.0f, 2.0f);
  EXPECT_EQ(c[3], 8.0f);
}

// fp32 b (the master weights of bf16 training) is rounded to bf16 as the kernels read it: the same
// bits as passing its to_bf16 copy, for both outputs, every engine and transpose, and the
// matrix-vector shapes (m = 1) too.
TEST(Bf16Matmul, Fp32WeightsMatchTheirBf16Copy) {
  std::mt19937 rng(14);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const Case cases[] = {{1, 37, 19}, {1, 640, 300}, {13, 33, 17}, {150, 65, 513}, {193, 70, 40}};
  for (const Bf16GemmEngine engine : engines())
    for (const Case& shape : cases)
      for (int trans = 0; trans < 4; ++trans) {
        const auto [m, n, k] = shape;
        const bool ta = trans & 1, tb = trans & 2;
        const std::vector<bf16> a = random_bf16(m * k, rng);
        std::vector<float> b(static_cast<size_t>(k * n));
        for (float& value : b) value = normal(rng);
        std::vector<bf16> b16(b.size());
        for (size_t i = 0; i < b.size(); ++i) b16[i] = to_bf16(b[i]);
        std::vector<float> want(static_cast<size_t>(m * n), 0.5f), got = want;
        bf16_gemm(want.data(), a.data(), b16.data(), m, n, k, ta, tb, 1.0f, 0.25f, engine);
        bf16_gemm(got.data(), a.data(), b.data(), m, n, k, ta, tb, 1.0f, 0.25f, engine);
        std::vector<bf16> want16(want.size(), to_bf16(0.5f)), got16 = want16;
        bf16_gemm(want16.data(), a.data(), b16.data(), m, n, k, ta, tb, 1.0f, 0.0f, engine);
        bf16_gemm(got16.data(), a.data(), b.data(), m, n, k, ta, tb, 1.0f, 0.0f, engine);
        for (size_t i = 0; i < want.size(); ++i) {
          ASSERT_EQ(got[i], want[i]) << bf16_gemm_engine_name(engine) << " trans " << trans;
          ASSERT_EQ(got16[i].bits, want16[i].bits) << bf16_gemm_engine_name(engine);
        }
      }
}

// a read with a row stride (lda) larger than its rows: the same bits as its dense copy, for both
// outputs, every engine, a stored as [M, K] and as [K, M] (trans_a), a lone row (the matrix-vector
// path) and a bf16 output staged in row blocks (400 x 4100).
TEST(Bf16Matmul, StridedAMatchesItsDenseCopy) {
  std::mt19937 rng(15);
  const Case cases[] = {{1, 37, 19}, {13, 33, 17}, {150, 65, 513}, {400, 4100, 8}};
  for (const Bf16GemmEngine engine : engines())
    for (const Case& shape : cases)
      for (const bool ta : {false, true}) {
        const auto [m, n, k] = shape;
        const int64_t rows = ta ? k : m, cols = ta ? m : k, lda = 2 * cols + 3;
        const std::vector<bf16> dense = random_bf16(rows * cols, rng), b = random_bf16(k * n, rng);
        std::vector<bf16> strided(size_t(rows * lda), to_bf16(NAN));
        for (int64_t r = 0; r < rows; ++r)
          std::copy_n(dense.begin() + r * cols, cols, strided.begin() + r * lda);
        std::vector<float> want(size_t(m * n)), got(want.size());
        bf16_gemm(want.data(), dense.data(), b.data(), m, n, k, ta, false, 1.0f, 0.0f, engine);
        bf16_gemm(got.data(), strided.data(), b.data(), m, n, k, ta, false, 1.0f, 0.0f, engine,
                  lda);
        std::vector<bf16> want16(want.size()), got16(want.size());
        bf16_gemm(want16.data(), dense.data(), b.data(), m, n, k, ta, false, 1.0f, 0.0f, engine);
        bf16_gemm(got16.data(), strided.data(), b.data(), m, n, k, ta, false, 1.0f, 0.0f, engine,
                  lda);
        for (size_t i = 0; i < want.size(); ++i) {
          ASSERT_EQ(got[i], want[i]) << bf16_gemm_engine_name(engine) << " m" << m << " ta " << ta;
          ASSERT_EQ(got16[i].bits, want16[i].bits) << bf16_gemm_engine_name(engine) << " m" << m;
        }
      }
}

// The own kernel sums each element in one tile in a fixed order, so the thread partition cannot
// change its bits; BLAS may pick other edge kernels for other partitions, so convert+sgemm is only
// deterministic for a fixed thread count.
TEST(Bf16Matmul, ThreadCountDoesNotChangeBits) {
  std::mt19937 rng(13);
  const int64_t m = 300, n = 200, k = 100;
  const std::vector<bf16> a = random_bf16(m * k, rng), b = random_bf16(k * n, rng);
  std::vector<float> one(size_t(m * n)), two(size_t(m * n));
  for (const Bf16GemmEngine engine : engines()) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(engine == Bf16GemmEngine::kAvx512Bf16 ? 1 : 2);
    bf16_gemm(one.data(), a.data(), b.data(), m, n, k, false, true, 1.0f, 0.0f, engine);
    omp_set_num_threads(2);
    bf16_gemm(two.data(), a.data(), b.data(), m, n, k, false, true, 1.0f, 0.0f, engine);
    omp_set_num_threads(saved);
    EXPECT_EQ(one, two) << bf16_gemm_engine_name(engine);
  }
}

}  // namespace
}  // namespace moai::ops::cpu
