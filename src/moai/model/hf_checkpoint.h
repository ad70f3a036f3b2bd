#pragma once
// HuggingFace model directories in and out: config.json + model.safetensors (or shards with
// model.safetensors.index.json). Tensor names are HF Qwen3's; lm_head.weight only when untied (a
// tied checkpoint that still carries lm_head.weight is accepted and the extra tensor ignored).
// BF16/F16/F32 files are read and converted to fp32.
#include <cstdint>
#include <string>
#include <vector>

#include "moai/model/param_layout.h"
#include "moai/model/qwen3_config.h"

namespace moai::model {

class Qwen3Model;

// Fills host_params (layout.total_floats()) from the safetensors file(s) in `dir`. Every tensor of
// the layout must be present with the right shape (InputError naming file and tensor otherwise);
// the original project's "mlp.swiglu.*" names are accepted as aliases. Unknown extra tensors are
// counted and logged.
void load_hf_weights(const std::string& dir, const ParamLayout& layout, float* host_params);

// The same, into a new host buffer of layout.total_floats().
std::vector<float> read_hf_params(const std::string& dir, const ParamLayout& layout);

// The one way a model gets an HF directory's weights: read them to the host and set_params.
void load_hf_weights_into(Qwen3Model& model, const std::string& dir);

struct SaveOptions {
  std::string dtype = "F32";  // F32 or BF16
  int64_t max_shard_bytes =
      5LL * 1024 * 1024 * 1024;  // larger models get model-0000N-of-0000M.safetensors
};

// Writes config.json and the weights into `dir` (created if missing). Each file is written
// atomically.
void save_hf_model(const std::string& dir, const Qwen3Config& config, const ParamLayout& layout,
                   const float* host_params, const SaveOptions& options = {});

}  // namespace moai::model
