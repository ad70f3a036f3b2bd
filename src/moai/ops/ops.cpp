#include "moai/ops/ops.h"

namespace moai::ops {

void linear_forward(Backend& backend, float* out, const float* inp, const float* weight, int64_t n,
                    int64_t in_c, int64_t out_c) {
  backend.matmul(out, inp, weight, n, out_c, in_c, false, true, 1.0f, 0.0f);
}

void linear_backward(Backend& backend, float* dinp, float* dweight, const float* dout,
                     const float* inp, const float* weight, int64_t n, int64_t in_c, int64_t out_c,
                     bool accumulate_dinp) {
  if (dinp)
    backend.matmul(dinp, dout, weight, n, in_c, out_c, false, false, 1.0f,
                   accumulate_dinp ? 1.0f : 0.0f);
  if (dweight) backend.matmul(dweight, dout, inp, out_c, in_c, n, true, false, 1.0f, 1.0f);
}

}  // namespace moai::ops
