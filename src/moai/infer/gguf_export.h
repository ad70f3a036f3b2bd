#pragma once
// `moai export gguf`: a HuggingFace Qwen3 directory (config.json, safetensors, tokenizer.json,
// tokenizer_config.json) -> one GGUF file that llama.cpp / ollama run as architecture "qwen3".
//
// Tensor names follow llama.cpp (token_embd, blk.N.attn_q, ..., output_norm, output); Qwen uses
// rotate-half RoPE, which llama.cpp's qwen3 graph expects, so Q/K need no permutation. 2-D weights
// are stored in the chosen type, norms always in F32 (as llama.cpp's converter does). The tokenizer
// goes in as llama.cpp's "gpt2" BPE: tokens, token types (normal / control for special added tokens
// / user-defined for the others / unused padding rows), merges, special ids and the chat template.
#include <cstdint>
#include <string>

#include "moai/infer/gguf.h"

namespace moai::infer {

struct GgufExportOptions {
  GgmlType type = GgmlType::kF32;
  std::string name;  // general.name; empty = the directory's name
};

struct GgufExportSummary {
  size_t tensors = 0;
  size_t vocab = 0;  // rows of token_embd
  size_t tokenizer_tokens = 0;
  size_t padding_tokens = 0;  // config vocab rows the tokenizer does not define ("[PAD<id>]")
  std::string pre_tokenizer;  // tokenizer.ggml.pre
  uint64_t bytes = 0;
};

GgufExportSummary export_gguf(const std::string& model_dir, const std::string& out_path,
                              const GgufExportOptions& options);

}  // namespace moai::infer
