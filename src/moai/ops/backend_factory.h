#pragma once
// The one place that builds a Backend: every command that computes (train, bench train, model
// verify, generate, chat, serve) turns its --device flag into a DeviceSpec and calls make_backend.
#include <memory>
#include <string>

#include "moai/ops/ops.h"

namespace moai::ops {

enum class DeviceChoice { kAuto, kCpu, kCuda };

struct DeviceSpec {
  DeviceChoice choice = DeviceChoice::kAuto;
  int index = 0;  // the CUDA device ordinal (cuda:N)
};

// "auto", "cpu", "cuda" or "cuda:N"; InputError naming `where` otherwise.
DeviceSpec parse_device(const std::string& text, const std::string& where);
std::string device_spec_name(const DeviceSpec& spec);  // "auto", "cpu", "cuda:1"

// True when this binary was built with the CUDA backend (-DMOAI_CUDA=ON, `make cuda`).
bool cuda_built();

// auto = cuda:0 when built with CUDA and a GPU is present, else cpu. cuda in a build without CUDA
// is an InputError that says how to build with CUDA. `threads` is the CPU backend's OpenMP thread
// count (0 = default_thread_count()).
std::unique_ptr<Backend> make_backend(const DeviceSpec& spec, int threads = 0);

// The precision inference uses when --precision is not given: the checkpoint's torch_dtype on an
// accelerator and on a CPU with AVX512-BF16 (there bf16 decode runs ~1.8x fp32: it streams half the
// bytes); fp32 on other CPUs, where bf16 would be converted (docs/model.md "Precision").
Precision default_inference_precision(const std::string& torch_dtype, DeviceKind device);

}  // namespace moai::ops
