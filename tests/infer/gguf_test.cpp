#include "moai/infer/gguf.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/safetensors.h"
#include "test_paths.h"

namespace moai::infer {
namespace {

TEST(Gguf, F16ConversionRoundTripsEveryHalfValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f))));
      continue;
    }
    EXPECT_EQ(f32_to_f16(f), h) << "half 0x" << std::hex << h;
  }
}

TEST(Gguf, F16ConversionRoundsToNearestEven) {
  EXPECT_EQ(f32_to_f16(1.0f), 0x3C00);
  EXPECT_EQ(f32_to_f16(1.0f + 0x1.0p-11f), 0x3C00);               // halfway: stays even
  EXPECT_EQ(f32_to_f16(1.0f + 0x1.0p-11f + 0x1.0p-20f), 0x3C01);  // above halfway
  EXPECT_EQ(f32_to_f16(1.0f + 3 * 0x1.0p-11f), 0x3C02);           // halfway from odd: up to even
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);                        // overflows to infinity
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(-0x1.0p-25f), 0x8000);  // half the smallest subnormal: to zero
  EXPECT_EQ(f32_to_f16(0x1.8p-25f), 0x0001);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xC000);
}

TEST(Gguf, WriteThenReadBackMetadataAndTensors) {
  const std::string dir = test::temp_dir("gguf_roundtrip");
  const std::string path = dir + "/t.gguf";
  std::vector<float> w(3 * 5), norm(5);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.37f * static_cast<float>(i) - 2.0f;
  for (size_t i = 0; i < norm.size(); ++i) norm[i] = 1.0f + 0.01f * static_cast<float>(i);
  GgufWriter writer;
  writer.set("general.architecture", std::string("qwen3"));
  writer.set("general.alignment", uint32_t{32});
  writer.set("qwen3.rope.freq_base", 1e6f);
  writer.set("tokenizer.ggml.add_bos_token", false);
  writer.set("tokenizer.ggml.tokens", std::vector<std::string>{"a", "Ġb", "<|im_end|>"});
  writer.set("tokenizer.ggml.token_type", std::vector<int32_t>{1, 1, 3});
  writer.set("x.u64", uint64_t{1} << 40);
  writer.set("x.i32", int32_t{-5});
  writer.set("general.alignment", uint32_t{32});  // replaced, not duplicated
  writer.add_tensor("w32", {3, 5}, GgmlType::kF32, w.data());
  writer.add_tensor("w16", {3, 5}, GgmlType::kF16, w.data());
  writer.add_tensor("wbf", {3, 5}, GgmlType::kBF16, w.data());
  writer.add_tensor("norm", {5}, GgmlType::kF32, norm.data());
  writer.write(path);

  GgufFile f(path);
  EXPECT_EQ(f.version(), 3u);
  const auto& kv = f.metadata();
  EXPECT_EQ(kv.size(), 8u);
  EXPECT_EQ(std::get<std::string>(kv.at("general.architecture")), "qwen3");
  EXPECT_EQ(std::get<float>(kv.at("qwen3.rope.freq_base")), 1e6f);
  EXPECT_EQ(std::get<bool>(kv.at("tokenizer.ggml.add_bos_token")), false);
  EXPECT_EQ(std::get<std::vector<std::string>>(kv.at("tokenizer.ggml.tokens"))[1], "Ġb");
  EXPECT_EQ(std::get<std::vector<int32_t>>(kv.at("tokenizer.ggml.token_type"))[2], 3);
  EXPECT_EQ(std::get<uint64_t>(kv.at("x.u64")), uint64_t{1} << 40);
  EXPECT_EQ(std::get<int32_t>(kv.at("x.i32")), -5);
  ASSERT_EQ(f.tensors().size(), 4u);
  const auto* t32 = f.find_tensor("w32");
  ASSERT_NE(t32, nullptr);
  EXPECT_EQ(t32->ne, (std::vector<int64_t>{5, 3}));  // GGUF stores dims reversed
  EXPECT_EQ(f.tensor_f32(*t32), w);
  const auto w16 = f.tensor_f32(*f.find_tensor("w16"));
  const auto wbf = f.tensor_f32(*f.find_tensor("wbf"));
  for (size_t i = 0; i < w.size(); ++i) {
    EXPECT_EQ(w16[i], f16_to_f32(f32_to_f16(w[i])));
    EXPECT_EQ(wbf[i], bf16_to_f32(f32_to_bf16(w[i])));
  }
  EXPECT_EQ(f.find_tensor("wbf")->type, 30u);
  for (const auto& t : f.tensors()) EXPECT_EQ(t.offset % 32, 0u) << t.name;
  EXPECT_EQ(f.tensor_f32(*f.find_tensor("norm")), norm);
}

TEST(Gguf, TruncatedOrForeignFilesAreInputErrors) {
  const std::string dir = test::temp_dir("gguf_bad");
  write_file_atomic(dir + "/notgguf.bin", std::string("PK\x03\x04 hello", 10));
  EXPECT_THROW(GgufFile(dir + "/notgguf.bin"), InputError);
  std::vector<float> w(64, 1.0f);
  GgufWriter writer;
  writer.set("general.architecture", std::string("qwen3"));
  writer.add_tensor("w", {8, 8}, GgmlType::kF32, w.data());
  writer.write(dir + "/ok.gguf");
  std::string bytes = read_file(dir + "/ok.gguf");
  for (size_t cut : {size_t{6}, size_t{30}, bytes.size() - 10}) {
    write_file_atomic(dir + "/cut.gguf", bytes.substr(0, cut));
    EXPECT_THROW(GgufFile(dir + "/cut.gguf"), InputError) << "cut at " << cut;
  }
  EXPECT_THROW(ggml_type_from_string("q4_0", "--outtype"), InputError);
  EXPECT_EQ(ggml_type_from_string("bf16", "--outtype"), GgmlType::kBF16);
}

}  // namespace
}  // namespace moai::infer
