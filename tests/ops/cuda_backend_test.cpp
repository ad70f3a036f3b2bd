// CUDA backend vs the CPU reference, op by op, on fresh random inputs (the seed is printed on
// failure). Every output is poisoned with NaN before the CUDA op runs, so an element the kernel
// fails to write shows up as NaN. Tolerances are relative Frobenius errors ||cuda - cpu|| /
// ||cpu||, set by what each op computes in: fp32 elementwise ops ~1e-6; TF32 matmuls ~1e-3;
// attention stages tiles in bf16 (8-bit mantissa) ~1e-2. The CudaBf16Test cases repeat every op
// that takes bf16 tensors in bf16 (the same bf16 inputs on both backends, CPU as reference).
//
// Built only with -DMOAI_CUDA=ON (target moai_cuda_tests, see cmake/cuda.cmake); in the CPU build
// this file compiles to nothing. Without a GPU every test skips with a message.
#ifdef MOAI_HAVE_CUDA

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "moai/core/error.h"
#include "moai/ops/cuda/cuda_backend.h"
#include "moai/ops/ops.h"
#include "moai/ops/rope.h"

namespace moai::ops {
namespace {

// The tests' raw-pointer call forms on the TensorView interface (fp32 views sized from the
// arguments; a null pointer is an absent optional view).
template <class T>
TensorView flat(const T* data, int64_t count) {
  return data ? view(data, {count}) : absent<T>();
}

class RawOps {
 public:
  explicit RawOps(Backend& backend) : b_(backend) {}
  void matmul(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k, bool ta,
              bool tb, float alpha, float beta) {
    b_.matmul(view(c, {m, n}), ta ? view(a, {k, m}) : view(a, {m, k}),
              tb ? view(b, {n, k}) : view(b, {k, n}), ta, tb, alpha, beta);
  }
  void embedding_forward(float* out, const int32_t* ids, const float* table, int64_t n, int64_t c) {
    b_.embedding_forward(view(out, {n, c}), view(ids, {n}), view(table, {max_id(ids, n), c}));
  }
  void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int64_t n,
                          int64_t c) {
    b_.embedding_backward(view(dtable, {max_id(ids, n), c}), view(dout, {n, c}), view(ids, {n}));
  }
  void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* w, int64_t n,
                       int64_t c, float eps) {
    b_.rmsnorm_forward(view(out, {n, c}), view(rstd, {n}), view(inp, {n, c}), view(w, {c}), eps);
  }
  void rmsnorm_backward(float* dinp, float* dw, const float* dout, const float* inp, const float* w,
                        const float* rstd, int64_t n, int64_t c, bool acc) {
    b_.rmsnorm_backward(view(dinp, {n, c}), view(dw, {c}), view(dout, {n, c}), view(inp, {n, c}),
                        view(w, {c}), view(rstd, {n}), acc);
  }
  // cos/sin tables are addressed by position; the tests' tables have `positions` rows.
  void rope_forward(float* x, const int32_t* pos, const float* cos, const float* sin, int64_t n,
                    int64_t heads, int64_t d) {
    const int64_t rows = max_id(pos, n);
    b_.rope_forward(view(x, {n, heads, d}), view(pos, {n}), view(cos, {rows, d / 2}),
                    view(sin, {rows, d / 2}));
  }
  void rope_backward(float* x, const int32_t* pos, const float* cos, const float* sin, int64_t n,
                     int64_t heads, int64_t d) {
    const int64_t rows = max_id(pos, n);
    b_.rope_backward(view(x, {n, heads, d}), view(pos, {n}), view(cos, {rows, d / 2}),
                     view(sin, {rows, d / 2}));
  }
  void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                         const int32_t* seg, const AttentionShape& s) {
    b_.attention_forward(flat(out, q_count(s)), flat(lse, s.batch * s.heads * s.q_len),
                         flat(q, q_count(s)), flat(k, kv_count(s)), flat(v, kv_count(s)),
                         flat(seg, s.batch * s.kv_len), s);
  }
  void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out,
                          const float* lse, const float* q, const float* k, const float* v,
                          const int32_t* seg, const AttentionShape& s) {
    b_.attention_backward(
        flat(dq, q_count(s)), flat(dk, kv_count(s)), flat(dv, kv_count(s)), flat(dout, q_count(s)),
        flat(out, q_count(s)), flat(lse, s.batch * s.heads * s.q_len), flat(q, q_count(s)),
        flat(k, kv_count(s)), flat(v, kv_count(s)), flat(seg, s.batch * s.kv_len), s);
  }
  void swiglu_forward(float* out, const float* gate, const float* up, int64_t n) {
    b_.swiglu_forward(view(out, {n}), view(gate, {n}), view(up, {n}));
  }
  void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                       const float* up, int64_t n) {
    b_.swiglu_backward(view(dgate, {n}), view(dup, {n}), view(dout, {n}), view(gate, {n}),
                       view(up, {n}));
  }
  void add(float* out, const float* a, const float* b, int64_t n) {
    b_.add(view(out, {n}), view(a, {n}), view(b, {n}));
  }
  void accumulate(float* dst, const float* src, int64_t n) {
    b_.accumulate(view(dst, {n}), view(src, {n}));
  }
  void scale(float* x, float factor, int64_t n) { b_.scale(view(x, {n}), factor); }
  void classifier_loss(float* losses, float* dx, float* dw, const float* x, const float* w,
                       const int32_t* labels, int64_t n, int64_t c, int64_t v,
                       const LossConfig& config, float grad_scale) {
    b_.classifier_loss(view(losses, {n}), dx ? view(dx, {n, c}) : absent<float>(),
                       dw ? view(dw, {v, c}) : absent<float>(), view(x, {n, c}), view(w, {v, c}),
                       view(labels, {n}), config, grad_scale);
  }
  void adamw_update(float* p, float* m, float* v, const float* g, int64_t n,
                    const AdamWStep& step) {
    b_.adamw_update(view(p, {n}), view(m, {n}), view(v, {n}), view(g, {n}), step);
  }
  double sum_squares(const float* x, int64_t n) { return b_.sum_squares(view(x, {n})); }

 private:
  static int64_t q_count(const AttentionShape& s) {
    return s.batch * s.q_len * s.heads * s.head_dim;
  }
  static int64_t kv_count(const AttentionShape& s) {
    const int64_t row = s.kv_heads * s.head_dim;
    const int64_t stride = s.kv_batch_stride ? s.kv_batch_stride : s.kv_len * row;
    return (s.batch - 1) * stride + s.kv_len * row;
  }
  // Rows a table indexed by `ids` needs at least. Device ids cannot be read here: the checks only
  // use the row width, so one row is enough for them.
  static int64_t max_id(const int32_t*, int64_t) { return 1; }
  Backend& b_;
};

constexpr float kElementwiseTol = 1e-5f;
constexpr float kMatmulTol = 3e-3f;       // TF32: 10-bit mantissa products, fp32 accumulation
constexpr float kAttentionTol = 1.5e-2f;  // bf16 Q, K, V, P tiles

class CudaBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device: GPU parity tests skipped";
    cuda_ = make_cuda_backend();
    cpu_ = make_cpu_backend();
    seed_ = std::random_device{}();
    rng_.seed(seed_);
  }

  std::vector<float> random(size_t count, float scale = 1.0f) {
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> out(count);
    for (float& value : out) value = dist(rng_);
    return out;
  }
  std::vector<int32_t> random_ints(size_t count, int32_t limit) {
    std::uniform_int_distribution<int32_t> dist(0, limit - 1);
    std::vector<int32_t> out(count);
    for (int32_t& value : out) value = dist(rng_);
    return out;
  }

  // Device copy of a host vector on the CUDA backend, freed with the fixture.
  template <typename T>
  T* upload(const std::vector<T>& host) {
    void* ptr = cuda_->allocate(std::max<size_t>(host.size(), 1) * sizeof(T));
    buffers_.push_back(ptr);
    cuda_->copy_to_device(ptr, host.data(), host.size() * sizeof(T));
    return static_cast<T*>(ptr);
  }
  // Device buffer filled with NaN (the "every element written" check).
  float* poisoned(size_t count) {
    return upload(std::vector<float>(count, std::numeric_limits<float>::quiet_NaN()));
  }
  template <typename T>
  std::vector<T> download(const T* ptr, size_t count) {
    std::vector<T> host(count);
    cuda_->copy_to_host(host.data(), ptr, count * sizeof(T));
    return host;
  }

  void expect_close(const std::vector<float>& got, const std::vector<float>& want, float tol,
                    const std::string& what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    double diff = 0, norm = 0;
    size_t nan_count = 0, first_nan = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      if (!std::isfinite(got[i])) {
        if (nan_count++ == 0) first_nan = i;
        continue;
      }
      diff += double(got[i] - want[i]) * double(got[i] - want[i]);
      norm += double(want[i]) * double(want[i]);
    }
    EXPECT_EQ(nan_count, 0u) << what << ": " << nan_count
                             << " non-finite (unwritten?) elements, first at " << first_nan
                             << " (seed " << seed_ << ")";
    const double rel = std::sqrt(diff) / std::max(std::sqrt(norm), 1e-30);
    EXPECT_LE(rel, tol) << what << ": relative error " << rel << " (seed " << seed_ << ")";
  }

  void TearDown() override {
    if (cuda_)
      for (void* ptr : buffers_) cuda_->deallocate(ptr);
  }

  RawOps cpu_ops() { return RawOps(*cpu_); }
  RawOps cuda_ops() { return RawOps(*cuda_); }
  std::unique_ptr<Backend> cuda_, cpu_;
  std::vector<void*> buffers_;
  unsigned seed_ = 0;
  std::mt19937 rng_;
};

TEST_F(CudaBackendTest, MatmulAllTransposesAndBeta) {
  const int64_t m = 67, n = 129, k = 96;
  for (int trans = 0; trans < 4; ++trans) {
    const bool ta = trans & 1, tb = trans & 2;
    auto a = random(size_t(m * k)), b = random(size_t(k * n)), c = random(size_t(m * n));
    for (float beta : {0.0f, 1.0f}) {
      std::vector<float> want = c;
      cpu_ops().matmul(want.data(), a.data(), b.data(), m, n, k, ta, tb, 0.5f, beta);
      float* out = beta == 0.0f ? poisoned(size_t(m * n)) : upload(c);
      cuda_ops().matmul(out, upload(a), upload(b), m, n, k, ta, tb, 0.5f, beta);
      expect_close(download(out, size_t(m * n)), want, kMatmulTol,
                   "matmul trans_a=" + std::to_string(ta) + " trans_b=" + std::to_string(tb) +
                       " beta=" + std::to_string(beta));
    }
  }
}

TEST_F(CudaBackendTest, EmbeddingForwardBackwardWithRepeatedIds) {
  const int64_t n = 300, c = 72, v = 50;  // n > v: ids repeat
  auto table = random(size_t(v * c)), dout = random(size_t(n * c)), dtable = random(size_t(v * c));
  auto ids = random_ints(size_t(n), int32_t(v));
  std::vector<float> want(static_cast<size_t>(n * c));
  cpu_ops().embedding_forward(want.data(), ids.data(), table.data(), n, c);
  float* out = poisoned(size_t(n * c));
  const int32_t* ids_d = upload(ids);
  cuda_ops().embedding_forward(out, ids_d, upload(table), n, c);
  expect_close(download(out, size_t(n * c)), want, 0.0f, "embedding_forward");

  std::vector<float> want_dtable = dtable;
  cpu_ops().embedding_backward(want_dtable.data(), dout.data(), ids.data(), n, c);
  float* dtable_d = upload(dtable);
  cuda_ops().embedding_backward(dtable_d, upload(dout), ids_d, n, c);
  expect_close(download(dtable_d, size_t(v * c)), want_dtable, kElementwiseTol,
               "embedding_backward");
}

TEST_F(CudaBackendTest, RmsNormForwardBackward) {
  for (int64_t c : {64, 1000, 2048}) {
    const int64_t n = 37;
    auto inp = random(size_t(n * c)), weight = random(size_t(c)), dout = random(size_t(n * c));
    auto dinp0 = random(size_t(n * c)), dweight0 = random(size_t(c));
    std::vector<float> want(static_cast<size_t>(n * c)), want_rstd(static_cast<size_t>(n));
    cpu_ops().rmsnorm_forward(want.data(), want_rstd.data(), inp.data(), weight.data(), n, c,
                              1e-6f);
    float* out = poisoned(size_t(n * c));
    float* rstd = poisoned(size_t(n));
    const float* inp_d = upload(inp);
    const float* weight_d = upload(weight);
    cuda_ops().rmsnorm_forward(out, rstd, inp_d, weight_d, n, c, 1e-6f);
    const std::string tag = " c=" + std::to_string(c);
    expect_close(download(out, size_t(n * c)), want, kElementwiseTol, "rmsnorm_forward" + tag);
    expect_close(download(rstd, size_t(n)), want_rstd, kElementwiseTol,
                 "rmsnorm_forward rstd" + tag);
    for (bool accumulate : {false, true}) {
      std::vector<float> want_dinp = dinp0, want_dweight = dweight0;
      cpu_ops().rmsnorm_backward(want_dinp.data(), want_dweight.data(), dout.data(), inp.data(),
                                 weight.data(), want_rstd.data(), n, c, accumulate);
      float* dinp = accumulate ? upload(dinp0) : poisoned(size_t(n * c));
      float* dweight = upload(dweight0);
      cuda_ops().rmsnorm_backward(dinp, dweight, upload(dout), inp_d, weight_d, rstd, n, c,
                                  accumulate);
      const std::string mode = accumulate ? " accumulate" : " overwrite";
      expect_close(download(dinp, size_t(n * c)), want_dinp, 1e-5f,
                   "rmsnorm_backward dinp" + tag + mode);
      expect_close(download(dweight, size_t(c)), want_dweight, 1e-5f,
                   "rmsnorm_backward dweight" + tag + mode);
    }
  }
}

TEST_F(CudaBackendTest, RopeForwardBackward) {
  const int64_t n = 50, heads = 3, head_dim = 64, max_pos = 4096;
  RopeParams params;
  params.head_dim = head_dim;
  params.theta = 1e6;
  params.max_position_embeddings = max_pos;
  const RopeTables tables = rope_tables(params, max_pos);
  auto x = random(size_t(n * heads * head_dim));
  auto positions = random_ints(size_t(n), int32_t(max_pos));
  const int32_t* pos_d = upload(positions);
  const float* cos_d = upload(tables.cos);
  const float* sin_d = upload(tables.sin);
  for (bool backward : {false, true}) {
    std::vector<float> want = x;
    if (backward) {
      cpu_ops().rope_backward(want.data(), positions.data(), tables.cos.data(), tables.sin.data(),
                              n, heads, head_dim);
    } else {
      cpu_ops().rope_forward(want.data(), positions.data(), tables.cos.data(), tables.sin.data(), n,
                             heads, head_dim);
    }
    float* x_d = upload(x);
    if (backward) {
      cuda_ops().rope_backward(x_d, pos_d, cos_d, sin_d, n, heads, head_dim);
    } else {
      cuda_ops().rope_forward(x_d, pos_d, cos_d, sin_d, n, heads, head_dim);
    }
    expect_close(download(x_d, x.size()), want, kElementwiseTol,
                 backward ? "rope_backward" : "rope_forward");
  }
}

TEST_F(CudaBackendTest, SwigluAndElementwise) {
  const int64_t n = 10007;
  auto gate = random(size_t(n), 3.0f), up = random(size_t(n)), dout = random(size_t(n));
  std::vector<float> want(static_cast<size_t>(n)), want_dgate(static_cast<size_t>(n)),
      want_dup(static_cast<size_t>(n));
  cpu_ops().swiglu_forward(want.data(), gate.data(), up.data(), n);
  cpu_ops().swiglu_backward(want_dgate.data(), want_dup.data(), dout.data(), gate.data(), up.data(),
                            n);
  const float* gate_d = upload(gate);
  const float* up_d = upload(up);
  float* out = poisoned(size_t(n));
  cuda_ops().swiglu_forward(out, gate_d, up_d, n);
  expect_close(download(out, size_t(n)), want, kElementwiseTol, "swiglu_forward");
  float* dgate = poisoned(size_t(n));
  float* dup = poisoned(size_t(n));
  cuda_ops().swiglu_backward(dgate, dup, upload(dout), gate_d, up_d, n);
  expect_close(download(dgate, size_t(n)), want_dgate, kElementwiseTol, "swiglu_backward dgate");
  expect_close(download(dup, size_t(n)), want_dup, kElementwiseTol, "swiglu_backward dup");

  std::vector<float> sum(static_cast<size_t>(n));
  cpu_ops().add(sum.data(), gate.data(), up.data(), n);
  float* sum_d = poisoned(size_t(n));
  cuda_ops().add(sum_d, gate_d, up_d, n);
  expect_close(download(sum_d, size_t(n)), sum, 0.0f, "add");
  std::vector<float> acc = gate;
  cpu_ops().accumulate(acc.data(), up.data(), n);
  cpu_ops().scale(acc.data(), -0.25f, n);
  float* acc_d = upload(gate);
  cuda_ops().accumulate(acc_d, up_d, n);
  cuda_ops().scale(acc_d, -0.25f, n);
  expect_close(download(acc_d, size_t(n)), acc, 0.0f, "accumulate+scale");
}

// Random document boundaries in each row: segment ids non-decreasing from 0.
std::vector<int32_t> random_segments(std::mt19937& rng, int64_t batch, int64_t len) {
  std::vector<int32_t> seg(size_t(batch * len));
  std::uniform_int_distribution<int> coin(0, 40);
  for (int64_t b = 0; b < batch; ++b) {
    int32_t id = 0;
    for (int64_t t = 0; t < len; ++t) {
      if (t > 0 && coin(rng) == 0) ++id;
      seg[size_t(b * len + t)] = id;
    }
  }
  return seg;
}

struct AttentionCase {
  int64_t batch, len, heads, kv_heads, head_dim;
  bool segments;
  bool shuffled_segments;  // non-monotone ids: exercises the no-skip path
};

class CudaAttentionTest : public CudaBackendTest,
                          public ::testing::WithParamInterface<AttentionCase> {};

TEST_P(CudaAttentionTest, ForwardBackwardMatchCpu) {
  const AttentionCase ac = GetParam();
  AttentionShape s;
  s.batch = ac.batch;
  s.q_len = s.kv_len = ac.len;
  s.heads = ac.heads;
  s.kv_heads = ac.kv_heads;
  s.head_dim = ac.head_dim;
  s.scale = 1.0f / std::sqrt(float(ac.head_dim));
  const size_t q_count = size_t(s.batch * s.q_len * s.heads * s.head_dim);
  const size_t kv_count = size_t(s.batch * s.kv_len * s.kv_heads * s.head_dim);
  auto q = random(q_count), k = random(kv_count), v = random(kv_count), dout = random(q_count);
  std::vector<int32_t> seg;
  if (ac.segments) seg = random_segments(rng_, s.batch, s.kv_len);
  if (ac.shuffled_segments)
    for (auto& id : seg) id = int32_t((id * 7919) % 5);
  const int32_t* seg_host = ac.segments ? seg.data() : nullptr;
  std::vector<float> want(q_count), want_lse(static_cast<size_t>(s.batch * s.heads * s.q_len));
  cpu_ops().attention_forward(want.data(), want_lse.data(), q.data(), k.data(), v.data(), seg_host,
                              s);
  const float* q_d = upload(q);
  const float* k_d = upload(k);
  const float* v_d = upload(v);
  const int32_t* seg_d = ac.segments ? upload(seg) : nullptr;
  float* out = poisoned(q_count);
  float* lse = poisoned(want_lse.size());
  cuda_ops().attention_forward(out, lse, q_d, k_d, v_d, seg_d, s);
  const std::string tag = " B=" + std::to_string(s.batch) + " T=" + std::to_string(s.q_len) +
                          " H=" + std::to_string(s.heads) + "/" + std::to_string(s.kv_heads) +
                          " D=" + std::to_string(s.head_dim) + (ac.segments ? " segments" : "");
  expect_close(download(out, q_count), want, kAttentionTol, "attention_forward out" + tag);
  expect_close(download(lse, want_lse.size()), want_lse, 2e-3f, "attention_forward lse" + tag);

  std::vector<float> want_dq(q_count), want_dk(kv_count), want_dv(kv_count);
  cpu_ops().attention_backward(want_dq.data(), want_dk.data(), want_dv.data(), dout.data(),
                               want.data(), want_lse.data(), q.data(), k.data(), v.data(), seg_host,
                               s);
  float* dq = poisoned(q_count);
  float* dk = poisoned(kv_count);
  float* dv = poisoned(kv_count);
  // The CPU's out/lse feed both backwards so the comparison isolates the backward kernels.
  cuda_ops().attention_backward(dq, dk, dv, upload(dout), upload(want), upload(want_lse), q_d, k_d,
                                v_d, seg_d, s);
  expect_close(download(dq, q_count), want_dq, kAttentionTol, "attention_backward dq" + tag);
  expect_close(download(dk, kv_count), want_dk, kAttentionTol, "attention_backward dk" + tag);
  expect_close(download(dv, kv_count), want_dv, kAttentionTol, "attention_backward dv" + tag);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CudaAttentionTest,
    ::testing::Values(AttentionCase{2, 16, 4, 2, 16, false, false},     // tiny golden shape
                      AttentionCase{2, 160, 4, 2, 64, false, false},    // partial tiles
                      AttentionCase{1, 200, 8, 2, 128, true, false},    // Qwen3 head_dim
                      AttentionCase{2, 130, 4, 4, 32, true, true},      // non-monotone ids
                      AttentionCase{1, 64, 2, 1, 128, false, false}));  // one full tile

TEST_F(CudaBackendTest, AttentionDecodeWithKvCache) {
  // 3 new queries against a cache of 100 valid rows in a 128-row buffer per batch element.
  AttentionShape s;
  s.batch = 2;
  s.q_len = 3;
  s.kv_len = 100;
  s.heads = 4;
  s.kv_heads = 2;
  s.head_dim = 64;
  s.kv_batch_stride = 128 * s.kv_heads * s.head_dim;
  s.scale = 0.125f;
  auto q = random(size_t(s.batch * s.q_len * s.heads * s.head_dim));
  auto k = random(size_t(s.batch * s.kv_batch_stride)),
       v = random(size_t(s.batch * s.kv_batch_stride));
  std::vector<float> want(q.size());
  cpu_ops().attention_forward(want.data(), nullptr, q.data(), k.data(), v.data(), nullptr, s);
  float* out = poisoned(q.size());
  cuda_ops().attention_forward(out, nullptr, upload(q), upload(k), upload(v), nullptr, s);
  expect_close(download(out, q.size()), want, kAttentionTol, "attention_forward decode");
}

TEST_F(CudaBackendTest, ClassifierLossAllConfigs) {
  const int64_t n = 70, c = 64, v = 1000;
  auto x = random(size_t(n * c)), w = random(size_t(v * c), 0.2f), dw0 = random(size_t(v * c));
  auto labels = random_ints(size_t(n), int32_t(v));
  for (int64_t i = 0; i < n; i += 7) labels[size_t(i)] = -100;
  const float* x_d = upload(x);
  const float* w_d = upload(w);
  const int32_t* labels_d = upload(labels);
  const LossConfig configs[] = {LossConfig::cross_entropy(), LossConfig::focal(2.0f),
                                LossConfig::label_smoothing(0.1f), LossConfig::multi_objective()};
  for (const LossConfig& config : configs) {
    const std::string tag = " ce=" + std::to_string(config.ce_weight) +
                            " focal=" + std::to_string(config.focal_weight) +
                            " smooth=" + std::to_string(config.smooth_weight);
    std::vector<float> want_losses(static_cast<size_t>(n)), want_dx(static_cast<size_t>(n * c)),
        want_dw = dw0;
    cpu_ops().classifier_loss(want_losses.data(), want_dx.data(), want_dw.data(), x.data(),
                              w.data(), labels.data(), n, c, v, config, 1.0f / 60.0f);
    float* losses = poisoned(size_t(n));
    float* dx = poisoned(size_t(n * c));
    float* dw = upload(dw0);
    cuda_ops().classifier_loss(losses, dx, dw, x_d, w_d, labels_d, n, c, v, config, 1.0f / 60.0f);
    expect_close(download(losses, size_t(n)), want_losses, kMatmulTol,
                 "classifier_loss losses" + tag);
    expect_close(download(dx, size_t(n * c)), want_dx, kMatmulTol, "classifier_loss dx" + tag);
    expect_close(download(dw, size_t(v * c)), want_dw, kMatmulTol, "classifier_loss dw" + tag);
    // Forward only (inference / eval): losses without gradients.
    float* losses_only = poisoned(size_t(n));
    cuda_ops().classifier_loss(losses_only, nullptr, nullptr, x_d, w_d, labels_d, n, c, v, config,
                               1.0f);
    expect_close(download(losses_only, size_t(n)), want_losses, kMatmulTol,
                 "classifier_loss forward only" + tag);
  }
}

TEST_F(CudaBackendTest, AdamWAndSumSquares) {
  const int64_t n = 100003;
  auto param = random(size_t(n)), m = random(size_t(n), 0.01f), grad = random(size_t(n));
  std::vector<float> v(static_cast<size_t>(n));
  for (float& value : v) value = std::abs(random(1, 0.01f)[0]);
  AdamWStep step;
  step.lr = 1e-3f;
  step.weight_decay = 0.1f;
  step.grad_scale = 0.5f;
  step.step = 7;
  std::vector<float> want_p = param, want_m = m, want_v = v;
  cpu_ops().adamw_update(want_p.data(), want_m.data(), want_v.data(), grad.data(), n, step);
  float* p_d = upload(param);
  float* m_d = upload(m);
  float* v_d = upload(v);
  const float* g_d = upload(grad);
  cuda_ops().adamw_update(p_d, m_d, v_d, g_d, n, step);
  expect_close(download(p_d, size_t(n)), want_p, 1e-6f, "adamw param");
  expect_close(download(m_d, size_t(n)), want_m, 1e-6f, "adamw m");
  expect_close(download(v_d, size_t(n)), want_v, 1e-6f, "adamw v");
  const double want_sq = cpu_ops().sum_squares(grad.data(), n);
  const double got_sq = cuda_ops().sum_squares(g_d, n);
  EXPECT_NEAR(got_sq, want_sq, 1e-9 * want_sq) << "sum_squares (seed " << seed_ << ")";
  // Fixed reduction order: the same input gives the same bits.
  EXPECT_EQ(cuda_ops().sum_squares(g_d, n), got_sq);
}

TEST_F(CudaBackendTest, ParameterGradientsAccumulate) {
  // Running a backward twice doubles the parameter gradients (the contract in ops.h).
  const int64_t n = 20, c = 128;
  auto inp = random(size_t(n * c)), weight = random(size_t(c)), dout = random(size_t(n * c));
  const float* inp_d = upload(inp);
  const float* weight_d = upload(weight);
  float* out = poisoned(size_t(n * c));
  float* rstd = poisoned(size_t(n));
  cuda_ops().rmsnorm_forward(out, rstd, inp_d, weight_d, n, c, 1e-6f);
  float* dinp = poisoned(size_t(n * c));
  float* dweight = upload(std::vector<float>(size_t(c), 0.0f));
  const float* dout_d = upload(dout);
  cuda_ops().rmsnorm_backward(dinp, dweight, dout_d, inp_d, weight_d, rstd, n, c, false);
  const auto once = download(dweight, size_t(c));
  cuda_ops().rmsnorm_backward(dinp, dweight, dout_d, inp_d, weight_d, rstd, n, c, false);
  auto twice = download(dweight, size_t(c));
  for (float& value : twice) value *= 0.5f;
  expect_close(twice, once, 1e-7f, "dweight after two backwards / 2");
}

TEST_F(CudaBackendTest, RepeatsBitForBit) {
  // No atomics anywhere: the same inputs give the same bits (attention backward and embedding
  // backward are the ops where a float atomicAdd would make this fail).
  AttentionShape s{1, 130, 130, 4, 2, 64, 0, 0.125f};
  const size_t q_count = size_t(s.q_len * s.heads * s.head_dim),
               kv_count = size_t(s.kv_len * s.kv_heads * s.head_dim);
  const float* q = upload(random(q_count));
  const float* k = upload(random(kv_count));
  const float* v = upload(random(kv_count));
  const float* dout = upload(random(q_count));
  float* out = poisoned(q_count);
  float* lse = poisoned(size_t(s.heads * s.q_len));
  cuda_ops().attention_forward(out, lse, q, k, v, nullptr, s);
  std::vector<float> first, second;
  for (auto* result : {&first, &second}) {
    float* dq = poisoned(q_count);
    float* dk = poisoned(kv_count);
    float* dv = poisoned(kv_count);
    cuda_ops().attention_backward(dq, dk, dv, dout, out, lse, q, k, v, nullptr, s);
    *result = download(dk, kv_count);
  }
  EXPECT_EQ(0, std::memcmp(first.data(), second.data(), first.size() * sizeof(float)));
}

// ---- bf16: every op that takes bf16 tensors, CUDA vs CPU on the same bf16 inputs ---------------
// Both backends get the same bf16-rounded values; outputs are compared after widening to fp32. A
// bf16 output is rounded once (relative 2^-9 per element) and the two backends accumulate in
// different orders, so the element-wise ops allow 1e-2, the matmuls 1e-2 (bf16 products are exact
// in fp32 on both) and attention 2e-2.
constexpr float kBf16Tol = 1e-2f;
constexpr float kBf16AttentionTol = 2e-2f;

class CudaBf16Test : public CudaBackendTest {
 protected:
  // A tensor of `dtype` holding `values` (bf16 rounds them) on both backends: .cpu is host memory
  // for the CPU backend, .cuda a device copy.
  struct Twin {
    TensorView cpu, cuda;
  };
  Twin twin(DType dtype, std::initializer_list<int64_t> shape, const std::vector<float>& values) {
    const size_t count = values.size(), bytes = byte_size(dtype, int64_t(count));
    std::vector<uint8_t>& host = hosts_.emplace_back(std::max<size_t>(bytes, 1));
    if (dtype == DType::kBF16) {
      auto* out = reinterpret_cast<BFloat16*>(host.data());
      for (size_t i = 0; i < count; ++i) out[i] = to_bf16(values[i]);
    } else {
      std::memcpy(host.data(), values.data(), bytes);
    }
    void* device = cuda_->allocate(std::max<size_t>(bytes, 1));
    buffers_.push_back(device);
    cuda_->copy_to_device(device, host.data(), bytes);
    return {make_view(host.data(), dtype, shape), make_view(device, dtype, shape)};
  }
  Twin twin_ids(std::initializer_list<int64_t> shape, const std::vector<int32_t>& ids) {
    std::vector<uint8_t>& host = hosts_.emplace_back(std::max<size_t>(ids.size() * 4, 1));
    std::memcpy(host.data(), ids.data(), ids.size() * 4);
    const int32_t* device = upload(ids);
    return {make_view(host.data(), DType::kI32, shape),
            make_view(const_cast<int32_t*>(device), DType::kI32, shape)};
  }
  // A tensor's values as fp32 (bf16 widened), from the CPU side or the device.
  std::vector<float> values(const TensorView& view, bool device) {
    std::vector<uint8_t> bytes(view.bytes());
    if (device)
      cuda_->copy_to_host(bytes.data(), view.data, bytes.size());
    else
      std::memcpy(bytes.data(), view.data, bytes.size());
    std::vector<float> out(size_t(view.numel()));
    for (size_t i = 0; i < out.size(); ++i) {
      if (view.dtype == DType::kBF16)
        out[i] = to_f32(reinterpret_cast<const BFloat16*>(bytes.data())[i]);
      else
        std::memcpy(&out[i], bytes.data() + 4 * i, 4);
    }
    return out;
  }
  void expect_twin(const Twin& t, float tol, const std::string& what) {
    expect_close(values(t.cuda, true), values(t.cpu, false), tol, what + " (bf16)");
  }
  // A poisoned output of `dtype` on both sides.
  Twin output(DType dtype, std::initializer_list<int64_t> shape) {
    int64_t count = 1;
    for (int64_t d : shape) count *= d;
    return twin(dtype, shape,
                std::vector<float>(size_t(count), std::numeric_limits<float>::quiet_NaN()));
  }
  std::deque<std::vector<uint8_t>> hosts_;
};

TEST_F(CudaBf16Test, MatmulAllTransposesBothOutputDtypes) {
  const int64_t m = 67, n = 45, k = 130;
  for (DType c_dtype : {DType::kF32, DType::kBF16})
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const Twin a = ta ? twin(DType::kBF16, {k, m}, random(size_t(m * k)))
                        : twin(DType::kBF16, {m, k}, random(size_t(m * k)));
      const Twin b = tb ? twin(DType::kBF16, {n, k}, random(size_t(n * k)))
                        : twin(DType::kBF16, {k, n}, random(size_t(n * k)));
      const Twin c = twin(c_dtype, {m, n}, random(size_t(m * n)));
      cpu_->matmul(c.cpu, a.cpu, b.cpu, ta, tb, 0.5f, 1.0f);
      cuda_->matmul(c.cuda, a.cuda, b.cuda, ta, tb, 0.5f, 1.0f);
      expect_twin(c, kBf16Tol,
                  std::string("matmul c ") + dtype_name(c_dtype) + " ta=" + std::to_string(ta) +
                      " tb=" + std::to_string(tb));
    }
}

TEST_F(CudaBf16Test, EmbeddingForwardBackward) {
  const int64_t n = 50, c = 96, v = 40;
  auto ids = random_ints(size_t(n), int32_t(v));
  ids[3] = ids[7] = ids[11];  // repeated ids add in order
  const Twin id = twin_ids({n}, ids);
  const Twin table = twin(DType::kBF16, {v, c}, random(size_t(v * c)));
  const Twin out = output(DType::kBF16, {n, c});
  cpu_->embedding_forward(out.cpu, id.cpu, table.cpu);
  cuda_->embedding_forward(out.cuda, id.cuda, table.cuda);
  expect_twin(out, 0.0f, "embedding_forward");
  const Twin dtable = twin(DType::kF32, {v, c}, random(size_t(v * c)));
  const Twin dout = twin(DType::kBF16, {n, c}, random(size_t(n * c)));
  cpu_->embedding_backward(dtable.cpu, dout.cpu, id.cpu);
  cuda_->embedding_backward(dtable.cuda, dout.cuda, id.cuda);
  expect_twin(dtable, kElementwiseTol, "embedding_backward");
}

TEST_F(CudaBf16Test, RmsNormForwardBackwardMixedDtypes) {
  const int64_t n = 33, c = 200;
  const Twin weight = twin(DType::kF32, {c}, random(size_t(c), 0.5f));
  // (input, output) dtypes the model uses: fp32 residual -> bf16 norm; bf16 q/k -> bf16.
  for (DType in_dtype : {DType::kF32, DType::kBF16}) {
    const std::string tag = std::string(" inp ") + dtype_name(in_dtype);
    const Twin inp = twin(in_dtype, {n, c}, random(size_t(n * c)));
    const Twin out = output(DType::kBF16, {n, c});
    const Twin rstd = output(DType::kF32, {n});
    cpu_->rmsnorm_forward(out.cpu, rstd.cpu, inp.cpu, weight.cpu, 1e-6f);
    cuda_->rmsnorm_forward(out.cuda, rstd.cuda, inp.cuda, weight.cuda, 1e-6f);
    expect_twin(out, kBf16Tol, "rmsnorm_forward out" + tag);
    expect_twin(rstd, kElementwiseTol, "rmsnorm_forward rstd" + tag);
    // dinp has dout's dtype (the CUDA backend's rule); accumulate onto it.
    const Twin dout = twin(in_dtype, {n, c}, random(size_t(n * c)));
    const Twin dinp = twin(in_dtype, {n, c}, random(size_t(n * c)));
    const Twin dweight = twin(DType::kF32, {c}, random(size_t(c)));
    cpu_->rmsnorm_backward(dinp.cpu, dweight.cpu, dout.cpu, inp.cpu, weight.cpu, rstd.cpu, true);
    cuda_->rmsnorm_backward(dinp.cuda, dweight.cuda, dout.cuda, inp.cuda, weight.cuda, rstd.cuda,
                            true);
    expect_twin(dinp, kBf16Tol, "rmsnorm_backward dinp" + tag);
    expect_twin(dweight, kBf16Tol, "rmsnorm_backward dweight" + tag);
  }
}

TEST_F(CudaBf16Test, RopeForwardBackward) {
  const int64_t n = 21, heads = 3, d = 64, max_pos = 64;
  RopeParams params;
  params.head_dim = d;
  params.max_position_embeddings = max_pos;
  const RopeTables tables = rope_tables(params, max_pos);
  const Twin cos = twin(DType::kF32, {max_pos, d / 2}, tables.cos);
  const Twin sin = twin(DType::kF32, {max_pos, d / 2}, tables.sin);
  const Twin pos = twin_ids({n}, random_ints(size_t(n), int32_t(max_pos)));
  const Twin x = twin(DType::kBF16, {n, heads, d}, random(size_t(n * heads * d)));
  cpu_->rope_forward(x.cpu, pos.cpu, cos.cpu, sin.cpu);
  cuda_->rope_forward(x.cuda, pos.cuda, cos.cuda, sin.cuda);
  expect_twin(x, kBf16Tol, "rope_forward");
  cpu_->rope_backward(x.cpu, pos.cpu, cos.cpu, sin.cpu);
  cuda_->rope_backward(x.cuda, pos.cuda, cos.cuda, sin.cuda);
  expect_twin(x, kBf16Tol, "rope_backward");
}

TEST_F(CudaBf16Test, SwigluAddAccumulateScaleConvert) {
  const int64_t n = 1000;
  const Twin gate = twin(DType::kBF16, {n}, random(size_t(n), 3.0f));
  const Twin up = twin(DType::kBF16, {n}, random(size_t(n)));
  const Twin out = output(DType::kBF16, {n});
  cpu_->swiglu_forward(out.cpu, gate.cpu, up.cpu);
  cuda_->swiglu_forward(out.cuda, gate.cuda, up.cuda);
  expect_twin(out, kBf16Tol, "swiglu_forward");
  const Twin dout = twin(DType::kBF16, {n}, random(size_t(n)));
  const Twin dgate = output(DType::kBF16, {n}), dup = output(DType::kBF16, {n});
  cpu_->swiglu_backward(dgate.cpu, dup.cpu, dout.cpu, gate.cpu, up.cpu);
  cuda_->swiglu_backward(dgate.cuda, dup.cuda, dout.cuda, gate.cuda, up.cuda);
  expect_twin(dgate, kBf16Tol, "swiglu_backward dgate");
  expect_twin(dup, kBf16Tol, "swiglu_backward dup");
  const Twin sum = output(DType::kBF16, {n});
  cpu_->add(sum.cpu, gate.cpu, up.cpu);
  cuda_->add(sum.cuda, gate.cuda, up.cuda);
  expect_twin(sum, kBf16Tol, "add");
  cpu_->accumulate(sum.cpu, up.cpu);
  cuda_->accumulate(sum.cuda, up.cuda);
  expect_twin(sum, kBf16Tol, "accumulate");
  cpu_->scale(sum.cpu, 0.3f);
  cuda_->scale(sum.cuda, 0.3f);
  expect_twin(sum, kBf16Tol, "scale");
  const Twin wide = twin(DType::kF32, {n}, random(size_t(n)));
  const Twin narrow = output(DType::kBF16, {n});
  cpu_->convert(narrow.cpu, wide.cpu);
  cuda_->convert(narrow.cuda, wide.cuda);
  expect_twin(narrow, 0.0f, "convert f32 -> bf16 (round to nearest even on both)");
  const Twin back = output(DType::kF32, {n});
  cpu_->convert(back.cpu, narrow.cpu);
  cuda_->convert(back.cuda, narrow.cuda);
  expect_twin(back, 0.0f, "convert bf16 -> f32");
}

TEST_F(CudaBf16Test, AttentionForwardBackward) {
  const AttentionShape s{2, 70, 70, 4, 2, 64, 0, 0.125f};
  const int64_t q_count = s.batch * s.q_len * s.heads * s.head_dim,
                kv_count = s.batch * s.kv_len * s.kv_heads * s.head_dim;
  std::vector<int32_t> segments(size_t(s.batch * s.kv_len), 0);
  for (size_t i = 40; i < size_t(s.kv_len); ++i) segments[i] = 1;  // two documents in row 0
  const Twin seg = twin_ids({s.batch * s.kv_len}, segments);
  const Twin q = twin(DType::kBF16, {q_count}, random(size_t(q_count)));
  const Twin k = twin(DType::kBF16, {kv_count}, random(size_t(kv_count)));
  const Twin v = twin(DType::kBF16, {kv_count}, random(size_t(kv_count)));
  const Twin out = output(DType::kBF16, {q_count});
  const Twin lse = output(DType::kF32, {s.batch * s.heads * s.q_len});
  cpu_->attention_forward(out.cpu, lse.cpu, q.cpu, k.cpu, v.cpu, seg.cpu, s);
  cuda_->attention_forward(out.cuda, lse.cuda, q.cuda, k.cuda, v.cuda, seg.cuda, s);
  expect_twin(out, kBf16AttentionTol, "attention_forward out");
  expect_twin(lse, kBf16AttentionTol, "attention_forward lse");
  const Twin dout = twin(DType::kBF16, {q_count}, random(size_t(q_count)));
  const Twin dq = output(DType::kBF16, {q_count});
  const Twin dk = output(DType::kBF16, {kv_count}), dv = output(DType::kBF16, {kv_count});
  cpu_->attention_backward(dq.cpu, dk.cpu, dv.cpu, dout.cpu, out.cpu, lse.cpu, q.cpu, k.cpu, v.cpu,
                           seg.cpu, s);
  cuda_->attention_backward(dq.cuda, dk.cuda, dv.cuda, dout.cuda, out.cuda, lse.cuda, q.cuda,
                            k.cuda, v.cuda, seg.cuda, s);
  expect_twin(dq, kBf16AttentionTol, "attention_backward dq");
  expect_twin(dk, kBf16AttentionTol, "attention_backward dk");
  expect_twin(dv, kBf16AttentionTol, "attention_backward dv");
}

TEST_F(CudaBf16Test, ClassifierLossBf16) {
  const int64_t n = 70, c = 64, v = 1000;
  auto labels = random_ints(size_t(n), int32_t(v));
  for (int64_t i = 0; i < n; i += 7) labels[size_t(i)] = -100;
  const Twin lab = twin_ids({n}, labels);
  const Twin x = twin(DType::kBF16, {n, c}, random(size_t(n * c)));
  const Twin w = twin(DType::kBF16, {v, c}, random(size_t(v * c), 0.2f));
  for (const LossConfig& config : {LossConfig::cross_entropy(), LossConfig::multi_objective()}) {
    const Twin losses = output(DType::kF32, {n});
    const Twin dx = output(DType::kBF16, {n, c});
    const Twin dw = twin(DType::kF32, {v, c}, random(size_t(v * c)));
    cpu_->classifier_loss(losses.cpu, dx.cpu, dw.cpu, x.cpu, w.cpu, lab.cpu, config, 1.0f / 60);
    cuda_->classifier_loss(losses.cuda, dx.cuda, dw.cuda, x.cuda, w.cuda, lab.cuda, config,
                           1.0f / 60);
    const std::string tag = " ce=" + std::to_string(config.ce_weight);
    expect_twin(losses, kBf16Tol, "classifier_loss losses" + tag);
    expect_twin(dx, kBf16Tol, "classifier_loss dx" + tag);
    expect_twin(dw, kBf16Tol, "classifier_loss dw" + tag);
  }
}

TEST(CudaBackendAvailability, DeviceCountNeverThrows) {
  EXPECT_GE(cuda_device_count(), 0);
  if (cuda_device_count() == 0) {
    EXPECT_THROW(make_cuda_backend(), InputError);  // clear message, not a crash
  }
}

}  // namespace
}  // namespace moai::ops

#endif  // MOAI_HAVE_CUDA
