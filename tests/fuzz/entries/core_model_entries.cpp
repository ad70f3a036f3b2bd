// Entry points for the core and model parsers: safetensors headers and config.json.
#include <span>
#include <string>
#include <vector>

#include "fuzz_entries.h"
#include "fuzz_util.h"
#include "moai/core/error.h"
#include "moai/core/safetensors.h"
#include "moai/model/qwen3_config.h"

namespace moai::fuzz {

namespace {
// Converts every small tensor, so the per-dtype readers see the fuzzed bytes too.
void touch_tensors(const SafetensorsFile& file) {
  for (const auto& tensor : file.tensors()) {
    const int64_t n = tensor.numel();
    if (n > 4096) continue;
    if (tensor.dtype == "F32" || tensor.dtype == "F16" || tensor.dtype == "BF16" ||
        tensor.dtype == "F64") {
      std::vector<float> out(static_cast<size_t>(n));
      tensor.to_f32(out.data(), "fuzz");
    } else if (tensor.dtype != "BOOL") {
      std::vector<int64_t> out(static_cast<size_t>(n));
      tensor.to_i64(out.data(), "fuzz");
    }
  }
}
}  // namespace

int safetensors_one(const uint8_t* data, size_t size) {
  try {
    const SafetensorsFile file(std::span<const uint8_t>(data, size), "fuzz.safetensors");
    touch_tensors(file);
    for (const auto& tensor : file.tensors()) (void)file.get(tensor.name);
  } catch (const InputError&) {
  }
  return 0;
}

int qwen3_config_one(const uint8_t* data, size_t size) {
  try {
    const auto config = model::parse_qwen3_config(std::string(as_text(data, size)), "config.json");
    model::validate_qwen3_config(config, "config.json");
    (void)model::model_stats(config, 128);
    (void)model::parse_qwen3_config(model::qwen3_config_to_json(config), "round-trip");
  } catch (const InputError&) {
  }
  return 0;
}

}  // namespace moai::fuzz
