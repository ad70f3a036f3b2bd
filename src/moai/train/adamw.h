#pragma once
// AdamW exactly as torch.optim.AdamW(foreach=False): p *= 1 - lr*wd (decoupled, 2-D tensors only);
// m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
// The moments are two contiguous device buffers cut by the model's ParamLayout. Under ZeRO-1 an
// optimizer owns the slice [begin, end) of the parameter buffer only: its moments have end - begin
// floats and step() updates the parameters in that slice (tensors cut at the edges are updated in
// part; AdamW is element-wise, so the pieces together equal one unsharded step).
#include <cstdint>

#include "moai/model/param_layout.h"
#include "moai/ops/ops.h"

namespace moai::train {

struct AdamWConfig {
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.1f;  // applied to tensors with >= 2 dimensions only
};

class AdamW {
 public:
  AdamW(ops::Backend& backend, const model::ParamLayout& layout, const AdamWConfig& config);
  // The optimizer of the slice [begin, end) of the parameter buffer.
  AdamW(ops::Backend& backend, const model::ParamLayout& layout, const AdamWConfig& config,
        int64_t begin, int64_t end);
  ~AdamW();
  AdamW(const AdamW&) = delete;
  AdamW& operator=(const AdamW&) = delete;

  // One step at learning rate lr. grad_scale multiplies every gradient first (clip_scale() below).
  // params and grads are whole buffers (layout.total_floats()); only [begin, end) is read/written.
  void step(float* params, const float* grads, float lr, float grad_scale = 1.0f);

  int64_t step_count() const { return step_count_; }
  void set_step_count(int64_t steps) { step_count_ = steps; }  // exact resume
  float* m() { return m_; }                                    // device, end - begin floats
  float* v() { return v_; }
  int64_t begin() const { return begin_; }
  int64_t end() const { return end_; }
  int64_t size() const { return end_ - begin_; }
  const AdamWConfig& config() const { return config_; }

 private:
  ops::Backend& backend_;
  const model::ParamLayout& layout_;
  AdamWConfig config_;
  int64_t begin_ = 0;
  int64_t end_ = 0;
  float* m_ = nullptr;
  float* v_ = nullptr;
  int64_t step_count_ = 0;
};

}  // namespace moai::train
