#pragma once
// --device and --precision (with the original's --bf16 and --fp16) for every command that computes:
// bench train, model verify, generate, chat, serve (train takes them through TrainConfig).
#include <memory>
#include <optional>
#include <string>

#include "cli/command.h"
#include "moai/ops/backend_factory.h"

namespace moai::cli {

struct EngineFlags {
  std::string device = "auto";
  std::string precision;  // empty: the command's default
  bool bf16 = false;
  bool fp16 = false;
};

// Adds --device, --precision, --bf16, --fp16; `precision_default` is said in the help.
void add_engine_flags(CLI::App* cmd, EngineFlags& flags, const std::string& precision_default);

// The precision the flags ask for, else `fallback` (--fp16: InputError, exit 2).
ops::Precision engine_precision(const EngineFlags& flags, ops::Precision fallback);
// The precision the flags ask for, or nothing when none is given (--fp16: InputError).
std::optional<ops::Precision> requested_precision(const EngineFlags& flags);
// Inference default: the checkpoint's torch_dtype ("bfloat16" -> bf16, anything else fp32).
ops::Precision precision_from_torch_dtype(const std::string& torch_dtype);

// make_backend for --device, then logs "engine: <backend>, precision <p>".
std::unique_ptr<ops::Backend> make_engine_backend(const EngineFlags& flags, int threads,
                                                  ops::Precision precision);

}  // namespace moai::cli
