#include "moai/ops/blas_kernels.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "moai/core/log.h"

#if defined(MOAI_BLAS_OPENBLAS)
extern "C" char* openblas_get_corename(void);
#endif

namespace moai::ops {

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512:
      return "avx512";
    case CpuIsa::kAvx2:
      return "avx2";
    case CpuIsa::kBaseline:
      break;
  }
  return "sse";
}

CpuIsa detect_cpu_isa() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return CpuIsa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CpuIsa::kAvx2;
#endif
  return CpuIsa::kBaseline;
}

bool cpu_has_avx512_bf16() {
#if defined(__x86_64__)
  // The bf16 kernels also use AVX512-BW; __builtin_cpu_supports checks that the OS saves the state.
  static const bool has =
      __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
  return has;
#else
  return false;
#endif
}

bool is_pre_avx2_openblas_core(std::string_view core) {
  std::string lower(core);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  for (const char* modern : {"haswell", "zen", "skylakex", "cooperlake", "sapphirerapids"})
    if (lower == modern) return false;
  return true;
}

bool is_avx512_openblas_core(std::string_view core) {
  std::string lower(core);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  for (const char* family : {"skylakex", "cooperlake", "sapphirerapids"})
    if (lower == family) return true;
  return false;
}

const char* openblas_coretype_for(CpuIsa cpu) {
  return cpu == CpuIsa::kAvx512 ? "SKYLAKEX" : cpu == CpuIsa::kAvx2 ? "HASWELL" : "";
}

std::string BlasKernelInfo::description() const {
  return core.empty() ? engine : engine + " " + core;
}

BlasKernelInfo blas_kernel_info() {
  BlasKernelInfo info;
  info.cpu = detect_cpu_isa();
#if defined(MOAI_BLAS_OPENBLAS)
  info.engine = "openblas";
  const char* core = openblas_get_corename();
  info.core = core ? core : "unknown";
  info.pre_avx2_core = is_pre_avx2_openblas_core(info.core);
  info.avx512_core = is_avx512_openblas_core(info.core);
#else
  info.engine = "blis";  // BLIS dispatches on the CPU itself (its configure-time family list)
  info.avx512_core = info.cpu == CpuIsa::kAvx512;
#endif
  return info;
}

void match_blas_kernels(char** argv) {
  const BlasKernelInfo info = blas_kernel_info();
  if (!info.mismatch()) return;
  if (const char* set = std::getenv("OPENBLAS_CORETYPE")) {
    MOAI_WARN("OPENBLAS_CORETYPE="
              << set << " selects OpenBLAS's " << info.core << " kernels on an "
              << cpu_isa_name(info.cpu)
              << " CPU (kept, as the environment asks; matmuls run 3-5x slower)");
    return;
  }
  ::setenv("OPENBLAS_CORETYPE", openblas_coretype_for(info.cpu), 1);
  ::execv("/proc/self/exe", argv);
  MOAI_WARN("OpenBLAS runs " << info.core << " kernels on an " << cpu_isa_name(info.cpu)
                             << " CPU and re-executing with OPENBLAS_CORETYPE failed; set "
                             << "OPENBLAS_CORETYPE=" << openblas_coretype_for(info.cpu));
}

}  // namespace moai::ops
