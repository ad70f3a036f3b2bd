// The CPU backend: fp32 kernels from kernels.h (OpenMP) and BLAS matmuls.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <vector>

#include "moai/core/error.h"
#include "moai/core/thread_pool.h"
#include "moai/ops/blas_kernels.h"
#include "moai/ops/cpu/bf16.h"
#include "moai/ops/cpu/bf16_attention.h"
#include "moai/ops/cpu/bf16_classifier.h"
#include "moai/ops/cpu/bf16_matmul.h"
#include "moai/ops/cpu/kernels.h"
#include "moai/ops/ops.h"

#if defined(MOAI_BLAS_BLIS)
extern "C" void bli_thread_set_num_threads(long n_threads);
#elif defined(MOAI_BLAS_OPENBLAS)
extern "C" void openblas_set_num_threads(int num_threads);
#endif

namespace moai::ops {
namespace cpu {

// One single-threaded BLAS call per OpenMP thread, each on its own block of C's rows (or columns,
// when C is wide): the whole step runs on one OpenMP team. Letting BLAS start its own worker
// threads instead leaves two sets of threads spin-waiting against each other on the same cores
// (OpenMP's after every parallel region, BLAS's after every call), which cost ~30% of the step on 2
// cores.
// c[n] = alpha * w[n, k] · x[k] + beta * c: the decode hot path (one token row), each weight read
// once. Four rows per step share each load of x; the inner loops vectorise (-O3, AVX2/FMA). Small
// products stay on one thread: a parallel region costs more than they do.
void matvec(float* c, const float* w, const float* x, int64_t n, int64_t k, float alpha,
            float beta) {
  auto store = [&](int64_t row, float sum) {
    c[row] = beta == 0.0f ? alpha * sum : alpha * sum + beta * c[row];
  };
#pragma omp parallel for schedule(static) if (n * k >= (1 << 15) && !omp_in_parallel())
  for (int64_t r = 0; r < n; r += 4) {
    const int64_t count = std::min<int64_t>(4, n - r);
    if (count == 4) {
      const float *w0 = w + r * k, *w1 = w0 + k, *w2 = w1 + k, *w3 = w2 + k;
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
      for (int64_t i = 0; i < k; ++i) {
        s0 += w0[i] * x[i];
        s1 += w1[i] * x[i];
        s2 += w2[i] * x[i];
        s3 += w3[i] * x[i];
      }
      store(r, s0);
      store(r + 1, s1);
      store(r + 2, s2);
      store(r + 3, s3);
      continue;
    }
    for (int64_t j = r; j < r + count; ++j) {
      const float* wr = w + j * k;
      float s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < k; ++i) s += wr[i] * x[i];
      store(j, s);
    }
  }
}

void gemm(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k, bool trans_a,
          bool trans_b, float alpha, float beta) {
  if (m == 0 || n == 0) return;
  if (m == 1 && trans_b) return matvec(c, b, a, n, k, alpha, beta);
  const int lda = trans_a ? int(m) : int(k), ldb = trans_b ? int(k) : int(n), ldc = int(n);
  auto block = [&](int64_t row0, int64_t rows, int64_t col0, int64_t cols) {
    const float* a_block = a + (trans_a ? row0 : row0 * k);
    const float* b_block = b + (trans_b ? col0 * k : col0);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, int(rows), int(cols), int(k), alpha, a_block,
                lda, b_block, ldb, beta, c + row0 * n + col0, ldc);
  };
  const bool split_rows = m >= n;
  const int64_t extent = split_rows ? m : n;
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (threads <= 1 || m * n * k < (int64_t{1} << 18) || extent < 16 * threads) {
    block(0, m, 0, n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int64_t parts = omp_get_num_threads(), part = omp_get_thread_num();
    // Block edges on multiples of 16 keep every thread's BLAS kernel on whole register tiles.
    const int64_t units = (extent + 15) / 16;
    const int64_t begin = std::min(extent, units * part / parts * 16);
    const int64_t end = std::min(extent, units * (part + 1) / parts * 16);
    if (end > begin) {
      if (split_rows)
        block(begin, end - begin, 0, n);
      else
        block(0, m, begin, end - begin);
    }
  }
}

void gemm(double* c, const double* a, const double* b, int64_t m, int64_t n, int64_t k,
          bool trans_a, bool trans_b, double alpha, double beta) {
  if (m == 0 || n == 0) return;
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, int(m), int(n), int(k), alpha, a,
              trans_a ? int(m) : int(k), b, trans_b ? int(k) : int(n), beta, c, int(n));
}

namespace {

// A float view as fp32 memory. F32 views pass through untouched; BF16 views are converted into
// scratch on entry when `read` and back on exit when `write` (vectorised, round to nearest even).
// Left only for an fp32 matmul writing a bf16 c and for convert: every other op reads and writes
// bf16 directly (the kernels of kernels.h and ops/cpu/bf16_*.h).
class F32Stage {
 public:
  F32Stage(const TensorView& view, bool read, bool write) : view_(view), write_(write) {
    if (!view.present() || view.dtype == DType::kF32) {
      ptr_ = static_cast<float*>(view.data);
      return;
    }
    storage_.resize(size_t(view.numel()));
    ptr_ = storage_.data();
    if (read) convert_to_f32(ptr_, view);
  }
  ~F32Stage() {
    if (write_ && !storage_.empty()) convert_from_f32(view_, ptr_);
  }
  F32Stage(const F32Stage&) = delete;
  F32Stage& operator=(const F32Stage&) = delete;
  float* get() const { return ptr_; }

  static void convert_to_f32(float* dst, const TensorView& src) {
    const int64_t n = src.numel();
    if (src.dtype == DType::kF32) {
      std::memcpy(dst, src.data, src.bytes());
      return;
    }
    to_float_parallel(dst, src.as<BFloat16>(), n);
  }
  static void convert_from_f32(const TensorView& dst, const float* src) {
    const int64_t n = dst.numel();
    if (dst.dtype == DType::kF32) {
      std::memcpy(dst.data, src, dst.bytes());
      return;
    }
    to_bf16_parallel(dst.as<BFloat16>(), src, n);
  }

 private:
  TensorView view_;
  bool write_;
  float* ptr_ = nullptr;
  std::vector<float> storage_;
};

// Calls f with a bf16 op's weight operand typed by its dtype: BFloat16*, or float* for fp32 master
// weights, which the bf16 kernels round to bf16 as they read them (rounds_f32_weights()).
template <typename F>
void with_weight(const TensorView& w, const F& f) {
  if (w.dtype == DType::kF32)
    f(w.f32());
  else
    f(w.as<BFloat16>());
}

// ---- the bf16 dispatch points ------------------------------------------------------------------
// Called when the op's dtype is BF16: the bf16 kernels of ops/cpu/bf16_*.h.
void matmul_bf16(const TensorView& c, const TensorView& a, const TensorView& b, int64_t m,
                 int64_t n, int64_t k, bool trans_a, bool trans_b, float alpha, float beta) {
  const BFloat16* a16 = a.as<BFloat16>();
  with_weight(b, [&](const auto* b_data) {  // fp32 b: rounded to bf16 while packed
    if (c.dtype == DType::kF32)
      bf16_gemm(c.f32(), a16, b_data, m, n, k, trans_a, trans_b, alpha, beta);
    else
      bf16_gemm(c.as<BFloat16>(), a16, b_data, m, n, k, trans_a, trans_b, alpha, beta);
  });
}
void attention_forward_bf16(const TensorView& out_view, const TensorView& lse, const TensorView& q,
                            const TensorView& k, const TensorView& v, const TensorView& segment_ids,
                            const AttentionShape& shape) {
  bf16_attention_forward(out_view.as<BFloat16>(), static_cast<float*>(lse.data), q.as<BFloat16>(),
                         k.as<BFloat16>(), v.as<BFloat16>(),
                         static_cast<const int32_t*>(segment_ids.data), shape);
}
void attention_backward_bf16(const TensorView& dq, const TensorView& dk, const TensorView& dv,
                             const TensorView& dout, const TensorView& out_view,
                             const TensorView& lse, const TensorView& q, const TensorView& k,
                             const TensorView& v, const TensorView& segment_ids,
                             const AttentionShape& shape) {
  bf16_attention_backward(dq.as<BFloat16>(), dk.as<BFloat16>(), dv.as<BFloat16>(),
                          dout.as<BFloat16>(), out_view.as<BFloat16>(), lse.f32(), q.as<BFloat16>(),
                          k.as<BFloat16>(), v.as<BFloat16>(),
                          static_cast<const int32_t*>(segment_ids.data), shape);
}
void classifier_loss_bf16(const TensorView& losses, const TensorView& dx, const TensorView& dw,
                          const TensorView& x, const TensorView& w, const TensorView& labels,
                          const LossConfig& config, float grad_scale) {
  // dx has x's dtype (checked by Backend::classifier_loss); absent for the loss alone.
  with_weight(w, [&](const auto* w_data) {
    bf16_classifier_loss(losses.f32(), static_cast<BFloat16*>(dx.data),
                         static_cast<float*>(dw.data), x.as<BFloat16>(), w_data,
                         labels.as<int32_t>(), x.numel() / w.dim(1), w.dim(1), w.dim(0), config,
                         grad_scale);
  });
}

// Calls f with the view's data typed by its dtype: BFloat16* for BF16, float* otherwise (the
// two dtypes the CPU backend computes in; Backend checked the dtypes before run_*). The kernels of
// kernels.h then read and write bf16 directly, with fp32 math.
template <typename F>
void typed(const TensorView& view, F&& f) {
  if (view.dtype == DType::kBF16)
    f(static_cast<BFloat16*>(view.data));
  else
    f(static_cast<float*>(view.data));
}

// out = a + b, each tensor fp32 or bf16, in one pass: each sum in fp32, rounded once when out is
// bf16 (the same bits as an fp32 computation rounded at the end). out may alias a or b.
void add_views(const TensorView& out_view, const TensorView& a, const TensorView& b) {
  const int64_t n = out_view.numel();
  typed(out_view, [&](auto* out) {
    using O = std::remove_pointer_t<decltype(out)>;
    typed(a, [&](const auto* x) {
      typed(b, [&](const auto* y) {
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < n; ++i)
          out[i] = from_math<O>(float(to_math(x[i])) + float(to_math(y[i])));
      });
    });
  });
}

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int num_threads)
      : threads_(num_threads > 0 ? num_threads : int(default_thread_count())) {
    // The OpenMP thread count is process-wide; the last backend created sets it. BLAS runs
    // single-threaded inside the OpenMP team (see gemm above).
    omp_set_num_threads(threads_);
#if defined(MOAI_BLAS_BLIS)
    bli_thread_set_num_threads(1);
#elif defined(MOAI_BLAS_OPENBLAS)
    openblas_set_num_threads(1);
#endif
  }

  using Backend::copy;
  using Backend::zero;
  DeviceKind device() const override {
    return DeviceKind::kCpu;
  }
  std::string name() const override {
    return "cpu (" + blas_kernel_info().description() + ", " + std::to_string(threads_) +
           " threads)";
  }
  // fp32 everywhere; BF16 for every activation op (bf16 kernels or the fp32 fallback). The
  // optimizer and the gradient norm stay fp32 (master weights, fp32 gradients).
  bool supports(Op op, DType dtype) const override {
    if (dtype == DType::kF32) return true;
    if (dtype != DType::kBF16) return false;
    return op != Op::kAdamW && op != Op::kSumSquares;
  }

  void* allocate(size_t bytes) override {
    const size_t rounded = (bytes + 63) / 64 * 64;
    void* ptr = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
    if (!ptr) throw std::bad_alloc();
    std::memset(ptr, 0, rounded == 0 ? 64 : rounded);
    return ptr;
  }
  void deallocate(void* ptr) override {
    std::free(ptr);
  }
  void copy_to_device(void* dst, const void* src, size_t bytes) override {
    copy(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    copy(dst, src, bytes);
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memmove(dst, src, bytes);
  }
  void zero(void* dst, size_t bytes) override {
    if (bytes) std::memset(dst, 0, bytes);
  }
  void synchronize() override {}
  bool rounds_f32_weights() const override {
    return true;
  }
  void bind_calling_thread() override {
    omp_set_num_threads(threads_);
  }

 protected:
  void run_matmul(const TensorView& c, const TensorView& a, const TensorView& b, int64_t m,
                  int64_t n, int64_t k, bool trans_a, bool trans_b, float alpha,
                  float beta) override {
    if (a.dtype == DType::kBF16)
      return matmul_bf16(c, a, b, m, n, k, trans_a, trans_b, alpha, beta);
    F32Stage c32(c, beta != 0.0f, true);
    cpu::gemm(c32.get(), a.f32(), b.f32(), m, n, k, trans_a, trans_b, alpha, beta);
  }
  void run_embedding_forward(const TensorView& out_view, const TensorView& ids,
                             const TensorView& table) override {
    if (table.dtype == DType::kF32) {
      cpu::embedding_forward(out_view.f32(), ids.as<int32_t>(), table.f32(), ids.numel(),
                             table.dim(1));
      return;
    }
    const BFloat16* src = table.as<BFloat16>();
    BFloat16* dst = out_view.as<BFloat16>();
    const int64_t c = table.dim(1);
    const int32_t* id = ids.as<int32_t>();
    for (int64_t row = 0; row < ids.numel(); ++row)
      std::memcpy(dst + row * c, src + int64_t(id[row]) * c, size_t(c) * sizeof(BFloat16));
  }
  void run_embedding_backward(const TensorView& dtable, const TensorView& dout,
                              const TensorView& ids) override {
    typed(dout, [&](auto* d) {
      cpu::embedding_backward(dtable.f32(), d, ids.as<int32_t>(), ids.numel(), dtable.dim(1));
    });
  }
  void run_rmsnorm_forward(const TensorView& out_view, const TensorView& rstd,
                           const TensorView& inp, const TensorView& weight, float eps) override {
    typed(out_view, [&](auto* o) {
      typed(inp, [&](const auto* i) {
        cpu::rmsnorm_forward(o, rstd.f32(), i, weight.f32(), rstd.numel(), weight.numel(),
                             double(eps));
      });
    });
  }
  void run_rmsnorm_backward(const TensorView& dinp, const TensorView& dweight,
                            const TensorView& dout, const TensorView& inp, const TensorView& weight,
                            const TensorView& rstd, bool accumulate) override {
    typed(dinp, [&](auto* di) {
      typed(dout, [&](const auto* d) {
        typed(inp, [&](const auto* i) {
          cpu::rmsnorm_backward(di, dweight.f32(), d, i, weight.f32(), rstd.f32(), rstd.numel(),
                                weight.numel(), accumulate);
        });
      });
    });
  }
  void run_rope(const TensorView& x, const TensorView& position_ids, const TensorView& cos,
                const TensorView& sin, bool inverse) override {
    typed(x, [&](auto* data) {
      cpu::rope_apply(data, position_ids.as<int32_t>(), cos.f32(), sin.f32(), x.dim(0), x.dim(1),
                      x.dim(2), inverse ? -1 : +1);
    });
  }
  void run_attention_forward(const TensorView& out_view, const TensorView& lse, const TensorView& q,
                             const TensorView& k, const TensorView& v,
                             const TensorView& segment_ids, const AttentionShape& shape) override {
    if (q.dtype == DType::kBF16)
      return attention_forward_bf16(out_view, lse, q, k, v, segment_ids, shape);
    cpu::attention_forward(out_view.f32(), static_cast<float*>(lse.data), q.f32(), k.f32(), v.f32(),
                           static_cast<const int32_t*>(segment_ids.data), shape);
  }
  void run_attention_backward(const TensorView& dq, const TensorView& dk, const TensorView& dv,
                              const TensorView& dout, const TensorView& out_view,
                              const TensorView& lse, const TensorView& q, const TensorView& k,
                              const TensorView& v, const TensorView& segment_ids,
                              const AttentionShape& shape) override {
    if (q.dtype == DType::kBF16)
      return attention_backward_bf16(dq, dk, dv, dout, out_view, lse, q, k, v, segment_ids, shape);
    cpu::attention_backward(dq.f32(), dk.f32(), dv.f32(), dout.f32(), out_view.f32(), lse.f32(),
                            q.f32(), k.f32(), v.f32(),
                            static_cast<const int32_t*>(segment_ids.data), shape);
  }
  void run_swiglu_forward(const TensorView& out_view, const TensorView& gate,
                          const TensorView& up) override {
    // Backend checked that out and up have gate's dtype.
    typed(gate, [&](auto* g) {
      using S = std::remove_pointer_t<decltype(g)>;
      cpu::swiglu_forward(static_cast<S*>(out_view.data), g, static_cast<const S*>(up.data),
                          gate.numel());
    });
  }
  void run_swiglu_backward(const TensorView& dgate, const TensorView& dup, const TensorView& dout,
                           const TensorView& gate, const TensorView& up) override {
    typed(gate, [&](auto* g) {
      using S = std::remove_pointer_t<decltype(g)>;
      cpu::swiglu_backward(static_cast<S*>(dgate.data), static_cast<S*>(dup.data),
                           static_cast<const S*>(dout.data), g, static_cast<const S*>(up.data),
                           gate.numel());
    });
  }
  void run_add(const TensorView& out_view, const TensorView& a, const TensorView& b) override {
    add_views(out_view, a, b);
  }
  void run_accumulate(const TensorView& dst_view, const TensorView& src) override {
    add_views(dst_view, dst_view, src);
  }
  void run_scale(const TensorView& x_view, float factor) override {
    const int64_t n = x_view.numel();
    typed(x_view, [&](auto* x) {
      using S = std::remove_pointer_t<decltype(x)>;
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < n; ++i) x[i] = cpu::from_math<S>(cpu::to_math(x[i]) * factor);
    });
  }
  void run_convert(const TensorView& dst, const TensorView& src) override {
    if (src.dtype == DType::kF32)
      F32Stage::convert_from_f32(dst, src.f32());
    else if (dst.dtype == DType::kF32)
      F32Stage::convert_to_f32(dst.f32(), src);
    else
      copy(dst, src);
  }
  void run_classifier_loss(const TensorView& losses, const TensorView& dx, const TensorView& dw,
                           const TensorView& x, const TensorView& w, const TensorView& labels,
                           const LossConfig& config, float grad_scale) override {
    if (x.dtype == DType::kBF16)
      return classifier_loss_bf16(losses, dx, dw, x, w, labels, config, grad_scale);
    cpu::classifier_loss(losses.f32(), static_cast<float*>(dx.data), static_cast<float*>(dw.data),
                         x.f32(), w.f32(), labels.as<int32_t>(), x.numel() / w.dim(1), w.dim(1),
                         w.dim(0), config, grad_scale);
  }
  void run_adamw_update(const TensorView& param, const TensorView& m, const TensorView& v,
                        const TensorView& grad, const AdamWStep& step) override {
    cpu::adamw_update(param.f32(), m.f32(), v.f32(), grad.f32(), param.numel(), step);
  }
  double run_sum_squares(const TensorView& x) override {
    return cpu::sum_squares(x.f32(), x.numel());
  }

 private:
  int threads_;
};

}  // namespace
}  // namespace cpu

std::unique_ptr<Backend> make_cpu_backend(int num_threads) {
  return std::make_unique<cpu::CpuBackend>(num_threads);
}

}  // namespace moai::ops
