#pragma once
// "Never a fallback kernel by accident": which kernels the CPU matmul engine runs, checked against
// the CPU's instruction set. Debian's OpenBLAS 0.3.21 does not recognise recent Xeons and runs its
// generic Prescott (SSE3) kernels, 3-5x slower than its SkylakeX ones on the same CPU; moai detects
// that and re-executes the program once with OPENBLAS_CORETYPE set, unless the environment
// already sets one.
#include <string>
#include <string_view>

namespace moai::ops {

enum class CpuIsa { kBaseline, kAvx2, kAvx512 };
const char* cpu_isa_name(CpuIsa isa);  // "sse", "avx2", "avx512"
CpuIsa detect_cpu_isa();               // cpuid via __builtin_cpu_supports
// True when the CPU has AVX512-BF16 (vdpbf16ps, vcvtne2ps2bf16) and AVX512-BW: what the bf16
// kernels (ops/cpu/bf16*.h) need.
bool cpu_has_avx512_bf16();

struct BlasKernelInfo {
  std::string engine;  // "openblas" or "blis"
  std::string core;    // OpenBLAS: openblas_get_corename() ("Prescott", "SkylakeX"); BLIS: ""
  CpuIsa cpu = CpuIsa::kBaseline;
  bool pre_avx2_core = false;  // the engine reports a core older than AVX2
  bool avx512_core = false;    // the engine runs AVX-512 kernels (the bf16 matmul engine rule)
  // The CPU has AVX2 or AVX-512 but the engine runs pre-AVX2 kernels.
  bool mismatch() const { return pre_avx2_core && cpu != CpuIsa::kBaseline; }
  std::string description() const;  // "openblas SkylakeX" / "blis"
};
BlasKernelInfo blas_kernel_info();

// OpenBLAS core names with AVX2 or newer kernels are Haswell, Zen, SkylakeX, CooperLake,
// SapphireRapids (and the ARM/POWER ones, not used here); every other x86 core is older.
bool is_pre_avx2_openblas_core(std::string_view core);
// The OpenBLAS cores with AVX-512 kernels: SkylakeX, CooperLake, SapphireRapids.
bool is_avx512_openblas_core(std::string_view core);
// The OPENBLAS_CORETYPE that matches `cpu` ("SKYLAKEX" for AVX-512, "HASWELL" for AVX2).
const char* openblas_coretype_for(CpuIsa cpu);

// Call first thing in main() of every program that runs matmuls (moai, the benchmarks): when the
// BLAS runs pre-AVX2 kernels on an AVX2/AVX-512 CPU and OPENBLAS_CORETYPE is unset, sets it and
// re-executes the program once (OpenBLAS reads it only at load time). A core type the environment
// already sets is kept, with a warning. Returns only when no re-execution happened.
void match_blas_kernels(char** argv);

}  // namespace moai::ops
