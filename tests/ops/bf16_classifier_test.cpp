// bf16 fused classifier + loss, every LossConfig, ignored labels, several chunks:
//  - tight: against a reference built on the same bf16 inputs (double-accumulated logits, the fp32
//    loss rows, the logits' gradient rounded to bf16 as the kernel does, double-accumulated
//    gradient matmuls);
//  - loose: against the fp32 kernel (itself checked against double finite differences in
//    grad_check_test.cpp) on the bf16-rounded inputs, the difference being the bf16 rounding of the
//    logits' gradient (relative 2^-9 per element).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "moai/ops/cpu/bf16_classifier.h"
#include "moai/ops/cpu/kernels.h"

namespace moai::ops::cpu {
namespace {

double relative_error(const std::vector<float>& got, const std::vector<float>& want) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    diff += (double(got[i]) - want[i]) * (double(got[i]) - want[i]);
    norm += double(want[i]) * want[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-300));
}

std::vector<bf16> absolute(std::vector<bf16> values) {
  for (bf16& value : values) value.bits &= 0x7FFF;
  return values;
}

// got vs want where magnitude[i] = sum |terms| of element i. The kernel's logits differ from the
// reference's in the last fp32 bits, so a gradient entry may round to the neighbouring bf16: at
// most 2^-8 of that term. Hence every element within 2^-8 of its magnitude (rigorous), and the
// error over the magnitude's norm below 1e-5 (such flips are rare).
void expect_within_magnitude(const std::vector<float>& got, const std::vector<float>& want,
                             const std::vector<float>& magnitude, const std::string& what) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(double(got[i]) - want[i]);
    ASSERT_LE(err, std::ldexp(1.0, -8) * magnitude[i] + 1e-30) << what << " element " << i;
    diff += err * err;
    norm += double(magnitude[i]) * magnitude[i];
  }
  EXPECT_LE(std::sqrt(diff / std::max(norm, 1e-300)), 1e-4) << what;
}

struct Problem {
  int64_t n, c, v;
  std::vector<bf16> x, w;
  std::vector<float> xf, wf;
  std::vector<int32_t> labels;
};

Problem make_problem(int64_t n, int64_t c, int64_t v, int32_t ignore_index, uint64_t seed) {
  Problem p{n, c, v, {}, {}, {}, {}, {}};
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t i = 0; i < n * c; ++i) p.x.push_back(to_bf16(normal(rng)));
  for (int64_t i = 0; i < v * c; ++i) p.w.push_back(to_bf16(0.5f * normal(rng)));
  for (const bf16 value : p.x) p.xf.push_back(to_f32(value));
  for (const bf16 value : p.w) p.wf.push_back(to_f32(value));
  for (int64_t i = 0; i < n; ++i)
    p.labels.push_back(i % 5 == 3 ? ignore_index : int32_t((i * 7919) % v));
  return p;
}

void check(const LossConfig& config, const char* label) {
  const Problem p = make_problem(45, 24, 70, config.ignore_index, 5);
  const float grad_scale = 1.0f / 45.0f;
  std::vector<float> losses(size_t(p.n)), dx(size_t(p.n * p.c)), dw(size_t(p.v * p.c), 0.25f);
  std::vector<Bf16GemmEngine> engines = {Bf16GemmEngine::kConvertSgemm};
  if (cpu_has_avx512_bf16()) engines.push_back(Bf16GemmEngine::kAvx512Bf16);
  for (const Bf16GemmEngine engine : engines) {
    std::fill(dw.begin(), dw.end(), 0.25f);  // dw accumulates onto what is there
    bf16_classifier_loss(losses.data(), dx.data(), dw.data(), p.x.data(), p.w.data(),
                         p.labels.data(), p.n, p.c, p.v, config, grad_scale, engine, 16);

    // Tight reference on the same bf16 inputs.
    std::vector<float> logits(size_t(p.n * p.v)), ref_losses(size_t(p.n));
    bf16_gemm_reference(logits.data(), p.x.data(), p.w.data(), p.n, p.v, p.c, false, true, 1.0f,
                        0.0f);
    std::vector<bf16> grad(logits.size());
    for (int64_t r = 0; r < p.n; ++r) {
      float* row = logits.data() + r * p.v;
      if (p.labels[size_t(r)] == config.ignore_index) {
        ref_losses[size_t(r)] = 0.0f;
        std::fill(row, row + p.v, 0.0f);
      } else {
        ref_losses[size_t(r)] = loss_row(row, p.v, p.labels[size_t(r)], config, grad_scale, true);
      }
      for (int64_t j = 0; j < p.v; ++j) grad[size_t(r * p.v + j)] = to_bf16(row[j]);
    }
    std::vector<float> ref_dx(dx.size()), ref_dw(dw.size(), 0.25f);
    bf16_gemm_reference(ref_dx.data(), grad.data(), p.w.data(), p.n, p.c, p.v, false, false, 1.0f,
                        0.0f);
    bf16_gemm_reference(ref_dw.data(), grad.data(), p.x.data(), p.v, p.c, p.n, true, false, 1.0f,
                        1.0f);
    for (int64_t r = 0; r < p.n; ++r) {
      EXPECT_NEAR(losses[size_t(r)], ref_losses[size_t(r)],
                  2e-5 * std::max(1.0f, ref_losses[size_t(r)]))
          << label << " row " << r;
      if (p.labels[size_t(r)] == config.ignore_index) {
        EXPECT_EQ(losses[size_t(r)], 0.0f);
        for (int64_t j = 0; j < p.c; ++j) EXPECT_EQ(dx[size_t(r * p.c + j)], 0.0f);
      }
    }
    std::vector<float> mag_dx(dx.size()), mag_dw(dw.size());
    const std::vector<bf16> abs_grad = absolute(grad);
    bf16_gemm_reference(mag_dx.data(), abs_grad.data(), absolute(p.w).data(), p.n, p.c, p.v, false,
                        false, 1.0f, 0.0f);
    bf16_gemm_reference(mag_dw.data(), abs_grad.data(), absolute(p.x).data(), p.v, p.c, p.n, true,
                        false, 1.0f, 0.0f);
    for (float& value : mag_dw) value += 0.25f;
    expect_within_magnitude(dx, ref_dx, mag_dx, std::string(label) + " dx");
    expect_within_magnitude(dw, ref_dw, mag_dw, std::string(label) + " dw");

    // The bf16-dx overload rounds the same fp32 dx once.
    std::vector<bf16> dx_bf(dx.size());
    std::vector<float> dw2(dw.size(), 0.25f), losses2(losses.size());
    bf16_classifier_loss(losses2.data(), dx_bf.data(), dw2.data(), p.x.data(), p.w.data(),
                         p.labels.data(), p.n, p.c, p.v, config, grad_scale, engine, 16);
    EXPECT_EQ(losses2, losses);
    EXPECT_EQ(dw2, dw);
    for (size_t i = 0; i < dx.size(); ++i) ASSERT_EQ(dx_bf[i].bits, to_bf16(dx[i]).bits);

    // fp32 w (the masters of bf16 training) that rounds to p.w: the same bits as p.w. Each value
    // sits just under half a bf16 step off p.w, so an unrounded read would differ.
    std::vector<float> w_master(p.wf.size());
    for (size_t i = 0; i < w_master.size(); ++i) {
      uint32_t bits;
      std::memcpy(&bits, &p.wf[i], 4);
      bits += 0x7FFF;
      std::memcpy(&w_master[i], &bits, 4);
      ASSERT_EQ(to_bf16(w_master[i]).bits, p.w[i].bits);
    }
    std::vector<bf16> dx_m(dx.size());
    std::vector<float> dw_m(dw.size(), 0.25f), losses_m(losses.size());
    bf16_classifier_loss(losses_m.data(), dx_m.data(), dw_m.data(), p.x.data(), w_master.data(),
                         p.labels.data(), p.n, p.c, p.v, config, grad_scale, engine, 16);
    EXPECT_EQ(losses_m, losses);
    EXPECT_EQ(dw_m, dw);
    for (size_t i = 0; i < dx.size(); ++i) ASSERT_EQ(dx_m[i].bits, dx_bf[i].bits);

    // Loss only (no gradient) gives the same losses, in the same chunks (a BLAS may sum a row
    // in another order for another M: OpenBLAS's Haswell sgemm does).
    std::vector<float> losses3(losses.size());
    bf16_classifier_loss(losses3.data(), static_cast<float*>(nullptr), nullptr, p.x.data(),
                         p.w.data(), p.labels.data(), p.n, p.c, p.v, config, grad_scale, engine,
                         16);
    EXPECT_EQ(losses3, losses) << label << " " << bf16_gemm_engine_name(engine);

    // Loose: the fp32 kernel on the rounded inputs.
    std::vector<float> f_losses(losses.size()), f_dx(dx.size()), f_dw(dw.size(), 0.25f);
    classifier_loss<float>(f_losses.data(), f_dx.data(), f_dw.data(), p.xf.data(), p.wf.data(),
                           p.labels.data(), p.n, p.c, p.v, config, grad_scale);
    EXPECT_LE(relative_error(losses, f_losses), 1e-5) << label;
    EXPECT_LE(relative_error(dx, f_dx), 1e-2) << label << " dx vs fp32";
    EXPECT_LE(relative_error(dw, f_dw), 1e-2) << label << " dw vs fp32";
  }
}

TEST(Bf16Classifier, CrossEntropy) {
  check(LossConfig::cross_entropy(), "cross-entropy");
}
TEST(Bf16Classifier, Focal) {
  check(LossConfig::focal(2.0f), "focal 2");
}
TEST(Bf16Classifier, FocalHalf) {
  check(LossConfig::focal(0.5f), "focal 0.5");
}
TEST(Bf16Classifier, LabelSmoothing) {
  check(LossConfig::label_smoothing(0.1f), "smoothing");
}
TEST(Bf16Classifier, MultiObjective) {
  check(LossConfig::multi_objective(), "mix");
}
TEST(Bf16Classifier, CustomIgnoreIndex) {
  LossConfig config = LossConfig::cross_entropy();
  config.ignore_index = 3;  // inside [0, V): rows labelled 3 are skipped
  check(config, "ignore 3");
}

}  // namespace
}  // namespace moai::ops::cpu
