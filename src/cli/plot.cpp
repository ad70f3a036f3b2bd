// moai plot OUTPUT_DIR: loss (train and eval) and learning-rate curves from metrics.jsonl as an SVG
// file, plus a short text summary.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli/command.h"
#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/train/metrics.h"
#include "moai/train/plot_svg.h"

namespace moai::cli {
namespace {

struct PlotFlags {
  std::string run_dir;
  std::string output;
  bool log_loss = false;
};

void run_plot(const PlotFlags& flags) {
  namespace fs = std::filesystem;
  std::string metrics_path = flags.run_dir;
  if (is_directory(metrics_path))
    metrics_path = (fs::path(metrics_path) / "metrics.jsonl").string();
  if (!file_exists(metrics_path))
    throw_input_error(metrics_path,
                      "not found: expected a training output directory with metrics.jsonl");
  const auto records = train::read_metrics(metrics_path);
  train::PlotOptions options;
  options.title = "moai training: " + flags.run_dir;
  options.log_loss = flags.log_loss;
  const std::string svg = train::render_training_svg(records, options);
  const std::string output =
      flags.output.empty() ? (fs::path(metrics_path).parent_path() / "training_curves.svg").string()
                           : flags.output;
  write_file_atomic(output, svg);

  const train::MetricsRecord* first = nullptr;
  const train::MetricsRecord* last = nullptr;
  const train::MetricsRecord* best_eval = nullptr;
  int skipped = 0;
  for (const auto& record : records) {
    if (record.type == "train") {
      if (!first) first = &record;
      last = &record;
    } else if (record.type == "eval" && std::isfinite(record.eval_loss)) {
      if (!best_eval || record.eval_loss < best_eval->eval_loss) best_eval = &record;
    } else if (record.type == "skip") {
      ++skipped;
    }
  }
  if (first)
    std::printf("train loss %.4f (step %lld) -> %.4f (step %lld)\n", first->loss,
                static_cast<long long>(first->step), last->loss,
                static_cast<long long>(last->step));
  if (best_eval)
    std::printf("best eval loss %.4f (perplexity %.2f) at step %lld\n", best_eval->eval_loss,
                best_eval->eval_ppl, static_cast<long long>(best_eval->step));
  if (skipped) std::printf("%d skipped step(s)\n", skipped);
  std::printf("wrote %s\n", output.c_str());
}

void register_plot(CLI::App& root) {
  auto flags = std::make_shared<PlotFlags>();
  CLI::App* cmd =
      root.add_subcommand("plot", "Plot loss and learning-rate curves of a training run (SVG)");
  cmd->add_option("run_dir", flags->run_dir, "training output directory (or its metrics.jsonl)")
      ->required();
  cmd->add_option("-o," + flag("output"), flags->output,
                  "SVG file to write [default: RUN_DIR/training_curves.svg]");
  cmd->add_flag("--log", flags->log_loss, "logarithmic loss axis");
  cmd->callback([flags] { run_plot(*flags); });
}

}  // namespace

MOAI_REGISTER_COMMAND("plot", register_plot);

}  // namespace moai::cli
