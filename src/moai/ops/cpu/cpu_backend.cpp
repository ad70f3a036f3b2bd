// The CPU backend: fp32 kernels from kernels.h (OpenMP) and BLAS matmuls.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "moai/core/error.h"
#include "moai/core/thread_pool.h"
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
void gemm(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k, bool trans_a,
          bool trans_b, float alpha, float beta) {
  if (m == 0 || n == 0) return;
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

const char* blas_name() {
#if defined(MOAI_BLAS_BLIS)
  return "blis";
#else
  return "openblas";
#endif
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

  DeviceKind device() const override {
    return DeviceKind::kCpu;
  }
  std::string name() const override {
    return std::string("cpu (") + blas_name() + ", " + std::to_string(threads_) + " threads)";
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

  void matmul(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k,
              bool trans_a, bool trans_b, float alpha, float beta) override {
    cpu::gemm(c, a, b, m, n, k, trans_a, trans_b, alpha, beta);
  }
  void embedding_forward(float* out, const int32_t* ids, const float* table, int64_t n,
                         int64_t c) override {
    cpu::embedding_forward(out, ids, table, n, c);
  }
  void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int64_t n,
                          int64_t c) override {
    cpu::embedding_backward(dtable, dout, ids, n, c);
  }
  void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t n,
                       int64_t c, float eps) override {
    cpu::rmsnorm_forward(out, rstd, inp, weight, n, c, double(eps));
  }
  void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                        const float* weight, const float* rstd, int64_t n, int64_t c,
                        bool accumulate) override {
    cpu::rmsnorm_backward(dinp, dweight, dout, inp, weight, rstd, n, c, accumulate);
  }
  void rope_forward(float* x, const int32_t* position_ids, const float* cos, const float* sin,
                    int64_t n, int64_t heads, int64_t head_dim) override {
    cpu::rope_apply(x, position_ids, cos, sin, n, heads, head_dim, +1);
  }
  void rope_backward(float* dx, const int32_t* position_ids, const float* cos, const float* sin,
                     int64_t n, int64_t heads, int64_t head_dim) override {
    cpu::rope_apply(dx, position_ids, cos, sin, n, heads, head_dim, -1);
  }
  void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                         const int32_t* segment_ids, const AttentionShape& shape) override {
    cpu::attention_forward(out, lse, q, k, v, segment_ids, shape);
  }
  void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out,
                          const float* lse, const float* q, const float* k, const float* v,
                          const int32_t* segment_ids, const AttentionShape& shape) override {
    MOAI_CHECK(shape.q_len == shape.kv_len && shape.kv_batch_stride == 0);
    cpu::attention_backward(dq, dk, dv, dout, out, lse, q, k, v, segment_ids, shape);
  }
  void swiglu_forward(float* out, const float* gate, const float* up, int64_t n) override {
    cpu::swiglu_forward(out, gate, up, n);
  }
  void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                       const float* up, int64_t n) override {
    cpu::swiglu_backward(dgate, dup, dout, gate, up, n);
  }
  void add(float* out, const float* a, const float* b, int64_t n) override {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
  }
  void accumulate(float* dst, const float* src, int64_t n) override {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
  }
  void scale(float* x, float factor, int64_t n) override {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) x[i] *= factor;
  }
  void classifier_loss(float* losses, float* dx, float* dw, const float* x, const float* w,
                       const int32_t* labels, int64_t n, int64_t c, int64_t v,
                       const LossConfig& config, float grad_scale) override {
    cpu::classifier_loss(losses, dx, dw, x, w, labels, n, c, v, config, grad_scale);
  }
  void adamw_update(float* param, float* m, float* v, const float* grad, int64_t n,
                    const AdamWStep& step) override {
    cpu::adamw_update(param, m, v, grad, n, step);
  }
  double sum_squares(const float* x, int64_t n) override {
    return cpu::sum_squares(x, n);
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
