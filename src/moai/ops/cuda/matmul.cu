// cuBLASLt matmul wrapper (row-major view over column-major cuBLASLt). See matmul.cuh for the
// contract.
//
// Row-major X [r, c] with leading dim ld is, to cuBLASLt, a column-major [c, r] matrix with the
// same ld. So out[m, n] = op(a) . op(b) is computed as the column-major product out^T[n, m] =
// op(b)^T . op(a)^T: cuBLASLt's "A" is our b and its "B" is our a, with the transposes carried over
// unchanged.
#include <cublasLt.h>
#include <nvtx3/nvToolsExt.h>

#include <cstdint>

#include "moai/core/error.h"
#include "moai/ops/cuda/check.h"
#include "moai/ops/cuda/device_state.cuh"
#include "moai/ops/cuda/matmul.cuh"

namespace moai::ops::cuda {

MatmulPlanCache::~MatmulPlanCache() {
  for (auto& [key, plan] : plans) {
    cublasLtMatrixLayoutDestroy(plan.a);
    cublasLtMatrixLayoutDestroy(plan.b);
    cublasLtMatrixLayoutDestroy(plan.c);
    cublasLtMatmulDescDestroy(plan.op);
  }
}

namespace {

// Largest power of two (at most 256) that divides the address.
int pointer_alignment(const void* ptr) {
  const auto address = reinterpret_cast<uintptr_t>(ptr);
  int alignment = 256;
  while (alignment > 1 && address % uintptr_t(alignment) != 0) alignment /= 2;
  return alignment;
}

MatmulPlanCache::Plan build_plan(Device::State& state, const MatmulArgs& args, int64_t lda,
                                 int64_t ldb, int64_t ldc) {
  MatmulPlanCache::Plan plan;
  const cudaDataType_t out_type = args.out_type == ElemType::kFp32 ? CUDA_R_32F : CUDA_R_16BF;
  const cudaDataType_t in_type = args.in_type == ElemType::kFp32 ? CUDA_R_32F : CUDA_R_16BF;
  const cublasComputeType_t compute = args.in_type == ElemType::kFp32 && !args.exact_fp32
                                          ? CUBLAS_COMPUTE_32F_FAST_TF32
                                          : CUBLAS_COMPUTE_32F;
  MOAI_CUBLAS_CHECK(cublasLtMatmulDescCreate(&plan.op, compute, CUDA_R_32F));
  // cuBLASLt's A is our b, its B is our a (see the file comment).
  const cublasOperation_t op_lt_a = args.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_lt_b = args.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  MOAI_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_TRANSA, &op_lt_a,
                                                   sizeof(op_lt_a)));
  MOAI_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(plan.op, CUBLASLT_MATMUL_DESC_TRANSB, &op_lt_b,
                                                   sizeof(op_lt_b)));
  // Stored shapes, column-major: our b is [k, n] row-major (or [n, k] with trans_b), i.e. col-major
  // [n, k] (or [k, n]); our a is [m, k] (or [k, m]), i.e. col-major [k, m] (or [m, k]).
  const uint64_t lt_a_rows = args.trans_b ? args.k : args.n;
  const uint64_t lt_a_cols = args.trans_b ? args.n : args.k;
  const uint64_t lt_b_rows = args.trans_a ? args.m : args.k;
  const uint64_t lt_b_cols = args.trans_a ? args.k : args.m;
  MOAI_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.a, in_type, lt_a_rows, lt_a_cols, ldb));
  MOAI_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.b, in_type, lt_b_rows, lt_b_cols, lda));
  MOAI_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&plan.c, out_type, args.n, args.m, ldc));

  cublasLtMatmulPreference_t preference = nullptr;
  MOAI_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&preference));
  const uint64_t workspace = state.workspace_bytes;
  MOAI_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace, sizeof(workspace)));
  // cuBLASLt's A is our b, its B our a, C and D our out.
  const uint32_t align_lt_a = uint32_t(pointer_alignment(args.b));
  const uint32_t align_lt_b = uint32_t(pointer_alignment(args.a));
  const uint32_t align_out = uint32_t(pointer_alignment(args.out));
  MOAI_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_lt_a, sizeof(align_lt_a)));
  MOAI_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_lt_b, sizeof(align_lt_b)));
  MOAI_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_out, sizeof(align_out)));
  MOAI_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
      preference, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_out, sizeof(align_out)));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(
      state.lt, plan.op, plan.a, plan.b, plan.c, plan.c, preference, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(preference);
  if (status != CUBLAS_STATUS_SUCCESS || found == 0) {
    throw InternalError("cuBLASLt has no algorithm for matmul m=" + std::to_string(args.m) +
                        " n=" + std::to_string(args.n) + " k=" + std::to_string(args.k) +
                        " lda=" + std::to_string(lda) + " ldb=" + std::to_string(ldb) +
                        " ldc=" + std::to_string(ldc) + " (status " +
                        std::to_string(static_cast<int>(status)) + ")");
  }
  plan.algo = result.algo;
  return plan;
}

}  // namespace

void matmul(Device& device, const MatmulArgs& args) {
  if (args.m == 0 || args.n == 0) return;
  MOAI_CHECK(args.out && args.a && args.b && args.k > 0);
  nvtxRangePushA("moai::matmul");
  Device::State& state = device.state();
  const int64_t lda = args.lda ? args.lda : (args.trans_a ? args.m : args.k);
  const int64_t ldb = args.ldb ? args.ldb : (args.trans_b ? args.k : args.n);
  const int64_t ldc = args.ldc ? args.ldc : args.n;
  const MatmulPlanCache::Key key{args.m,
                                 args.n,
                                 args.k,
                                 lda,
                                 ldb,
                                 ldc,
                                 args.trans_a,
                                 args.trans_b,
                                 static_cast<int>(args.out_type),
                                 args.beta != 0.0f,
                                 static_cast<int>(args.in_type),
                                 args.exact_fp32,
                                 pointer_alignment(args.a),
                                 pointer_alignment(args.b),
                                 pointer_alignment(args.out)};
  auto& plans = state.matmul_plans->plans;
  auto found = plans.find(key);
  if (found == plans.end())
    found = plans.emplace(key, build_plan(state, args, lda, ldb, ldc)).first;
  const MatmulPlanCache::Plan& plan = found->second;
  MOAI_CUBLAS_CHECK(cublasLtMatmul(state.lt, plan.op, &args.alpha, args.b, plan.a, args.a, plan.b,
                                   &args.beta, args.out, plan.c, args.out, plan.c, &plan.algo,
                                   state.workspace, state.workspace_bytes, state.stream));
  nvtxRangePop();
}

}  // namespace moai::ops::cuda
