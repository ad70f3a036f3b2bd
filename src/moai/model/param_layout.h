#pragma once
// The parameter table: every Qwen3 tensor once, with its HF name and shape, in the order it sits in
// the one contiguous parameter buffer. Gradients and AdamW moments are buffers of the same size cut
// by the same table.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "moai/model/qwen3_config.h"

namespace moai::model {

enum class ParamKind {
  kEmbedding,
  kLmHead,
  kFinalNorm,
  kInputNorm,
  kQProj,
  kKProj,
  kVProj,
  kOProj,
  kQNorm,
  kKNorm,
  kPostNorm,
  kGateProj,
  kUpProj,
  kDownProj,
};

struct ParamInfo {
  std::string name;  // HF name, e.g. "model.layers.3.self_attn.q_proj.weight"
  ParamKind kind;
  int64_t layer = -1;          // -1 for embedding, final norm, lm_head
  std::vector<int64_t> shape;  // [out, in] for linear weights (PyTorch layout)
  int64_t offset = 0;          // in floats from the buffer start (64-byte aligned)
  int64_t numel = 0;
  bool weight_decay() const { return shape.size() >= 2; }  // AdamW decays 2-D tensors only
};

class ParamLayout {
 public:
  explicit ParamLayout(const Qwen3Config& config);

  const std::vector<ParamInfo>& params() const { return params_; }
  int64_t total_floats() const { return total_floats_; }  // buffer size incl. alignment padding
  int64_t num_parameters() const;                         // sum of numel
  const ParamInfo* find(const std::string& name) const;   // null when absent
  // Per-layer offsets (for the model's forward), -1 when not present.
  int64_t offset_of(ParamKind kind, int64_t layer = -1) const;
  bool tied() const { return tied_; }

 private:
  std::vector<ParamInfo> params_;
  int64_t total_floats_ = 0;
  bool tied_ = false;
};

}  // namespace moai::model
