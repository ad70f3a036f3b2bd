// The matmul engine's kernel check ("never a fallback kernel by accident").
#include "moai/ops/blas_kernels.h"

#include <gtest/gtest.h>

namespace moai::ops {
namespace {

TEST(BlasKernels, OpenBlasCoreNamesAreClassifiedByIsa) {
  for (const char* old : {"Prescott", "Core2", "Penryn", "Nehalem", "Sandybridge", "Atom"})
    EXPECT_TRUE(is_pre_avx2_openblas_core(old)) << old;
  for (const char* modern : {"Haswell", "Zen", "SkylakeX", "COOPERLAKE", "SapphireRapids"})
    EXPECT_FALSE(is_pre_avx2_openblas_core(modern)) << modern;
  EXPECT_STREQ(openblas_coretype_for(CpuIsa::kAvx512), "SKYLAKEX");
  EXPECT_STREQ(openblas_coretype_for(CpuIsa::kAvx2), "HASWELL");
}

// Whether the CPU really runs AVX2/AVX-512 kernels is checked on the moai binary by
// tests/cli/blas_kernels.sh: OpenBLAS picks its core when the library loads, and only the binary
// re-executes itself (ops::match_blas_kernels) to correct it.

}  // namespace
}  // namespace moai::ops
