#include "moai/ops/backend_factory.h"

#include <cstdlib>

#include "moai/core/error.h"
#include "moai/ops/blas_kernels.h"

#ifdef MOAI_HAVE_CUDA
#include "moai/ops/cuda/cuda_backend.h"
#endif

namespace moai::ops {

DeviceSpec parse_device(const std::string& text, const std::string& where) {
  if (text == "auto") return {DeviceChoice::kAuto, 0};
  if (text == "cpu") return {DeviceChoice::kCpu, 0};
  if (text == "cuda") return {DeviceChoice::kCuda, 0};
  if (text.rfind("cuda:", 0) == 0) {
    const std::string digits = text.substr(5);
    char* end = nullptr;
    const long index = digits.empty() ? -1 : std::strtol(digits.c_str(), &end, 10);
    if (index >= 0 && index < 1024 && end && *end == '\0') return {DeviceChoice::kCuda, int(index)};
  }
  throw InputError(where + ": unknown device '" + text + "', expected auto, cpu, cuda or cuda:N");
}

std::string device_spec_name(const DeviceSpec& spec) {
  switch (spec.choice) {
    case DeviceChoice::kAuto:
      return "auto";
    case DeviceChoice::kCpu:
      return "cpu";
    case DeviceChoice::kCuda:
      return "cuda:" + std::to_string(spec.index);
  }
  return "?";
}

bool cuda_built() {
#ifdef MOAI_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

std::unique_ptr<Backend> make_backend(const DeviceSpec& spec, int threads) {
#ifdef MOAI_HAVE_CUDA
  if (spec.choice == DeviceChoice::kCuda ||
      (spec.choice == DeviceChoice::kAuto && cuda_device_count() > 0))
    return make_cuda_backend({spec.index, true});
#else
  if (spec.choice == DeviceChoice::kCuda)
    throw InputError("--device " + device_spec_name(spec) +
                     ": this moai was built without CUDA; build it with `make cuda` "
                     "(cmake -DMOAI_CUDA=ON, needs the CUDA toolkit) and run build-cuda/moai");
#endif
  return make_cpu_backend(threads);
}

Precision default_inference_precision(const std::string& torch_dtype, DeviceKind device) {
  if (torch_dtype != "bfloat16") return Precision::kFp32;
  return device != DeviceKind::kCpu || cpu_has_avx512_bf16() ? Precision::kBf16 : Precision::kFp32;
}

}  // namespace moai::ops
