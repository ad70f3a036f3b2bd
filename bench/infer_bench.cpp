// Inference speed on the 102M-parameter Qwen3 (h512, L8, H8/KV2, head_dim 64, ffn 1536,
// vocab 151,669, tied, fp32): prefill of 256 tokens (logits of the last one) and greedy decode
// after it, with the same token ids as ../shared/peers/bench_gen_llama.mjs. Threads: MOAI_THREADS
// (the comparison uses 2). With MOAI_BENCH_DIR set, the random model is also saved there as an HF
// directory and exported to model.gguf, so bench/infer_vs_llama.sh can time llama.cpp on the very
// same weights.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "moai/infer/gguf_export.h"
#include "moai/infer/kv_model.h"
#include "moai/infer/sampler.h"
#include "moai/model/hf_checkpoint.h"
#include "moai/model/param_layout.h"
#include "moai/ops/blas_kernels.h"
#include "moai/tokenizer/tokenizer.h"

namespace {

using moai::infer::InferenceModel;
using moai::infer::KvCache;

moai::model::Qwen3Config bench_config() {
  moai::model::Qwen3Config c;
  c.vocab_size = 151669;
  c.hidden_size = 512;
  c.intermediate_size = 1536;
  c.num_hidden_layers = 8;
  c.num_attention_heads = 8;
  c.num_key_value_heads = 2;
  c.head_dim = 64;
  c.max_position_embeddings = 1024;
  c.rope_theta = 1e6;
  c.tie_word_embeddings = true;
  return c;
}

InferenceModel& model() {
  static std::unique_ptr<InferenceModel> m = [] {
    const auto c = bench_config();
    const moai::model::ParamLayout layout(c);
    std::vector<float> params(size_t(layout.total_floats()));
    std::mt19937 gen(1);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (const auto& info : layout.params())
      for (int64_t i = 0; i < info.numel; ++i)
        params[size_t(info.offset + i)] = info.shape.size() == 1 ? 1.0f : normal(gen);
    // MOAI_BENCH_PRECISION=bf16 measures bf16 mixed precision (default fp32) and exports the
    // GGUF in BF16, so llama.cpp runs the same precision.
    const char* precision = std::getenv("MOAI_BENCH_PRECISION");
    const moai::ops::Precision mode =
        precision ? moai::ops::parse_precision(precision, "MOAI_BENCH_PRECISION")
                  : moai::ops::Precision::kFp32;
    if (const char* dir = std::getenv("MOAI_BENCH_DIR")) {
      moai::model::save_hf_model(dir, c, layout, params.data());
      const std::string tok = std::getenv("MOAI_BENCH_TOKENIZER")
                                  ? std::getenv("MOAI_BENCH_TOKENIZER")
                                  : "../shared/assets/qwen3/tokenizer.json";
      moai::tok::Tokenizer::load(tok).save(dir);
      moai::infer::GgufExportOptions gguf;
      if (mode == moai::ops::Precision::kBf16) gguf.type = moai::infer::GgmlType::kBF16;
      moai::infer::export_gguf(dir, std::string(dir) + "/model.gguf", gguf);
    }
    return std::make_unique<InferenceModel>(c, params, 1024, 0, nullptr, mode);
  }();
  return *m;
}

std::vector<uint32_t> prompt_ids(int n) {
  std::vector<uint32_t> ids(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ids[size_t(i)] = uint32_t((int64_t(i) * 7919) % 151643);
  return ids;
}

void BM_Prefill256(benchmark::State& state) {
  InferenceModel& m = model();
  const auto ids = prompt_ids(256);
  std::vector<float> logits(size_t(m.vocab_size()));
  KvCache cache = m.new_cache();
  for (auto _ : state) {
    cache.clear();
    m.forward(cache, ids, logits.data());
  }
  state.counters["tok_s"] =
      benchmark::Counter(256.0 * double(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_Decode64After256(benchmark::State& state) {
  InferenceModel& m = model();
  const auto ids = prompt_ids(256);
  std::vector<float> logits(size_t(m.vocab_size()));
  KvCache cache = m.new_cache();
  int64_t tokens = 0;
  for (auto _ : state) {
    state.PauseTiming();
    cache.clear();
    m.forward(cache, ids, logits.data());
    state.ResumeTiming();
    for (int i = 0; i < 64; ++i) {
      const uint32_t next[1] = {moai::infer::argmax(logits)};
      m.forward(cache, next, logits.data());
    }
    tokens += 64;
  }
  state.counters["tok_s"] = benchmark::Counter(double(tokens), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_Prefill256)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Decode64After256)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

// BENCHMARK_MAIN, with the BLAS kernel check first (moai/ops/blas_kernels.h).
int main(int argc, char** argv) {
  moai::ops::match_blas_kernels(argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
