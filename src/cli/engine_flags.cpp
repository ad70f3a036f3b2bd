#include "cli/engine_flags.h"

#include <unistd.h>

#include <cstdlib>

#include "moai/core/error.h"
#include "moai/core/log.h"
#include "moai/ops/blas_kernels.h"

namespace moai::cli {

void add_engine_flags(CLI::App* cmd, EngineFlags& flags, const std::string& precision_default) {
  cmd->add_option("--device", flags.device,
                  "auto, cpu, cuda or cuda:N (auto: cuda when built with it and a GPU is present)")
      ->capture_default_str();
  cmd->add_option("--precision", flags.precision,
                  "fp32 or bf16 (mixed precision) [default: " + precision_default + "]");
  cmd->add_flag("--bf16", flags.bf16, "same as --precision bf16");
  cmd->add_flag("--fp16", flags.fp16, "not supported yet (exit 2); use --precision bf16");
}

ops::Precision engine_precision(const EngineFlags& flags, ops::Precision fallback) {
  if (flags.fp16)
    throw InputError(
        "--fp16: fp16 is not supported yet (it needs loss scaling); use --precision bf16");
  if (flags.bf16) return ops::Precision::kBf16;
  if (flags.precision.empty()) return fallback;
  return ops::parse_precision(flags.precision, "--precision");
}

std::optional<ops::Precision> requested_precision(const EngineFlags& flags) {
  if (!flags.fp16 && !flags.bf16 && flags.precision.empty()) return std::nullopt;
  return engine_precision(flags, ops::Precision::kFp32);
}

ops::Precision precision_from_torch_dtype(const std::string& torch_dtype) {
  return torch_dtype == "bfloat16" ? ops::Precision::kBf16 : ops::Precision::kFp32;
}

std::unique_ptr<ops::Backend> make_engine_backend(const EngineFlags& flags, int threads,
                                                  ops::Precision precision) {
  std::unique_ptr<ops::Backend> backend =
      ops::make_backend(ops::parse_device(flags.device, "--device"), threads);
  MOAI_INFO("engine: " << backend->name() << ", precision " << ops::precision_name(precision));
  return backend;
}

}  // namespace moai::cli
