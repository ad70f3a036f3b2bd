// HF directories in and out, config.json parsing (HF keys and the original's aliases), and
// safetensors against hostile files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/safetensors.h"
#include "moai/model/hf_checkpoint.h"
#include "moai/model/qwen3_model.h"
#include "test_paths.h"

namespace moai::model {
namespace {

const char* kTinyConfig =
    R"({"model_type": "qwen3", "vocab_size": 50, "hidden_size": 16, "intermediate_size": 24,
  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8,
  "max_position_embeddings": 32, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": false})";

std::vector<float> random_params(const ParamLayout& layout, uint64_t seed) {
  auto backend = ops::make_cpu_backend(1);
  Qwen3Config config = parse_qwen3_config(kTinyConfig, "test");
  Qwen3Model model(config, *backend, {1, 4, false, false});
  model.init_weights(seed);
  std::vector<float> params(size_t(layout.total_floats()));
  model.get_params(params.data());
  return params;
}

TEST(Qwen3Config, ParsesHfKeysAndOriginalAliases) {
  Qwen3Config c = parse_qwen3_config(kTinyConfig, "test");
  EXPECT_EQ(c.head_dim, 8);
  EXPECT_FALSE(c.tie_word_embeddings);
  // The original project: model_type "moai", no head_dim, use_qk_norm, rope_scaling.type.
  c = parse_qwen3_config(
      R"({"model_type": "moai", "vocab_size": 100, "hidden_size": 3840, "intermediate_size": 10240,
      "num_hidden_layers": 2, "num_attention_heads": 30, "num_key_value_heads": 5, "use_qk_norm": true,
      "hidden_act": "swiglu", "rope_scaling": {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}})",
      "orig");
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.rope_scaling.type, ops::RopeType::kYarn);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings.value(), 32768);
  // Round trip through our writer.
  const Qwen3Config again = parse_qwen3_config(qwen3_config_to_json(c), "again");
  EXPECT_EQ(again.head_dim, 128);
  EXPECT_EQ(again.rope_scaling.type, ops::RopeType::kYarn);
  EXPECT_EQ(again.rope_scaling.factor, 4.0);
}

TEST(Qwen3Config, ReadsTransformers5RopeParameters) {
  const std::string base =
      R"("model_type": "qwen3", "vocab_size": 10, "hidden_size": 16, "intermediate_size": 8,
      "num_hidden_layers": 1, "num_attention_heads": 4, "head_dim": 4)";
  Qwen3Config c = parse_qwen3_config(
      "{" + base + R"(, "rope_parameters": {"rope_type": "default", "rope_theta": 5000.0}})", "v5");
  EXPECT_EQ(c.rope_theta, 5000.0);
  EXPECT_EQ(c.rope_scaling.type, ops::RopeType::kDefault);
  c = parse_qwen3_config("{" + base +
                             R"(, "rope_parameters": {"rope_type": "yarn", "rope_theta": 1e6,
      "factor": 4.0, "original_max_position_embeddings": 8192}})",
                         "v5");
  EXPECT_EQ(c.rope_theta, 1e6);
  EXPECT_EQ(c.rope_scaling.type, ops::RopeType::kYarn);
  EXPECT_EQ(c.rope_scaling.factor, 4.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings.value(), 8192);
  EXPECT_THROW(parse_qwen3_config("{" + base + R"(, "rope_parameters": 3})", "v5"), InputError);
}

TEST(Qwen3Config, InvalidShapesAreInputErrorsNamingTheField) {
  auto expect_error = [](const std::string& json, const std::string& needle) {
    try {
      parse_qwen3_config(json, "cfg.json");
      ADD_FAILURE() << "no error for " << json;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("cfg.json"), std::string::npos) << e.what();
    }
  };
  const std::string base =
      R"("vocab_size": 10, "hidden_size": 16, "intermediate_size": 8, "num_hidden_layers": 1)";
  expect_error("{" + base + R"(, "num_attention_heads": 4, "num_key_value_heads": 3})",
               "not divisible");
  expect_error("{" + base + R"(, "num_attention_heads": 3})", "head_dim");
  expect_error("{" + base + R"(, "num_attention_heads": 4, "head_dim": 7})", "even");
  expect_error(R"({"hidden_size": 16})", "vocab_size");
  expect_error(
      "{" + base +
          R"(, "num_attention_heads": 4, "rope_scaling": {"rope_type": "longrope", "factor": 2}})",
      "longrope");
  expect_error("{" + base + R"(, "num_attention_heads": 4, "rope_scaling": {"rope_type": "yarn"}})",
               "factor");
  expect_error("{" + base + R"(, "num_attention_heads": 4, "use_qk_norm": false})", "use_qk_norm");
  expect_error("{" + base + R"(, "num_attention_heads": 4, "model_type": "llama"})", "model_type");
  expect_error("{" + base + R"(, "num_attention_heads": "4"})", "num_attention_heads");
  expect_error("not json", "JSON");
}

TEST(HfCheckpoint, SaveThenLoadIsBitExact) {
  const Qwen3Config config = parse_qwen3_config(kTinyConfig, "test");
  const ParamLayout layout(config);
  const std::vector<float> params = random_params(layout, 3);
  const std::string dir = test::temp_dir("hf_roundtrip");
  save_hf_model(dir, config, layout, params.data());
  EXPECT_TRUE(file_exists(dir + "/config.json"));
  const Qwen3Config loaded_config = load_qwen3_config(dir);
  EXPECT_EQ(loaded_config.head_dim, config.head_dim);
  std::vector<float> loaded(params.size(), -1.0f);
  load_hf_weights(dir, ParamLayout(loaded_config), loaded.data());
  for (const ParamInfo& info : layout.params())
    EXPECT_EQ(0, std::memcmp(loaded.data() + info.offset, params.data() + info.offset,
                             size_t(info.numel) * 4))
        << info.name;
  // The file lists every HF name, lm_head included (untied).
  SafetensorsFile file(dir + "/model.safetensors");
  EXPECT_NE(file.find("lm_head.weight"), nullptr);
  EXPECT_NE(file.find("model.layers.1.self_attn.k_norm.weight"), nullptr);
  EXPECT_EQ(file.metadata().at("format"), "pt");
}

TEST(HfCheckpoint, ShardedAndBf16DirectoriesLoad) {
  const Qwen3Config config = parse_qwen3_config(kTinyConfig, "test");
  const ParamLayout layout(config);
  const std::vector<float> params = random_params(layout, 4);
  const std::string dir = test::temp_dir("hf_sharded");
  save_hf_model(dir, config, layout, params.data(), {"BF16", 2000});
  EXPECT_TRUE(file_exists(dir + "/model.safetensors.index.json"));
  EXPECT_FALSE(file_exists(dir + "/model.safetensors"));
  std::vector<float> loaded(params.size());
  load_hf_weights(dir, layout, loaded.data());
  for (const ParamInfo& info : layout.params())
    for (int64_t i = 0; i < info.numel; ++i) {
      const float original = params[size_t(info.offset + i)];
      EXPECT_EQ(loaded[size_t(info.offset + i)], bf16_to_f32(f32_to_bf16(original)));
      EXPECT_NEAR(loaded[size_t(info.offset + i)], original, std::fabs(original) * (1.0f / 128));
    }
}

TEST(HfCheckpoint, MissingOrMisshapedTensorsAreInputErrors) {
  const Qwen3Config config = parse_qwen3_config(kTinyConfig, "test");
  const ParamLayout layout(config);
  std::vector<float> params = random_params(layout, 5);
  const std::string dir = test::temp_dir("hf_missing");
  SafetensorsWriter writer;
  for (const ParamInfo& info : layout.params())
    if (info.name != "model.norm.weight")
      writer.add_f32(info.name, info.shape, params.data() + info.offset);
  writer.write(dir + "/model.safetensors");
  try {
    load_hf_weights(dir, layout, params.data());
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("model.norm.weight"), std::string::npos) << e.what();
  }
  // A config with another hidden size does not match the file's shapes.
  Qwen3Config other = config;
  other.intermediate_size = 32;
  std::vector<float> other_params(size_t(ParamLayout(other).total_floats()));
  const std::string dir2 = test::temp_dir("hf_shape");
  save_hf_model(dir2, config, layout, params.data());
  EXPECT_THROW(load_hf_weights(dir2, ParamLayout(other), other_params.data()), InputError);
}

TEST(HfCheckpoint, OriginalSwigluNamesAreAccepted) {
  const Qwen3Config config = parse_qwen3_config(kTinyConfig, "test");
  const ParamLayout layout(config);
  const std::vector<float> params = random_params(layout, 6);
  const std::string dir = test::temp_dir("hf_swiglu");
  SafetensorsWriter writer;
  for (const ParamInfo& info : layout.params()) {
    std::string name = info.name;
    const size_t at = name.find(".mlp.");
    if (at != std::string::npos) name = name.substr(0, at) + ".mlp.swiglu." + name.substr(at + 5);
    writer.add_f32(name, info.shape, params.data() + info.offset);
  }
  writer.write(dir + "/model.safetensors");
  std::vector<float> loaded(params.size());
  load_hf_weights(dir, layout, loaded.data());
  EXPECT_EQ(0, std::memcmp(loaded.data(), params.data(), params.size() * 4));
}

// ---- safetensors against hostile files
// ---------------------------------------------------------------------
std::vector<uint8_t> make_file(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> bytes(8 + header.size() + data_bytes, 0);
  const uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) bytes[size_t(i)] = uint8_t(length >> (8 * i));
  std::memcpy(bytes.data() + 8, header.data(), header.size());
  return bytes;
}

void expect_rejected(const std::vector<uint8_t>& bytes, const std::string& needle) {
  try {
    SafetensorsFile file(std::span<const uint8_t>(bytes.data(), bytes.size()),
                         "hostile.safetensors");
    ADD_FAILURE() << "accepted a bad file (expected: " << needle << ")";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("hostile.safetensors"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, RejectsHostileFiles) {
  const std::string good = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  EXPECT_NO_THROW(SafetensorsFile(std::span<const uint8_t>(make_file(good, 8)), "ok"));
  expect_rejected({1, 2, 3}, "at least an 8-byte");
  std::vector<uint8_t> truncated = make_file(good, 8);
  truncated.resize(20);  // header cut short
  expect_rejected(truncated, "header length");
  std::vector<uint8_t> huge = make_file(good, 8);
  huge[7] = 0x7f;  // header length ~ 2^63
  expect_rejected(huge, "header length");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", 8), "JSON");
  expect_rejected(make_file(R"([1,2])", 0), "object");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}})", 8),
                  "outside");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,4]}})", 8),
                  "outside");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
                  "needs 12 bytes");
  expect_rejected(make_file(R"({"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,8]}})", 8),
                  "needs 4 bytes");
  expect_rejected(make_file(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8),
                  "unknown dtype");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
                  "shape");
  expect_rejected(
      make_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}})",
                8),
      "too large");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", 8),
                  "data_offsets");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                            R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                            12),
                  "overlaps");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
                  "hole");
  expect_rejected(make_file(good, 12), "not indexed");
  expect_rejected(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                            R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                            8),
                  "twice");
  expect_rejected(
      make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":1}})",
                8),
      "__metadata__");
  expect_rejected(make_file(R"({"a":"x"})", 0), "not an object");
}

TEST(Safetensors, FuzzedHeadersNeverCrash) {
  // Flip bytes of a valid file: every outcome is either a parse or an InputError, never a crash or
  // other error.
  SafetensorsWriter writer;
  std::vector<float> values = {1, 2, 3, 4, 5, 6};
  writer.add_f32("x", {2, 3}, values.data());
  writer.add_f32("y", {}, values.data());
  const std::string dir = test::temp_dir("st_fuzz");
  writer.write(dir + "/f.safetensors");
  const std::string original = read_file(dir + "/f.safetensors");
  uint64_t state = 12345;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string mutated = original;
    for (int flips = 0; flips < 1 + trial % 4; ++flips) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      const size_t at = size_t(state >> 33) % mutated.size();
      mutated[at] = char(state >> 13);
    }
    if (trial % 7 == 0) mutated.resize(size_t(state >> 40) % mutated.size());
    try {
      SafetensorsFile file(std::span<const uint8_t>(
                               reinterpret_cast<const uint8_t*>(mutated.data()), mutated.size()),
                           "fuzz");
      for (const SafetensorsTensor& tensor : file.tensors()) {
        std::vector<float> out(size_t(tensor.numel()));
        if (tensor.dtype == "F32" || tensor.dtype == "BF16" || tensor.dtype == "F16" ||
            tensor.dtype == "F64")
          tensor.to_f32(out.data(), "fuzz");
      }
    } catch (const InputError&) {
    }
  }
}

TEST(Safetensors, WriterRoundTripWithScalarsAndMetadata) {
  SafetensorsWriter writer;
  const float loss = 2.5f;
  const std::vector<int64_t> ids = {1, -100, 3};
  writer.add_f32("loss", {}, &loss);
  writer.add("ids", "I64", {3}, ids.data(), 24);
  writer.set_metadata("format", "pt");
  const std::string dir = test::temp_dir("st_roundtrip");
  writer.write(dir + "/a.safetensors");
  SafetensorsFile file(dir + "/a.safetensors");
  float read_loss = 0;
  file.get("loss").to_f32(&read_loss, "a");
  EXPECT_EQ(read_loss, 2.5f);
  EXPECT_TRUE(file.get("loss").shape.empty());
  std::vector<int64_t> read_ids(3);
  file.get("ids").to_i64(read_ids.data(), "a");
  EXPECT_EQ(read_ids, ids);
  EXPECT_THROW(file.get("missing"), InputError);
  EXPECT_THROW(file.get("ids").to_f32(&read_loss, "a"), InputError);
}

TEST(Safetensors, HalfPrecisionConversions) {
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(1.00390625f), 0x3f80);  // halfway: rounds to even
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x0001), 5.9604644775390625e-8f);  // smallest subnormal
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
}

}  // namespace
}  // namespace moai::model
