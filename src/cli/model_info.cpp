// moai model info CONFIG|DIR: parameter count, FLOPs per token and training memory at a batch/seq.
#include <algorithm>
#include <cstdio>
#include <vector>

#include "cli/command.h"
#include "moai/core/progress.h"
#include "moai/model/qwen3_model.h"
#include "moai/ops/loss.h"

namespace moai::cli {
namespace {

struct InfoOptions {
  std::string config;
  int64_t batch = 8;
  int64_t seq = 2048;
  bool gradient_checkpointing = false;
  int64_t world_size = 1;
  int64_t zero_stage = -1;  // -1: 1 when world_size > 1
  std::string precision;    // fp32 | bf16; empty: both
  double baseline_mib = 0;  // the runtime's own resident memory (moai train reports it per rank)
};

// Host copies made while a checkpoint is written (CPU backend): the fp32 weights kept for staging
// plus this rank's two AdamW moments, or at the end a second copy of the weights for final_model/.
// Rank 0 writes the weights; under ZeRO-1 the other ranks stage their moment shards only.
struct StagingBytes {
  double root = 0;
  double others = 0;
};
StagingBytes checkpoint_staging(double masters, double moments, bool zero) {
  return {std::max(masters + moments, 2 * masters), zero ? moments : 0.0};
}

std::string human_count(double count) {
  char text[32];
  if (count >= 1e9)
    std::snprintf(text, sizeof(text), "%.2fB", count / 1e9);
  else if (count >= 1e6)
    std::snprintf(text, sizeof(text), "%.2fM", count / 1e6);
  else
    std::snprintf(text, sizeof(text), "%.0f", count);
  return text;
}

void run_info(const InfoOptions& opt) {
  const model::Qwen3Config c = model::load_qwen3_config(opt.config);
  const model::ModelStats stats = model::model_stats(c, opt.seq);
  std::printf("config            %s\n", opt.config.c_str());
  std::printf(
      "shape             vocab %lld, hidden %lld, ffn %lld, layers %lld, heads %lld/%lld kv, "
      "head_dim %lld, %s\n",
      (long long)c.vocab_size, (long long)c.hidden_size, (long long)c.intermediate_size,
      (long long)c.num_hidden_layers, (long long)c.num_attention_heads,
      (long long)c.num_key_value_heads, (long long)c.head_dim,
      c.tie_word_embeddings ? "tied embeddings" : "untied lm_head");
  std::printf("rope              theta %g, scaling %s", c.rope_theta,
              ops::rope_type_name(c.rope_scaling.type));
  if (c.rope_scaling.type != ops::RopeType::kDefault)
    std::printf(" (factor %g)", c.rope_scaling.factor);
  std::printf(", max positions %lld\n", (long long)c.max_position_embeddings);
  std::printf("parameters        %lld (%s; embeddings %s, rest %s)\n", (long long)stats.parameters,
              human_count(double(stats.parameters)).c_str(),
              human_count(double(stats.embedding_parameters)).c_str(),
              human_count(double(stats.parameters - stats.embedding_parameters)).c_str());
  std::printf("FLOPs/token       %.4g forward, %.4g training (6N + 12·L·H·D·T, T = %lld)\n",
              stats.forward_flops_per_token, stats.flops_per_token, (long long)opt.seq);
  const bool zero = opt.zero_stage == 1 || (opt.zero_stage < 0 && opt.world_size > 1);
  // ZeRO-1 keeps the moments of 1/world_size of the parameters on each rank.
  const double moment_share = zero ? 1.0 / double(opt.world_size) : 1.0;
  std::vector<ops::Precision> precisions = {ops::Precision::kFp32, ops::Precision::kBf16};
  if (!opt.precision.empty()) precisions = {ops::parse_precision(opt.precision, "--precision")};
  const double baseline = opt.baseline_mib * 1024 * 1024;
  for (const ops::Precision precision : precisions) {
    // fp32 masters, fp32 gradients and AdamW moments. CPU bf16 training keeps no bf16 working copy:
    // its kernels round the masters to bf16 as they read them (Backend::rounds_f32_weights).
    const double masters =
        double(model::Qwen3Model::estimate_param_bytes(c, ops::Precision::kFp32, false));
    const double weights =
        double(model::Qwen3Model::estimate_param_bytes(c, precision, /*working_copy=*/false));
    model::ModelOptions options{opt.batch, opt.seq, true, opt.gradient_checkpointing, precision};
    const double activations = double(model::Qwen3Model::estimate_activation_bytes(c, options));
    std::printf("training memory   %s, batch %lld x seq %lld%s, per rank of %lld (ZeRO-%d):\n",
                precision == ops::Precision::kFp32 ? "fp32" : "bf16 mixed precision",
                (long long)opt.batch, (long long)opt.seq,
                opt.gradient_checkpointing ? ", gradient checkpointing" : "",
                (long long)opt.world_size, zero ? 1 : 0);
    std::printf(
        "  weights         %s%s\n", format_bytes(weights).c_str(),
        precision == ops::Precision::kFp32 ? "" : " (fp32 masters, rounded to bf16 as read)");
    std::printf("  gradients       %s\n", format_bytes(masters).c_str());
    const double moments = 2 * masters * moment_share;
    std::printf("  AdamW moments   %s%s\n", format_bytes(moments).c_str(),
                zero ? " (this rank's shard)" : "");
    std::printf("  activations     %s\n", format_bytes(activations).c_str());
    // The CPU fp32 classifier's logits scratch (ops::classifier_chunk_rows); bf16 uses other
    // buffers, not modelled here.
    const int64_t rows = std::min(ops::classifier_chunk_rows(c.vocab_size), opt.batch * opt.seq);
    const double scratch =
        precision == ops::Precision::kFp32 ? double(rows * c.vocab_size) * sizeof(float) : 0.0;
    if (scratch > 0)
      std::printf("  loss scratch    %s (CPU classifier: %lld rows of logits)\n",
                  format_bytes(scratch).c_str(), (long long)rows);
    const StagingBytes staging = checkpoint_staging(masters, moments, zero);
    std::printf("  checkpoint copy %s on rank 0, %s on the others (host staging while saving)\n",
                format_bytes(staging.root).c_str(), format_bytes(staging.others).c_str());
    if (baseline > 0) std::printf("  runtime         %s (given)\n", format_bytes(baseline).c_str());
    const double state = weights + masters + moments + activations + scratch + baseline;
    std::printf("  total           %s on rank 0, %s on the others\n",
                format_bytes(state + staging.root).c_str(),
                format_bytes(state + staging.others).c_str());
  }
}

void register_info(CLI::App& root) {
  CLI::App& group = command_group(root, "model", "Inspect and check Qwen3 models");
  auto opt = std::make_shared<InfoOptions>();
  CLI::App* cmd =
      group.add_subcommand("info", "Parameters, FLOPs per token and training memory of a config");
  cmd->add_option("config", opt->config,
                  "config.json, a preset in configs/, or an HF model directory")
      ->required();
  cmd->add_option(flag("batch") + ",--batch_size", opt->batch,
                  "micro-batch size for the memory estimate")
      ->capture_default_str();
  cmd->add_option(flag("seq") + ",--seq_len", opt->seq, "sequence length for FLOPs and memory")
      ->capture_default_str();
  cmd->add_flag(flag("gradient_checkpointing"), opt->gradient_checkpointing,
                "estimate with checkpointing");
  cmd->add_option(flag("world_size"), opt->world_size, "ranks of the data-parallel run")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option(flag("zero_stage"), opt->zero_stage,
                  "0: full AdamW state per rank; 1: 1/world_size (ZeRO-1); -1: 1 when > 1 rank")
      ->capture_default_str()
      ->check(CLI::Range(-1, 1));
  cmd->add_option(flag("precision"), opt->precision, "fp32 or bf16 (default: both)");
  cmd->add_option(flag("baseline_mib"), opt->baseline_mib,
                  "resident memory of the runtime itself, added to the totals (moai train prints "
                  "it per rank: \"MiB before the model was built\")")
      ->capture_default_str();
  cmd->callback([opt] { run_info(*opt); });
}

MOAI_REGISTER_COMMAND("model info", register_info);

}  // namespace
}  // namespace moai::cli
