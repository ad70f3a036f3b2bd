#pragma once
// RoPE frequency tables, computed on the host. Plain RoPE, linear, dynamic (NTK) and YaRN exactly
// as HF transformers' modeling_rope_utils (_compute_default/linear/dynamic/yarn_rope_parameters):
// inv_freq and the attention factor, then cos/sin tables [max_pos, D/2] with the attention factor
// multiplied in.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moai::ops {

enum class RopeType { kDefault, kLinear, kDynamic, kYarn };

struct RopeScaling {
  RopeType type = RopeType::kDefault;
  double factor = 1.0;
  // YaRN / dynamic: the pre-extension context. Defaults to max_position_embeddings when absent.
  std::optional<int64_t> original_max_position_embeddings;
  double beta_fast = 32.0;                 // YaRN
  double beta_slow = 1.0;                  // YaRN
  std::optional<double> attention_factor;  // YaRN: explicit override
  std::optional<double>
      mscale;  // YaRN: get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim)
  std::optional<double> mscale_all_dim;
  bool truncate = true;  // YaRN (newer transformers): floor/ceil the correction range
};

struct RopeParams {
  int64_t head_dim = 0;
  double theta = 10000.0;
  int64_t max_position_embeddings = 0;
  RopeScaling scaling;
};

struct RopeTables {
  std::vector<float> inv_freq;  // [D/2]
  float attention_factor = 1.0f;
  std::vector<float> cos;  // [max_pos, D/2], times attention_factor
  std::vector<float> sin;  // [max_pos, D/2], times attention_factor
  int64_t max_pos = 0;
};

// inv_freq and attention factor. `seq_len` matters only for dynamic scaling (HF recomputes the base
// when the sequence is longer than max_position_embeddings); pass 0 for the static tables.
std::vector<float> rope_inv_freq(const RopeParams& params, int64_t seq_len,
                                 float* attention_factor);

// cos/sin tables for positions [0, max_pos); seq_len as for rope_inv_freq (dynamic scaling only).
RopeTables rope_tables(const RopeParams& params, int64_t max_pos, int64_t seq_len = 0);

// Parses "default"/"linear"/"dynamic"/"yarn" (InputError naming `where` otherwise).
RopeType rope_type_from_string(const std::string& name, const std::string& where);
const char* rope_type_name(RopeType type);

}  // namespace moai::ops
