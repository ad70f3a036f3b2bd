// Every backward kernel against central finite differences, in double precision (the kernels are
// templates; the backend instantiates float, these tests double). The scalar checked is f = sum(r *
// forward(...)) for a fixed random r, whose gradient the backward computes from dout = r.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "moai/ops/cpu/kernels.h"
#include "moai/ops/rope.h"

namespace moai::ops::cpu {
namespace {

using Vec = std::vector<double>;

Vec random_vec(size_t n, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  Vec out(n);
  for (double& value : out) value = normal(rng);
  return out;
}

double dot(const Vec& a, const Vec& b) {
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

// Compares analytic with central differences of f around x (perturbing x in place); returns the
// worst relative error max|a - n| / max(1e-8, max|n|).
double check_gradient(Vec& x, const Vec& analytic, const std::function<double()>& f,
                      const char* what) {
  const double h = 1e-6;
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double plus = f();
    x[i] = saved - h;
    const double minus = f();
    x[i] = saved;
    const double numeric = (plus - minus) / (2 * h);
    max_diff = std::max(max_diff, std::fabs(numeric - analytic[i]));
    max_ref = std::max(max_ref, std::fabs(numeric));
  }
  const double error = max_diff / std::max(max_ref, 1e-8);
  std::printf("  %-28s max rel error %.3g\n", what, error);
  return error;
}

constexpr double kTolerance = 1e-6;

TEST(OpsGradCheck, Embedding) {
  const int64_t V = 7, C = 5, N = 9;
  std::vector<int32_t> ids = {0, 3, 3, 6, 1, 0, 3, 2, 5};  // repeated ids accumulate
  Vec table = random_vec(V * C, 1), r = random_vec(N * C, 2), out(N * C);
  auto f = [&] {
    embedding_forward(out.data(), ids.data(), table.data(), N, C);
    return dot(out, r);
  };
  Vec dtable(V * C, 0.0);
  embedding_backward(dtable.data(), r.data(), ids.data(), N, C);
  EXPECT_LE(check_gradient(table, dtable, f, "embedding dtable"), kTolerance);
}

TEST(OpsGradCheck, RmsNorm) {
  const int64_t N = 6, C = 16;
  Vec x = random_vec(N * C, 3), w = random_vec(C, 4), r = random_vec(N * C, 5), out(N * C), rstd(N);
  auto f = [&] {
    rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, 1e-6);
    return dot(out, r);
  };
  f();
  Vec dx(N * C, 0.5), dw(C, 0.0);  // dx starts non-zero: accumulate=true must add to it
  rmsnorm_backward(dx.data(), dw.data(), r.data(), x.data(), w.data(), rstd.data(), N, C, true);
  for (double& value : dx) value -= 0.5;
  EXPECT_LE(check_gradient(x, dx, f, "rmsnorm dinp"), kTolerance);
  EXPECT_LE(check_gradient(w, dw, f, "rmsnorm dweight"), kTolerance);
  Vec dx_overwrite(N * C, 123.0), dw2(C, 0.0);
  rmsnorm_backward(dx_overwrite.data(), dw2.data(), r.data(), x.data(), w.data(), rstd.data(), N, C,
                   false);
  for (int64_t i = 0; i < N * C; ++i) EXPECT_NEAR(dx_overwrite[size_t(i)], dx[size_t(i)], 1e-12);
}

TEST(OpsGradCheck, RopeWithPositionsAndYarnTables) {
  const int64_t N = 5, H = 3, D = 8;
  RopeParams params{D, 10000.0, 64, {}};
  params.scaling.type = RopeType::kYarn;
  params.scaling.factor = 4.0;
  params.scaling.original_max_position_embeddings = 16;
  const RopeTables tables = rope_tables(params, 64);
  std::vector<int32_t> positions = {0, 17, 3, 63, 1};  // explicit, non-monotonic
  Vec x = random_vec(N * H * D, 6), r = random_vec(N * H * D, 7);
  auto f = [&] {
    Vec y = x;
    rope_apply(y.data(), positions.data(), tables.cos.data(), tables.sin.data(), N, H, D, +1);
    return dot(y, r);
  };
  Vec dx = r;
  rope_apply(dx.data(), positions.data(), tables.cos.data(), tables.sin.data(), N, H, D, -1);
  EXPECT_LE(check_gradient(x, dx, f, "rope dx"), kTolerance);
}

void check_attention(const std::vector<int32_t>* segments, const char* label) {
  const int64_t B = 2, T = 6, H = 4, KV = 2, D = 4;
  AttentionShape shape{B, T, T, H, KV, D, 0, 0.5f};
  Vec q = random_vec(B * T * H * D, 8), k = random_vec(B * T * KV * D, 9),
      v = random_vec(B * T * KV * D, 10);
  Vec r = random_vec(B * T * H * D, 11), out(B * T * H * D), lse(B * H * T);
  const int32_t* seg = segments ? segments->data() : nullptr;
  auto f = [&] {
    attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), seg, shape);
    return dot(out, r);
  };
  f();
  Vec dq(q.size()), dk(k.size(), 7.0), dv(v.size(), 7.0);  // dk/dv must be overwritten
  attention_backward(dq.data(), dk.data(), dv.data(), r.data(), out.data(), lse.data(), q.data(),
                     k.data(), v.data(), seg, shape);
  std::printf(" %s\n", label);
  EXPECT_LE(check_gradient(q, dq, f, "attention dq"), kTolerance);
  EXPECT_LE(check_gradient(k, dk, f, "attention dk"), kTolerance);
  EXPECT_LE(check_gradient(v, dv, f, "attention dv"), kTolerance);
}

TEST(OpsGradCheck, AttentionCausalGqa) {
  check_attention(nullptr, "causal");
}

TEST(OpsGradCheck, AttentionWithDocumentMasks) {
  const std::vector<int32_t> segments = {0, 0, 1, 1, 1, 2, 0, 0, 0, 0, 5, 5};
  check_attention(&segments, "document masks");
}

TEST(OpsGradCheck, SwiGlu) {
  const int64_t N = 40;
  Vec gate = random_vec(N, 12, 2.0), up = random_vec(N, 13), r = random_vec(N, 14), out(N);
  auto f = [&] {
    swiglu_forward(out.data(), gate.data(), up.data(), N);
    return dot(out, r);
  };
  Vec dgate(N), dup(N);
  swiglu_backward(dgate.data(), dup.data(), r.data(), gate.data(), up.data(), N);
  EXPECT_LE(check_gradient(gate, dgate, f, "swiglu dgate"), kTolerance);
  EXPECT_LE(check_gradient(up, dup, f, "swiglu dup"), kTolerance);
}

TEST(OpsGradCheck, Linear) {
  const int64_t N = 5, IC = 6, OC = 4;
  Vec x = random_vec(N * IC, 15), w = random_vec(OC * IC, 16), r = random_vec(N * OC, 17),
      out(N * OC);
  auto f = [&] {
    gemm(out.data(), x.data(), w.data(), N, OC, IC, false, true, 1.0, 0.0);
    return dot(out, r);
  };
  Vec dx(N * IC), dw(OC * IC, 0.0);
  gemm(dx.data(), r.data(), w.data(), N, IC, OC, false, false, 1.0, 0.0);
  gemm(dw.data(), r.data(), x.data(), OC, IC, N, true, false, 1.0, 1.0);
  EXPECT_LE(check_gradient(x, dx, f, "linear dinp"), kTolerance);
  EXPECT_LE(check_gradient(w, dw, f, "linear dweight"), kTolerance);
}

void check_classifier(const LossConfig& config, const char* label) {
  const int64_t N = 7, C = 5, V = 11;
  std::vector<int32_t> labels = {3, -100, 0, 10, 5, -100, 3};
  Vec x = random_vec(N * C, 18), w = random_vec(V * C, 19, 0.7), losses(N);
  const double grad_scale = 1.0 / 5.0;  // 5 valid labels
  auto f = [&] {
    classifier_loss<double>(losses.data(), nullptr, nullptr, x.data(), w.data(), labels.data(), N,
                            C, V, config, grad_scale);
    double sum = 0;
    for (double value : losses) sum += value;
    return sum * grad_scale;
  };
  Vec dx(N * C, 9.0), dw(V * C, 0.0);
  classifier_loss<double>(losses.data(), dx.data(), dw.data(), x.data(), w.data(), labels.data(), N,
                          C, V, config, grad_scale);
  EXPECT_EQ(losses[1], 0.0);
  std::printf(" %s\n", label);
  EXPECT_LE(check_gradient(x, dx, f, "classifier dx"), kTolerance);
  EXPECT_LE(check_gradient(w, dw, f, "classifier dw"), kTolerance);
}

TEST(OpsGradCheck, ClassifierCrossEntropy) {
  check_classifier(LossConfig::cross_entropy(), "cross-entropy");
}
TEST(OpsGradCheck, ClassifierFocal) {
  check_classifier(LossConfig::focal(2.0f), "focal gamma 2");
}
TEST(OpsGradCheck, ClassifierFocalGammaHalf) {
  check_classifier(LossConfig::focal(0.5f), "focal gamma 0.5");
}
TEST(OpsGradCheck, ClassifierLabelSmoothing) {
  check_classifier(LossConfig::label_smoothing(0.1f), "label smoothing 0.1");
}
TEST(OpsGradCheck, ClassifierMultiObjective) {
  check_classifier(LossConfig::multi_objective(), "0.6/0.3/0.1 mix");
}

}  // namespace
}  // namespace moai::ops::cpu
