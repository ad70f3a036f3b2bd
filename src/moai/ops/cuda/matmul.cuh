#pragma once
// Matrix products through cuBLASLt with fp32 accumulation, in row-major terms:
//   out[m, n] = alpha * op(a)[m, k] . op(b)[k, n] + beta * out
// op(a) = a ([m, k], leading dim lda >= k) or, with trans_a, a^T (a stored [k, m], lda >= m); same
// for b. out is bf16 or fp32 (fp32 with beta = 1 accumulates parameter gradients across
// micro-batches exactly). The model's linear layers map onto it as (x [T, in], W [out, in], y [T,
// out]):
//   forward      y  = x . W^T         matmul(y, x, W, trans_b = true)
//   input grad   dx = dy . W          matmul(dx, dy, W)
//   weight grad  dW += dy^T . x       matmul(dW (fp32), dy, x, trans_a = true, beta = 1)
#include <cublasLt.h>
#include <cuda_bf16.h>

#include <cstdint>
#include <map>
#include <tuple>

#include "moai/ops/cuda/device.h"

namespace moai::ops::cuda {

enum class ElemType { kBf16, kFp32 };

struct MatmulArgs {
  void* out = nullptr;
  ElemType out_type = ElemType::kBf16;
  const void* a = nullptr;
  const void* b = nullptr;
  ElemType in_type = ElemType::kBf16;  // of both a and b
  bool exact_fp32 = false;             // fp32 inputs: full fp32 products instead of TF32
  int64_t m = 0, n = 0, k = 0;
  bool trans_a = false;
  bool trans_b = false;
  int64_t lda = 0, ldb = 0, ldc = 0;  // 0 = packed (the row length of the stored matrix)
  float alpha = 1.0f;
  float beta = 0.0f;
};

template <typename T>
constexpr ElemType elem_type_of();
template <>
constexpr ElemType elem_type_of<float>() {
  return ElemType::kFp32;
}
template <>
constexpr ElemType elem_type_of<__nv_bfloat16>() {
  return ElemType::kBf16;
}

void matmul(Device& device, const MatmulArgs& args);

// cuBLASLt descriptors and the heuristic's chosen algorithm per problem shape. Built on the first
// call of a shape (the first step), reused afterwards, so the step does no descriptor setup or
// heuristic query.
class MatmulPlanCache {
 public:
  struct Plan {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  // Shape, leading dims, transposes, output type, beta != 0, input type, exact fp32, and the
  // pointers' alignments (cuBLASLt otherwise assumes 256-byte aligned pointers; the model passes
  // views into larger buffers that are only 64-byte aligned).
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int, int, int, int,
                         int, int, int, int, int>;
  ~MatmulPlanCache();
  std::map<Key, Plan> plans;
};

}  // namespace moai::ops::cuda
