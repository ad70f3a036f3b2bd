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

using bf16 = __nv_bfloat16;

template <class T>
T* ptr(const TensorView& view) {
  return static_cast<T*>(view.data);
}

cuda::ElemType elem(const TensorView& view) {
  return view.dtype == DType::kBF16 ? cuda::ElemType::kBf16 : cuda::ElemType::kFp32;
}

// A dtype combination the kernels do not have (e.g. RMSNorm's dinp and dout differing): InputError
// naming the op and every view.
[[noreturn]] void unsupported(Op op, std::initializer_list<const TensorView*> views) {
  std::string what;
  for (const TensorView* view : views) what += (what.empty() ? "" : ", ") + view->describe();
  throw InputError(std::string("cuda: ") + op_name(op) + " has no kernel for " + what);
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const CudaBackendOptions& options)
      : device_(options.device), tf32_(options.tf32_matmul) {}

  ~CudaBackend() override {
    // Buffers the caller forgot are released with the context (no throw from a destructor).
    for (auto& [ptr, bytes] : sizes_) device_.release(ptr, bytes);
  }

  cuda::Device& context() { return device_; }
  using Backend::copy;
  using Backend::zero;

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

  // fp32 everywhere; bf16 for every activation op (RMSNorm with any float/bf16 mix of input and
  // output, fp32 weights); optimizer and gradient norm: fp32.
  bool supports(Op op, DType dtype) const override {
    if (dtype == DType::kF32) return true;
    if (dtype != DType::kBF16) return false;
    return op != Op::kAdamW && op != Op::kSumSquares;
  }

 protected:
  void run_matmul(const TensorView& c, const TensorView& a, const TensorView& b, int64_t m,
                  int64_t n, int64_t k, bool trans_a, bool trans_b, float alpha,
                  float beta) override {
    if (k == 0) {  // an empty sum: c = beta * c
      if (beta == 0.0f)
        zero(c);
      else
        run_scale(c, beta);
      return;
    }
    cuda::MatmulArgs args;
    args.out = c.data;
    args.out_type = elem(c);
    args.a = a.data;
    args.b = b.data;
    args.in_type = elem(a);
    args.exact_fp32 = !tf32_;
    args.m = m;
    args.n = n;
    args.k = k;
    args.trans_a = trans_a;
    args.trans_b = trans_b;
    args.alpha = alpha;
    args.beta = beta;
    cuda::matmul(device_, args);
  }
  void run_embedding_forward(const TensorView& out, const TensorView& ids,
                             const TensorView& table) override {
    if (table.dtype == DType::kBF16)
      return cuda::embedding_forward(device_, ptr<bf16>(out), ptr<int32_t>(ids), ptr<bf16>(table),
                                     ids.numel(), table.dim(1));
    cuda::embedding_forward(device_, ptr<float>(out), ptr<int32_t>(ids), ptr<float>(table),
                            ids.numel(), table.dim(1));
  }
  void run_embedding_backward(const TensorView& dtable, const TensorView& dout,
                              const TensorView& ids) override {
    if (dout.dtype == DType::kBF16)
      return cuda::embedding_backward(device_, ptr<float>(dtable), ptr<bf16>(dout),
                                      ptr<int32_t>(ids), ids.numel(), dtable.dim(1));
    cuda::embedding_backward(device_, ptr<float>(dtable), ptr<float>(dout), ptr<int32_t>(ids),
                             ids.numel(), dtable.dim(1));
  }
  void run_rmsnorm_forward(const TensorView& out, const TensorView& rstd, const TensorView& inp,
                           const TensorView& weight, float eps) override {
    const bool bf16_in = inp.dtype == DType::kBF16, bf16_out = out.dtype == DType::kBF16;
    const int64_t n = rstd.numel(), c = weight.numel();
    float* r = ptr<float>(rstd);
    const float* w = ptr<float>(weight);
    if (bf16_in && bf16_out)
      return cuda::rmsnorm_forward(device_, ptr<bf16>(out), r, ptr<bf16>(inp), w, n, c, eps);
    if (bf16_in)
      return cuda::rmsnorm_forward(device_, ptr<float>(out), r, ptr<bf16>(inp), w, n, c, eps);
    if (bf16_out)
      return cuda::rmsnorm_forward(device_, ptr<bf16>(out), r, ptr<float>(inp), w, n, c, eps);
    cuda::rmsnorm_forward(device_, ptr<float>(out), r, ptr<float>(inp), w, n, c, eps);
  }
  void run_rmsnorm_backward(const TensorView& dinp, const TensorView& dweight,
                            const TensorView& dout, const TensorView& inp, const TensorView& weight,
                            const TensorView& rstd, bool accumulate) override {
    if (dinp.present() && dinp.dtype != dout.dtype)
      unsupported(Op::kRmsNormBackward, {&dinp, &dout});
    const int64_t n = rstd.numel(), c = weight.numel();
    float* dw = ptr<float>(dweight);
    const float *w = ptr<float>(weight), *r = ptr<float>(rstd);
    const bool bf16_d = dout.dtype == DType::kBF16, bf16_x = inp.dtype == DType::kBF16;
    if (bf16_d && bf16_x)
      return cuda::rmsnorm_backward(device_, ptr<bf16>(dinp), dw, ptr<bf16>(dout), ptr<bf16>(inp),
                                    w, r, n, c, accumulate);
    if (bf16_d)
      return cuda::rmsnorm_backward(device_, ptr<bf16>(dinp), dw, ptr<bf16>(dout), ptr<float>(inp),
                                    w, r, n, c, accumulate);
    if (bf16_x)
      return cuda::rmsnorm_backward(device_, ptr<float>(dinp), dw, ptr<float>(dout), ptr<bf16>(inp),
                                    w, r, n, c, accumulate);
    cuda::rmsnorm_backward(device_, ptr<float>(dinp), dw, ptr<float>(dout), ptr<float>(inp), w, r,
                           n, c, accumulate);
  }
  void run_rope(const TensorView& x, const TensorView& position_ids, const TensorView& cos,
                const TensorView& sin, bool inverse) override {
    if (x.dtype == DType::kBF16)
      return cuda::rope_apply(device_, ptr<bf16>(x), ptr<int32_t>(position_ids), ptr<float>(cos),
                              ptr<float>(sin), x.dim(0), x.dim(1), x.dim(2), inverse);
    cuda::rope_apply(device_, ptr<float>(x), ptr<int32_t>(position_ids), ptr<float>(cos),
                     ptr<float>(sin), x.dim(0), x.dim(1), x.dim(2), inverse);
  }
  void run_attention_forward(const TensorView& out, const TensorView& lse, const TensorView& q,
                             const TensorView& k, const TensorView& v,
                             const TensorView& segment_ids, const AttentionShape& shape) override {
    if (q.dtype == DType::kBF16)
      return cuda::attention_forward(device_, ptr<bf16>(out), ptr<float>(lse), ptr<bf16>(q),
                                     ptr<bf16>(k), ptr<bf16>(v), ptr<int32_t>(segment_ids), shape);
    cuda::attention_forward(device_, ptr<float>(out), ptr<float>(lse), ptr<float>(q), ptr<float>(k),
                            ptr<float>(v), ptr<int32_t>(segment_ids), shape);
  }
  void run_attention_backward(const TensorView& dq, const TensorView& dk, const TensorView& dv,
                              const TensorView& dout, const TensorView& out, const TensorView& lse,
                              const TensorView& q, const TensorView& k, const TensorView& v,
                              const TensorView& segment_ids, const AttentionShape& shape) override {
    if (q.dtype == DType::kBF16)
      return cuda::attention_backward(device_, ptr<bf16>(dq), ptr<bf16>(dk), ptr<bf16>(dv),
                                      ptr<bf16>(dout), ptr<bf16>(out), ptr<float>(lse),
                                      ptr<bf16>(q), ptr<bf16>(k), ptr<bf16>(v),
                                      ptr<int32_t>(segment_ids), shape);
    cuda::attention_backward(device_, ptr<float>(dq), ptr<float>(dk), ptr<float>(dv),
                             ptr<float>(dout), ptr<float>(out), ptr<float>(lse), ptr<float>(q),
                             ptr<float>(k), ptr<float>(v), ptr<int32_t>(segment_ids), shape);
  }
  void run_swiglu_forward(const TensorView& out, const TensorView& gate,
                          const TensorView& up) override {
    if (gate.dtype == DType::kBF16)
      return cuda::swiglu_forward(device_, ptr<bf16>(out), ptr<bf16>(gate), ptr<bf16>(up),
                                  gate.numel());
    cuda::swiglu_forward(device_, ptr<float>(out), ptr<float>(gate), ptr<float>(up), gate.numel());
  }
  void run_swiglu_backward(const TensorView& dgate, const TensorView& dup, const TensorView& dout,
                           const TensorView& gate, const TensorView& up) override {
    if (gate.dtype == DType::kBF16)
      return cuda::swiglu_backward(device_, ptr<bf16>(dgate), ptr<bf16>(dup), ptr<bf16>(dout),
                                   ptr<bf16>(gate), ptr<bf16>(up), gate.numel());
    cuda::swiglu_backward(device_, ptr<float>(dgate), ptr<float>(dup), ptr<float>(dout),
                          ptr<float>(gate), ptr<float>(up), gate.numel());
  }
  void run_add(const TensorView& out, const TensorView& a, const TensorView& b) override {
    if (out.dtype == DType::kBF16)
      return cuda::add(device_, ptr<bf16>(out), ptr<bf16>(a), ptr<bf16>(b), out.numel());
    cuda::add(device_, ptr<float>(out), ptr<float>(a), ptr<float>(b), out.numel());
  }
  void run_accumulate(const TensorView& dst, const TensorView& src) override {
    if (dst.dtype == DType::kBF16)
      return cuda::accumulate(device_, ptr<bf16>(dst), ptr<bf16>(src), dst.numel());
    cuda::accumulate(device_, ptr<float>(dst), ptr<float>(src), dst.numel());
  }
  void run_scale(const TensorView& x, float factor) override {
    if (x.dtype == DType::kBF16) return cuda::scale(device_, ptr<bf16>(x), factor, x.numel());
    cuda::scale(device_, ptr<float>(x), factor, x.numel());
  }
  void run_convert(const TensorView& dst, const TensorView& src) override {
    if (dst.dtype == src.dtype) return copy(dst, src);
    if (dst.dtype == DType::kBF16 && src.dtype == DType::kF32)
      return cuda::convert(device_, ptr<bf16>(dst), ptr<float>(src), src.numel());
    if (dst.dtype == DType::kF32 && src.dtype == DType::kBF16)
      return cuda::convert(device_, ptr<float>(dst), ptr<bf16>(src), src.numel());
    unsupported(Op::kConvert, {&dst, &src});
  }
  void run_classifier_loss(const TensorView& losses, const TensorView& dx, const TensorView& dw,
                           const TensorView& x, const TensorView& w, const TensorView& labels,
                           const LossConfig& config, float grad_scale) override {
    const int64_t c = w.dim(1), v = w.dim(0), n = x.numel() / c;
    if (x.dtype == DType::kBF16)
      return cuda::classifier_loss(device_, ptr<float>(losses), ptr<bf16>(dx), ptr<float>(dw),
                                   ptr<bf16>(x), ptr<bf16>(w), ptr<int32_t>(labels), n, c, v,
                                   config, grad_scale);
    cuda::classifier_loss(device_, ptr<float>(losses), ptr<float>(dx), ptr<float>(dw),
                          ptr<float>(x), ptr<float>(w), ptr<int32_t>(labels), n, c, v, config,
                          grad_scale);
  }
  void run_adamw_update(const TensorView& param, const TensorView& m, const TensorView& v,
                        const TensorView& grad, const AdamWStep& step) override {
    cuda::adamw_update<float>(device_, ptr<float>(param), nullptr, ptr<float>(m), ptr<float>(v),
                              ptr<float>(grad), param.numel(), step, nullptr);
  }
  double run_sum_squares(const TensorView& x) override {
    if (!result_) result_ = static_cast<double*>(allocate(sizeof(double)));
    cuda::sum_squares(device_, result_, ptr<float>(x), x.numel());
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
