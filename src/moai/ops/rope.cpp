// RoPE frequencies as HF transformers computes them (modeling_rope_utils.py). Precision follows
// torch: exponents, powers and the YaRN ramp in float32, the correction range in double (python
// floats).
#include "moai/ops/rope.h"

#include <algorithm>
#include <cmath>

#include "moai/core/error.h"

namespace moai::ops {
namespace {

// base ** (arange(0, dim, 2) / dim) in float32, as torch evaluates it.
std::vector<float> pos_freqs(double base, int64_t dim) {
  std::vector<float> out(static_cast<size_t>(dim / 2));
  for (int64_t i = 0; i < dim / 2; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    out[static_cast<size_t>(i)] = std::pow(static_cast<float>(base), exponent);
  }
  return out;
}

double yarn_mscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

double correction_dim(double rotations, int64_t dim, double base, double original_max) {
  return (double(dim) * std::log(original_max / (rotations * 2.0 * M_PI))) / (2.0 * std::log(base));
}

}  // namespace

std::vector<float> rope_inv_freq(const RopeParams& params, int64_t seq_len,
                                 float* attention_factor) {
  const int64_t dim = params.head_dim;
  const RopeScaling& scaling = params.scaling;
  double base = params.theta;
  double factor_out = 1.0;
  std::vector<float> inv_freq;
  switch (scaling.type) {
    case RopeType::kDefault:
    case RopeType::kLinear: {
      for (float freq : pos_freqs(base, dim)) inv_freq.push_back(1.0f / freq);
      if (scaling.type == RopeType::kLinear)
        for (float& value : inv_freq) value /= static_cast<float>(scaling.factor);
      break;
    }
    case RopeType::kDynamic: {
      const int64_t max_pos = params.max_position_embeddings;
      const double length = seq_len > max_pos ? double(seq_len) : double(max_pos);
      const double f = scaling.factor;
      base =
          base * std::pow(f * length / double(max_pos) - (f - 1.0), double(dim) / double(dim - 2));
      for (float freq : pos_freqs(base, dim)) inv_freq.push_back(1.0f / freq);
      break;
    }
    case RopeType::kYarn: {
      const double f = scaling.factor;
      const double original =
          double(scaling.original_max_position_embeddings.value_or(params.max_position_embeddings));
      if (scaling.attention_factor) {
        factor_out = *scaling.attention_factor;
      } else if (scaling.mscale && scaling.mscale_all_dim && *scaling.mscale != 0 &&
                 *scaling.mscale_all_dim != 0) {
        factor_out = yarn_mscale(f, *scaling.mscale) / yarn_mscale(f, *scaling.mscale_all_dim);
      } else {
        factor_out = yarn_mscale(f, 1.0);
      }
      double low = correction_dim(scaling.beta_fast, dim, base, original);
      double high = correction_dim(scaling.beta_slow, dim, base, original);
      if (scaling.truncate) {
        low = std::floor(low);
        high = std::ceil(high);
      }
      low = std::max(low, 0.0);
      high = std::min(high, double(dim - 1));
      if (low == high) high += 0.001;
      const std::vector<float> freqs = pos_freqs(base, dim);
      for (int64_t i = 0; i < dim / 2; ++i) {
        const float ramp = std::clamp(
            (static_cast<float>(i) - static_cast<float>(low)) / static_cast<float>(high - low),
            0.0f, 1.0f);
        const float extrapolation_factor = 1.0f - ramp;
        const float extrapolation = 1.0f / freqs[size_t(i)];
        const float interpolation = 1.0f / (static_cast<float>(f) * freqs[size_t(i)]);
        inv_freq.push_back(interpolation * (1.0f - extrapolation_factor) +
                           extrapolation * extrapolation_factor);
      }
      break;
    }
  }
  if (attention_factor) *attention_factor = static_cast<float>(factor_out);
  return inv_freq;
}

RopeTables rope_tables(const RopeParams& params, int64_t max_pos, int64_t seq_len) {
  RopeTables tables;
  tables.max_pos = max_pos;
  tables.inv_freq = rope_inv_freq(params, seq_len, &tables.attention_factor);
  const int64_t half = params.head_dim / 2;
  tables.cos.resize(size_t(max_pos * half));
  tables.sin.resize(size_t(max_pos * half));
  for (int64_t pos = 0; pos < max_pos; ++pos) {
    for (int64_t i = 0; i < half; ++i) {
      // torch: angle = float(pos) * inv_freq in float32, then cos/sin in float32, times the factor.
      const float angle = static_cast<float>(pos) * tables.inv_freq[size_t(i)];
      tables.cos[size_t(pos * half + i)] =
          static_cast<float>(std::cos(double(angle))) * tables.attention_factor;
      tables.sin[size_t(pos * half + i)] =
          static_cast<float>(std::sin(double(angle))) * tables.attention_factor;
    }
  }
  return tables;
}

RopeType rope_type_from_string(const std::string& name, const std::string& where) {
  if (name == "default" || name.empty()) return RopeType::kDefault;
  if (name == "linear") return RopeType::kLinear;
  if (name == "dynamic" || name == "ntk") return RopeType::kDynamic;
  if (name == "yarn") return RopeType::kYarn;
  throw_input_error(where, "rope_scaling type \"" + name +
                               "\" is not supported, expected default, linear, dynamic or yarn");
}

const char* rope_type_name(RopeType type) {
  switch (type) {
    case RopeType::kDefault:
      return "default";
    case RopeType::kLinear:
      return "linear";
    case RopeType::kDynamic:
      return "dynamic";
    case RopeType::kYarn:
      return "yarn";
  }
  return "default";
}

}  // namespace moai::ops
