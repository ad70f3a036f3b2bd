#pragma once
// Flags shared by `moai chat`, `moai generate` and `moai serve`: model loading and sampling.
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/engine_flags.h"
#include "moai/infer/generator.h"
#include "moai/infer/loaded_model.h"

namespace moai::cli {

struct ModelFlags {
  std::string model_path;
  moai::infer::LoadOptions load;
  EngineFlags engine;
  // load with --device and --precision applied (--fp16: InputError).
  moai::infer::LoadOptions resolved() const {
    moai::infer::LoadOptions out = load;
    out.device = ops::parse_device(engine.device, "--device");
    out.precision = requested_precision(engine);
    return out;
  }
};

inline void add_model_flags(CLI::App& cmd, ModelFlags& f) {
  cmd.add_option(flag("model_path"), f.model_path,
                 "HF Qwen3 model directory (config.json + safetensors)")
      ->required();
  cmd.add_option(flag("tokenizer_path"), f.load.tokenizer_path,
                 "tokenizer.json or its directory (default: the model directory)");
  cmd.add_option(flag("max_context"), f.load.max_context,
                 "KV-cache size in tokens (default: max_position_embeddings)")
      ->check(CLI::NonNegativeNumber);
  cmd.add_option(flag("threads"), f.load.threads,
                 "CPU threads (default: MOAI_THREADS or all cores)")
      ->check(CLI::NonNegativeNumber);
  add_engine_flags(&cmd, f.engine, "the checkpoint's torch_dtype");
}

inline void add_sampling_flags(CLI::App& cmd, moai::infer::GenerateOptions& g) {
  cmd.add_option(flag("max_new_tokens"), g.max_new_tokens, "most tokens to generate per reply")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd.add_option(flag("temperature"), g.sampling.temperature, "0 = greedy")->capture_default_str();
  cmd.add_option(flag("top_k"), g.sampling.top_k, "0 = off")->capture_default_str();
  cmd.add_option(flag("top_p"), g.sampling.top_p, "nucleus mass, 1 = off")->capture_default_str();
  cmd.add_option(flag("min_p"), g.sampling.min_p, "drop tokens below min_p * p(best), 0 = off")
      ->capture_default_str();
  cmd.add_option(flag("repetition_penalty"), g.sampling.repetition_penalty, "1 = off")
      ->capture_default_str();
  cmd.add_option(flag("presence_penalty"), g.sampling.presence_penalty, "OpenAI style, 0 = off")
      ->capture_default_str();
  cmd.add_option(flag("frequency_penalty"), g.sampling.frequency_penalty, "OpenAI style, 0 = off")
      ->capture_default_str();
  cmd.add_option(flag("seed"), g.sampling.seed, "sampling seed")->capture_default_str();
  cmd.add_option(flag("stop"), g.stop_strings, "stop string (repeatable)");
}

// The original project's chat/inference defaults: temperature 0.7, top_p 0.9, top_k 50.
inline moai::infer::GenerateOptions default_generate_options() {
  moai::infer::GenerateOptions g;
  g.sampling.temperature = 0.7f;
  g.sampling.top_p = 0.9f;
  g.sampling.top_k = 50;
  g.max_new_tokens = 256;
  return g;
}

}  // namespace moai::cli
