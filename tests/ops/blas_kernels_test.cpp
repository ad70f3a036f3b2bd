// The matmul engine's kernel check ("never a fallback kernel by accident").
#include "moai/ops/blas_kernels.h"

#include <gtest/gtest.h>

#include <cstdlib>

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

// Fails when an AVX-512 CPU runs pre-AVX2 kernels. OpenBLAS picks its core when the library loads,
// so this test process (not re-executed like the moai binary) is checked only when its environment
// asks for the matching core; tests/cli/blas_kernels.sh checks the binary without it.
TEST(BlasKernels, Avx512CpuRunsAvx512Kernels) {
  const BlasKernelInfo info = blas_kernel_info();
  std::printf("cpu %s (avx512_bf16 %d), engine %s\n", cpu_isa_name(info.cpu),
              int(cpu_has_avx512_bf16()), info.description().c_str());
  if (info.engine != "openblas" || !std::getenv("OPENBLAS_CORETYPE"))
    GTEST_SKIP() << "OpenBLAS core chosen at load without OPENBLAS_CORETYPE; see cli.blas_kernels";
  if (info.cpu == CpuIsa::kAvx512) EXPECT_FALSE(info.pre_avx2_core) << info.core;
}

}  // namespace
}  // namespace moai::ops
