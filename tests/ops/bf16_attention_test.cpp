// bf16 attention against the double-precision kernels (checked against finite differences in
// grad_check_test.cpp) run on the same bf16-rounded inputs, plus a direct finite-difference check
// of a few gradient entries. Odd sizes (T = 37, D = 24: not multiples of the 4-query / 8-key
// blocks), GQA, packed-document masks, the KV-cache shape and the decode kernel (few queries read
// straight from the bf16 cache).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "moai/ops/cpu/bf16_attention.h"
#include "moai/ops/cpu/kernels.h"

namespace moai::ops::cpu {
namespace {

struct Tensor {
  std::vector<bf16> bf;
  std::vector<double> f64;  // the same values, exactly
};

Tensor random_tensor(int64_t count, std::mt19937_64& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Tensor t;
  for (int64_t i = 0; i < count; ++i) {
    t.bf.push_back(to_bf16(normal(rng)));
    t.f64.push_back(double(to_f32(t.bf.back())));
  }
  return t;
}

// A bf16 result rounded once from an fp32 value with fp32-level error: within half a bf16 ulp of
// the exact value plus `slack` times the tensor's largest magnitude.
void expect_bf16_close(const std::vector<bf16>& got, const std::vector<double>& want, double slack,
                       const std::string& what) {
  double scale = 0;
  for (double value : want) scale = std::max(scale, std::fabs(value));
  for (size_t i = 0; i < got.size(); ++i) {
    const double bound = std::ldexp(std::fabs(want[i]), -8) + slack * scale;
    ASSERT_LE(std::fabs(double(to_f32(got[i])) - want[i]), bound)
        << what << " element " << i << " want " << want[i];
  }
}

void check(int64_t B, int64_t T, int64_t H, int64_t KV, int64_t D, bool segments,
           const std::string& label) {
  std::mt19937_64 rng(17);
  const AttentionShape shape{B, T, T, H, KV, D, 0, float(1.0 / std::sqrt(double(D)))};
  const Tensor q = random_tensor(B * T * H * D, rng), k = random_tensor(B * T * KV * D, rng),
               v = random_tensor(B * T * KV * D, rng), dout = random_tensor(B * T * H * D, rng);
  std::vector<int32_t> seg(size_t(B * T));
  for (int64_t i = 0; i < B * T; ++i) seg[size_t(i)] = int32_t((i % T) * 3 / T);  // 3 documents
  const int32_t* seg_ptr = segments ? seg.data() : nullptr;

  std::vector<bf16> out(q.bf.size());
  std::vector<float> lse(size_t(B * H * T));
  bf16_attention_forward(out.data(), lse.data(), q.bf.data(), k.bf.data(), v.bf.data(), seg_ptr,
                         shape);
  std::vector<double> out_ref(q.f64.size()), lse_ref(lse.size());
  attention_forward(out_ref.data(), lse_ref.data(), q.f64.data(), k.f64.data(), v.f64.data(),
                    seg_ptr, shape);
  expect_bf16_close(out, out_ref, 1e-5, label + " out");
  for (size_t i = 0; i < lse.size(); ++i) ASSERT_NEAR(lse[i], lse_ref[i], 1e-5) << label << " lse";

  // Backward from the kernel's own saved tensors (bf16 out, fp32 lse), the reference on the same.
  std::vector<bf16> dq(q.bf.size()), dk(k.bf.size()), dv(v.bf.size());
  bf16_attention_backward(dq.data(), dk.data(), dv.data(), dout.bf.data(), out.data(), lse.data(),
                          q.bf.data(), k.bf.data(), v.bf.data(), seg_ptr, shape);
  std::vector<double> out_saved(out.size()), lse_saved(lse.begin(), lse.end());
  for (size_t i = 0; i < out.size(); ++i) out_saved[i] = to_f32(out[i]);
  std::vector<double> dq_ref(dq.size()), dk_ref(dk.size()), dv_ref(dv.size());
  attention_backward(dq_ref.data(), dk_ref.data(), dv_ref.data(), dout.f64.data(), out_saved.data(),
                     lse_saved.data(), q.f64.data(), k.f64.data(), v.f64.data(), seg_ptr, shape);
  expect_bf16_close(dq, dq_ref, 1e-5, label + " dq");
  expect_bf16_close(dk, dk_ref, 1e-5, label + " dk");
  expect_bf16_close(dv, dv_ref, 1e-5, label + " dv");

  // Finite differences of f = sum(dout * out(q, k, v)) in double at the bf16 point, for a few
  // entries of each input. The backward used the bf16-rounded out in delta = dO . O, so allow that
  // rounding (relative 2^-9 of out) on top.
  auto f = [&](const std::vector<double>& qq, const std::vector<double>& kk,
               const std::vector<double>& vv) {
    std::vector<double> o(out_ref.size()), l(lse_ref.size());
    attention_forward(o.data(), l.data(), qq.data(), kk.data(), vv.data(), seg_ptr, shape);
    double sum = 0;
    for (size_t i = 0; i < o.size(); ++i) sum += dout.f64[i] * o[i];
    return sum;
  };
  const double h = 1e-5;
  for (int which = 0; which < 3; ++which) {
    const std::vector<bf16>& grad = which == 0 ? dq : which == 1 ? dk : dv;
    for (int trial = 0; trial < 6; ++trial) {
      const size_t i = size_t(rng() % grad.size());
      std::vector<double> qq = q.f64, kk = k.f64, vv = v.f64;
      std::vector<double>& x = which == 0 ? qq : which == 1 ? kk : vv;
      x[i] += h;
      const double plus = f(qq, kk, vv);
      x[i] -= 2 * h;
      const double numeric = (plus - f(qq, kk, vv)) / (2 * h);
      EXPECT_NEAR(to_f32(grad[i]), numeric, 2e-2 * std::fabs(numeric) + 2e-3)
          << label << " finite difference, tensor " << which << " element " << i;
    }
  }
}

TEST(Bf16Attention, CausalGqaOddSizes) {
  check(2, 37, 4, 2, 24, false, "causal");
}
TEST(Bf16Attention, DocumentMasks) {
  check(1, 29, 2, 1, 16, true, "segments");
}
TEST(Bf16Attention, MultiHeadNoGrouping) {
  check(1, 9, 3, 3, 8, false, "mha");
}

TEST(Bf16Attention, KvCacheShape) {
  // 3 new queries against a 13-row cache stored in 16-row buffers, vs the double kernel.
  const int64_t B = 2, H = 4, KV = 2, D = 16, rows = 13, new_rows = 3, cache = 16;
  std::mt19937_64 rng(23);
  const Tensor q = random_tensor(B * new_rows * H * D, rng),
               k = random_tensor(B * cache * KV * D, rng),
               v = random_tensor(B * cache * KV * D, rng);
  const AttentionShape shape{B, new_rows, rows, H, KV, D, cache * KV * D, 0.25f};
  std::vector<bf16> out(q.bf.size());
  bf16_attention_forward(out.data(), nullptr, q.bf.data(), k.bf.data(), v.bf.data(), nullptr,
                         shape);
  std::vector<double> ref(out.size());
  attention_forward(ref.data(), static_cast<double*>(nullptr), q.f64.data(), k.f64.data(),
                    v.f64.data(), nullptr, shape);
  expect_bf16_close(out, ref, 1e-5, "kv cache");
}

TEST(Bf16Attention, DecodeQueriesOverCache) {
  // The decode kernel (<= 16 new queries, no masks, straight from the bf16 cache): 1..16 queries,
  // GQA, caches of 1, 17 and 300 valid rows in 320-row buffers, out and lse vs the double kernel.
  const int64_t B = 2, H = 8, KV = 2, D = 64, cache = 320;
  std::mt19937_64 rng(29);
  const Tensor k = random_tensor(B * cache * KV * D, rng),
               v = random_tensor(B * cache * KV * D, rng);
  for (const int64_t rows : {1, 17, 300})
    for (int64_t new_rows = 1; new_rows <= std::min<int64_t>(16, rows); ++new_rows) {
      const Tensor q = random_tensor(B * new_rows * H * D, rng);
      const AttentionShape shape{B, new_rows, rows, H, KV, D, cache * KV * D, 0.125f};
      std::vector<bf16> out(q.bf.size());
      std::vector<float> lse(size_t(B * H * new_rows));
      bf16_attention_forward(out.data(), lse.data(), q.bf.data(), k.bf.data(), v.bf.data(), nullptr,
                             shape);
      std::vector<double> ref(out.size()), lse_ref(lse.size());
      attention_forward(ref.data(), lse_ref.data(), q.f64.data(), k.f64.data(), v.f64.data(),
                        nullptr, shape);
      const std::string what =
          "cache " + std::to_string(rows) + ", " + std::to_string(new_rows) + " queries";
      expect_bf16_close(out, ref, 1e-5, what);
      for (size_t i = 0; i < lse.size(); ++i) ASSERT_NEAR(lse[i], lse_ref[i], 1e-5) << what;
    }
}

}  // namespace
}  // namespace moai::ops::cpu
