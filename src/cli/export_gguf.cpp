// moai export gguf: write a model directory as one GGUF file for llama.cpp / ollama.
#include <cstdio>

#include "cli/command.h"
#include "moai/core/progress.h"
#include "moai/infer/gguf_export.h"

namespace moai::cli {
namespace {

struct ExportFlags {
  std::string model_path;
  std::string out;
  std::string outtype = "f32";
  std::string name;
};

void run(const ExportFlags& f) {
  infer::GgufExportOptions options;
  options.type = infer::ggml_type_from_string(f.outtype, "--outtype");
  options.name = f.name;
  const infer::GgufExportSummary s = infer::export_gguf(f.model_path, f.out, options);
  std::printf(
      "wrote %s: %zu tensors (%s), vocab %zu (%zu tokenizer tokens + %zu padding), pre-tokenizer "
      "%s, %s\n",
      f.out.c_str(), s.tensors, infer::ggml_type_name(options.type), s.vocab, s.tokenizer_tokens,
      s.padding_tokens, s.pre_tokenizer.c_str(), format_bytes(double(s.bytes)).c_str());
}

void register_export_gguf(CLI::App& root) {
  auto flags = std::make_shared<ExportFlags>();
  CLI::App& group = command_group(root, "export", "Export a model to other formats");
  CLI::App* cmd =
      group.add_subcommand("gguf", "Write a GGUF file (llama.cpp / ollama, architecture qwen3)");
  cmd->add_option(flag("model_path"), flags->model_path,
                  "HF Qwen3 model directory with tokenizer.json")
      ->required();
  cmd->add_option("--out,-o", flags->out, "output .gguf path")->required();
  cmd->add_option(flag("outtype"), flags->outtype, "weight type: f32, f16 or bf16 (norms stay f32)")
      ->capture_default_str();
  cmd->add_option(flag("name"), flags->name, "general.name (default: the directory name)");
  cmd->callback([flags] { run(*flags); });
}

}  // namespace

MOAI_REGISTER_COMMAND("export gguf", register_export_gguf);

}  // namespace moai::cli
