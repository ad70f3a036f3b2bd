// The dtype-carrying interface: (op, dtype) support, shape checks, and the bf16 route of the CPU
// backend against fp32 on the same bf16-rounded inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "moai/core/error.h"
#include "moai/ops/backend_factory.h"
#include "moai/ops/cpu/bf16_classifier.h"
#include "moai/ops/ops.h"

namespace moai::ops {
namespace {

std::vector<float> random_floats(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> out(n);
  for (float& value : out) value = normal(rng);
  return out;
}

std::vector<BFloat16> to_bf16(const std::vector<float>& values) {
  std::vector<BFloat16> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) out[i] = ops::to_bf16(values[i]);
  return out;
}

std::vector<float> rounded(const std::vector<float>& values) {
  std::vector<float> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) out[i] = to_f32(ops::to_bf16(values[i]));
  return out;
}

TEST(BackendDtype, UnsupportedOpDtypeIsAnInputErrorNamingBoth) {
  auto backend = make_cpu_backend(1);
  EXPECT_TRUE(backend->supports(Op::kMatmul, DType::kBF16));
  EXPECT_FALSE(backend->supports(Op::kMatmul, DType::kF16));
  EXPECT_FALSE(backend->supports(Op::kAdamW, DType::kBF16));
  std::vector<uint16_t> a(4), b(4);
  std::vector<float> c(4);
  const TensorView a16 = make_view(a.data(), DType::kF16, {2, 2});
  const TensorView b16 = make_view(b.data(), DType::kF16, {2, 2});
  try {
    backend->matmul(view(c.data(), {2, 2}), a16, b16, false, false, 1.0f, 0.0f);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("matmul"), std::string::npos) << message;
    EXPECT_NE(message.find("F16"), std::string::npos) << message;
  }
  std::vector<BFloat16> p(4);
  std::vector<float> m(4), v(4), g(4);
  EXPECT_THROW(backend->adamw_update(view(p.data(), {4}), view(m.data(), {4}), view(v.data(), {4}),
                                     view(g.data(), {4}), AdamWStep{}),
               InputError);
}

TEST(BackendDtype, ShapeMismatchIsAnInputError) {
  auto backend = make_cpu_backend(1);
  std::vector<float> a(6), b(6), c(9);
  try {
    backend->matmul(view(c.data(), {3, 3}), view(a.data(), {2, 3}), view(b.data(), {2, 3}), false,
                    false, 1.0f, 0.0f);
    FAIL() << "expected InputError";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find("inner size 3"), std::string::npos) << error.what();
  }
}

TEST(BackendDtype, Bf16MatmulEqualsFp32OnRoundedInputs) {
  const int64_t M = 5, K = 33, N = 7;
  auto backend = make_cpu_backend(2);
  const std::vector<float> a = random_floats(M * K, 1), b = random_floats(N * K, 2);
  std::vector<float> c32(M * N), c16(M * N);
  const std::vector<float> ra = rounded(a), rb = rounded(b);
  backend->matmul(view(c32.data(), {M, N}), view(ra.data(), {M, K}), view(rb.data(), {N, K}), false,
                  true, 1.0f, 0.0f);
  const std::vector<BFloat16> a16 = to_bf16(a), b16 = to_bf16(b);
  backend->matmul(view(c16.data(), {M, N}), view(a16.data(), {M, K}), view(b16.data(), {N, K}),
                  false, true, 1.0f, 0.0f);
  // fp32 accumulation of exactly representable products: equal up to summation order.
  for (size_t i = 0; i < c32.size(); ++i)
    EXPECT_NEAR(c16[i], c32[i], 1e-4f * (1 + std::fabs(c32[i])));
}

TEST(BackendDtype, ConvertRoundsToNearestEven) {
  auto backend = make_cpu_backend(1);
  // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: even mantissa (1) wins; 1 + 3 * 2^-8 rounds up.
  std::vector<float> src = {1.0f + 1.0f / 256, 1.0f + 3.0f / 256, -2.5f, 1e-40f};
  std::vector<BFloat16> dst(src.size());
  backend->convert(view(dst.data(), {4}), view(src.data(), {4}));
  std::vector<float> back(src.size());
  backend->convert(view(back.data(), {4}), view(dst.data(), {4}));
  EXPECT_EQ(back[0], 1.0f);
  EXPECT_EQ(back[1], 1.0f + 4.0f / 256);
  EXPECT_EQ(back[2], -2.5f);
  EXPECT_EQ(dst[3].bits, 0x0000);  // an fp32 subnormal flushes to zero (tensor.h), on every path
}

TEST(BackendDtype, Bf16AttentionAndLossMatchFp32OnRoundedInputs) {
  const int64_t B = 1, T = 6, H = 2, KV = 1, D = 8, V = 11, C = 8;
  auto backend = make_cpu_backend(2);
  const std::vector<float> q = rounded(random_floats(B * T * H * D, 3)),
                           k = rounded(random_floats(B * T * KV * D, 4)),
                           v = rounded(random_floats(B * T * KV * D, 5));
  const AttentionShape shape{B, T, T, H, KV, D, 0, 0.35f};
  std::vector<float> out32(q.size()), lse32(B * H * T), lse16(B * H * T);
  backend->attention_forward(view(out32.data(), {B * T * H * D}), view(lse32.data(), {B * H * T}),
                             view(q.data(), {B * T * H * D}), view(k.data(), {B * T * KV * D}),
                             view(v.data(), {B * T * KV * D}), absent<int32_t>(), shape);
  const std::vector<BFloat16> q16 = to_bf16(q), k16 = to_bf16(k), v16 = to_bf16(v);
  std::vector<BFloat16> out16(q.size());
  backend->attention_forward(view(out16.data(), {B * T * H * D}), view(lse16.data(), {B * H * T}),
                             view(q16.data(), {B * T * H * D}), view(k16.data(), {B * T * KV * D}),
                             view(v16.data(), {B * T * KV * D}), absent<int32_t>(), shape);
  for (size_t i = 0; i < out32.size(); ++i)
    EXPECT_NEAR(to_f32(out16[i]), out32[i], 1e-2f * (1 + std::fabs(out32[i])));
  for (size_t i = 0; i < lse32.size(); ++i) EXPECT_NEAR(lse16[i], lse32[i], 1e-5f);

  const std::vector<float> x = rounded(random_floats(T * C, 6)),
                           w = rounded(random_floats(V * C, 7));
  std::vector<int32_t> labels = {1, 2, -100, 4, 10, 0};
  std::vector<float> loss32(T), loss16(T);
  backend->classifier_loss(view(loss32.data(), {T}), absent<float>(), absent<float>(),
                           view(x.data(), {T, C}), view(w.data(), {V, C}), view(labels.data(), {T}),
                           LossConfig::cross_entropy(), 1.0f);
  const std::vector<BFloat16> x16 = to_bf16(x), w16 = to_bf16(w);
  backend->classifier_loss(view(loss16.data(), {T}), absent<BFloat16>(), absent<float>(),
                           view(x16.data(), {T, C}), view(w16.data(), {V, C}),
                           view(labels.data(), {T}), LossConfig::cross_entropy(), 1.0f);
  for (int64_t i = 0; i < T; ++i) EXPECT_NEAR(loss16[size_t(i)], loss32[size_t(i)], 1e-5f);
}

// The bf16 dispatch points pick the kernel overload by the output's dtype: a bf16 matmul output is
// the fp32 result rounded once; the classifier's dx in bf16 is its fp32 dx rounded (the same
// kernel called directly, same chunking), and dw (fp32) is the same either way.
TEST(BackendDtype, Bf16OutputsAreTheFp32OutputsRounded) {
  const int64_t M = 6, K = 40, N = 9, V = 13;
  auto backend = make_cpu_backend(2);
  const std::vector<BFloat16> a16 = to_bf16(random_floats(M * K, 8)),
                              b16 = to_bf16(random_floats(N * K, 9));
  std::vector<float> c32(M * N);
  std::vector<BFloat16> c16(M * N);
  backend->matmul(view(c32.data(), {M, N}), view(a16.data(), {M, K}), view(b16.data(), {N, K}),
                  false, true, 1.0f, 0.0f);
  backend->matmul(view(c16.data(), {M, N}), view(a16.data(), {M, K}), view(b16.data(), {N, K}),
                  false, true, 1.0f, 0.0f);
  for (size_t i = 0; i < c32.size(); ++i) EXPECT_EQ(c16[i].bits, ops::to_bf16(c32[i]).bits) << i;

  const std::vector<BFloat16> w16 = to_bf16(random_floats(V * K, 10));
  std::vector<int32_t> labels = {0, 12, -100, 3, 7, 5};
  std::vector<float> loss32(M), loss16(M), dx32(M * K), dw32(V * K, 0.0f), dw16(V * K, 0.0f);
  std::vector<BFloat16> dx16(M * K);
  cpu::bf16_classifier_loss(loss32.data(), dx32.data(), dw32.data(), a16.data(), w16.data(),
                            labels.data(), M, K, V, LossConfig::cross_entropy(), 0.5f);
  backend->classifier_loss(view(loss16.data(), {M}), view(dx16.data(), {M, K}),
                           view(dw16.data(), {V, K}), view(a16.data(), {M, K}),
                           view(w16.data(), {V, K}), view(labels.data(), {M}),
                           LossConfig::cross_entropy(), 0.5f);
  EXPECT_EQ(loss16, loss32);
  EXPECT_EQ(dw16, dw32);
  for (size_t i = 0; i < dx32.size(); ++i) EXPECT_EQ(dx16[i].bits, ops::to_bf16(dx32[i]).bits) << i;
  EXPECT_EQ(loss32[2], 0.0f);  // the ignored label
}

// The direct bf16 add / accumulate round each fp32 sum once: the fp32 result rounded, bit for bit.
TEST(BackendDtype, Bf16AddAndAccumulateRoundTheFp32Sum) {
  const int64_t n = 1000;
  auto backend = make_cpu_backend(2);
  const std::vector<float> a = random_floats(n, 11), b = random_floats(n, 12);
  const std::vector<BFloat16> a16 = to_bf16(a), b16 = to_bf16(b);
  std::vector<BFloat16> sum16(n), acc16 = a16;
  backend->add(view(sum16.data(), {n}), view(a16.data(), {n}), view(b16.data(), {n}));
  backend->accumulate(view(acc16.data(), {n}), view(b16.data(), {n}));
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t expected = ops::to_bf16(to_f32(a16[size_t(i)]) + to_f32(b16[size_t(i)])).bits;
    EXPECT_EQ(sum16[size_t(i)].bits, expected) << i;
    EXPECT_EQ(acc16[size_t(i)].bits, expected) << i;
  }
}

TEST(BackendFactory, DeviceSpecsParseAndBadOnesAreInputErrors) {
  EXPECT_EQ(parse_device("auto", "--device").choice, DeviceChoice::kAuto);
  EXPECT_EQ(parse_device("cpu", "--device").choice, DeviceChoice::kCpu);
  const DeviceSpec second = parse_device("cuda:1", "--device");
  EXPECT_EQ(second.choice, DeviceChoice::kCuda);
  EXPECT_EQ(second.index, 1);
  EXPECT_EQ(device_spec_name(second), "cuda:1");
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CPU"})
    EXPECT_THROW(parse_device(bad, "--device"), InputError) << bad;
  EXPECT_EQ(make_backend({DeviceChoice::kCpu, 0}, 1)->device(), DeviceKind::kCpu);
  if (!cuda_built()) {
    EXPECT_EQ(make_backend({DeviceChoice::kAuto, 0}, 1)->device(), DeviceKind::kCpu);
    try {
      make_backend({DeviceChoice::kCuda, 0}, 1);
      FAIL() << "expected InputError";
    } catch (const InputError& error) {
      EXPECT_NE(std::string(error.what()).find("make cuda"), std::string::npos) << error.what();
    }
  }
}

TEST(BackendFactory, PrecisionNames) {
  EXPECT_EQ(parse_precision("bf16", "p"), Precision::kBf16);
  EXPECT_EQ(parse_precision("bfloat16", "p"), Precision::kBf16);
  EXPECT_EQ(parse_precision("fp32", "p"), Precision::kFp32);
  EXPECT_THROW(parse_precision("fp16", "p"), InputError);
  EXPECT_THROW(parse_precision("fp8", "p"), InputError);
}

}  // namespace
}  // namespace moai::ops
