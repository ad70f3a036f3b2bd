// ops::Backend on one GPU: every call is queued on the device's stream; copies to and from the host
// wait for the stream (the host buffer may be reused at once), everything else returns without
// waiting.
#include "moai/ops/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <string>
#include <unordered_map>

#include "moai/core/error.h"
#include "moai/ops/cuda/check.h"
#include "moai/ops/cuda/device.h"
#include "moai/ops/cuda/device_state.cuh"
#include "moai/ops/cuda/kernels.cuh"
#include "moai/ops/cuda/matmul.cuh"

namespace moai::ops {
namespace {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const CudaBackendOptions& options)
      : device_(options.device), tf32_(options.tf32_matmul) {}

  ~CudaBackend() override {
    // Buffers the caller forgot are released with the context (no throw from a destructor).
    for (auto& [ptr, bytes] : sizes_) device_.release(ptr, bytes);
  }

  cuda::Device& context() { return device_; }

  DeviceKind device() const override { return DeviceKind::kCuda; }
  std::string name() const override {
    const cuda::DeviceInfo& info = device_.info();
    return "cuda (" + info.name + ", sm_" + std::to_string(info.compute_major) +
           std::to_string(info.compute_minor) + (tf32_ ? ", tf32 matmul" : ", fp32 matmul") + ")";
  }

  void* allocate(size_t bytes) override {
    const size_t rounded = (bytes + 255) / 256 * 256;
    void* ptr = device_.allocate(rounded == 0 ? 256 : rounded);
    sizes_[ptr] = rounded == 0 ? 256 : rounded;
    MOAI_CUDA_CHECK(cudaMemsetAsync(ptr, 0, sizes_[ptr], stream()));
    return ptr;
  }
  void deallocate(void* ptr) override {
    if (!ptr) return;
    auto found = sizes_.find(ptr);
    MOAI_CHECK(found != sizes_.end());
    // cudaFree waits for the device, so queued kernels that still read the buffer finish first.
    device_.release(ptr, found->second);
    sizes_.erase(found);
  }
  void copy_to_device(void* dst, const void* host_src, size_t bytes) override {
    if (bytes == 0) return;
    MOAI_CUDA_CHECK(cudaMemcpyAsync(dst, host_src, bytes, cudaMemcpyHostToDevice, stream()));
    MOAI_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }
  void copy_to_host(void* host_dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    MOAI_CUDA_CHECK(cudaMemcpyAsync(host_dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
    MOAI_CUDA_CHECK(cudaStreamSynchronize(stream()));
  }
  void copy(void* dst, const void* src, size_t bytes) override {
    if (bytes)
      MOAI_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
  }
  void zero(void* dst, size_t bytes) override {
    if (bytes) MOAI_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, stream()));
  }
  void synchronize() override { device_.synchronize(); }

  void matmul(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k,
              bool trans_a, bool trans_b, float alpha, float beta) override {
    cuda::MatmulArgs args;
    args.out = c;
    args.out_type = cuda::ElemType::kFp32;
    args.a = a;
    args.b = b;
    args.in_type = cuda::ElemType::kFp32;
    args.exact_fp32 = !tf32_;
    args.m = m;
    args.n = n;
    args.k = k;
    args.trans_a = trans_a;
    args.trans_b = trans_b;
    args.alpha = alpha;
    args.beta = beta;
    if (k == 0) {  // an empty sum: c = beta * c
      if (beta == 0.0f)
        zero(c, size_t(m * n) * sizeof(float));
      else
        cuda::scale(device_, c, beta, m * n);
      return;
    }
    cuda::matmul(device_, args);
  }
  void embedding_forward(float* out, const int32_t* ids, const float* table, int64_t n,
                         int64_t c) override {
    cuda::embedding_forward(device_, out, ids, table, n, c);
  }
  void embedding_backward(float* dtable, const float* dout, const int32_t* ids, int64_t n,
                          int64_t c) override {
    cuda::embedding_backward(device_, dtable, dout, ids, n, c);
  }
  void rmsnorm_forward(float* out, float* rstd, const float* inp, const float* weight, int64_t n,
                       int64_t c, float eps) override {
    cuda::rmsnorm_forward(device_, out, rstd, inp, weight, n, c, eps);
  }
  void rmsnorm_backward(float* dinp, float* dweight, const float* dout, const float* inp,
                        const float* weight, const float* rstd, int64_t n, int64_t c,
                        bool accumulate) override {
    cuda::rmsnorm_backward(device_, dinp, dweight, dout, inp, weight, rstd, n, c, accumulate);
  }
  void rope_forward(float* x, const int32_t* position_ids, const float* cos, const float* sin,
                    int64_t n, int64_t heads, int64_t head_dim) override {
    cuda::rope_apply(device_, x, position_ids, cos, sin, n, heads, head_dim, false);
  }
  void rope_backward(float* dx, const int32_t* position_ids, const float* cos, const float* sin,
                     int64_t n, int64_t heads, int64_t head_dim) override {
    cuda::rope_apply(device_, dx, position_ids, cos, sin, n, heads, head_dim, true);
  }
  void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                         const int32_t* segment_ids, const AttentionShape& shape) override {
    cuda::attention_forward(device_, out, lse, q, k, v, segment_ids, shape);
  }
  void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* out,
                          const float* lse, const float* q, const float* k, const float* v,
                          const int32_t* segment_ids, const AttentionShape& shape) override {
    cuda::attention_backward(device_, dq, dk, dv, dout, out, lse, q, k, v, segment_ids, shape);
  }
  void swiglu_forward(float* out, const float* gate, const float* up, int64_t n) override {
    cuda::swiglu_forward(device_, out, gate, up, n);
  }
  void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                       const float* up, int64_t n) override {
    cuda::swiglu_backward(device_, dgate, dup, dout, gate, up, n);
  }
  void add(float* out, const float* a, const float* b, int64_t n) override {
    cuda::add(device_, out, a, b, n);
  }
  void accumulate(float* dst, const float* src, int64_t n) override {
    cuda::accumulate(device_, dst, src, n);
  }
  void scale(float* x, float factor, int64_t n) override { cuda::scale(device_, x, factor, n); }
  void classifier_loss(float* losses, float* dx, float* dw, const float* x, const float* w,
                       const int32_t* labels, int64_t n, int64_t c, int64_t v,
                       const LossConfig& config, float grad_scale) override {
    cuda::classifier_loss(device_, losses, dx, dw, x, w, labels, n, c, v, config, grad_scale);
  }
  void adamw_update(float* param, float* m, float* v, const float* grad, int64_t n,
                    const AdamWStep& step) override {
    cuda::adamw_update<float>(device_, param, nullptr, m, v, grad, n, step, nullptr);
  }
  double sum_squares(const float* x, int64_t n) override {
    if (!result_) result_ = static_cast<double*>(allocate(sizeof(double)));
    cuda::sum_squares(device_, result_, x, n);
    double host = 0.0;
    copy_to_host(&host, result_, sizeof(double));
    return host;
  }

 private:
  cudaStream_t stream() { return device_.state().stream; }

  cuda::Device device_;
  bool tf32_;
  std::unordered_map<void*, size_t> sizes_;
  double* result_ = nullptr;
};

CudaBackend& as_cuda(Backend& backend) {
  auto* cuda_backend = dynamic_cast<CudaBackend*>(&backend);
  if (!cuda_backend) throw InternalError("expected a CUDA backend, got " + backend.name());
  return *cuda_backend;
}

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options) {
  return std::make_unique<CudaBackend>(options);
}

int cuda_device_count() {
  return cuda::device_count();
}

size_t cuda_memory_peak_bytes(Backend& backend) {
  return as_cuda(backend).context().memory_peak_bytes();
}
size_t cuda_memory_in_use_bytes(Backend& backend) {
  return as_cuda(backend).context().memory_in_use_bytes();
}
void* cuda_stream(Backend& backend) {
  return as_cuda(backend).context().state().stream;
}

}  // namespace moai::ops
