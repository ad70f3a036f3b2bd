// moai bench train: the bare training step (forward + backward + global-norm clip + AdamW) on
// random ids, timed like ../shared/peers/torch_qwen3_tiny.py: tokens/s and achieved GFLOP/s with
// FLOPs/token = 6 * matmul params + 12 * L * H * D * T (PaLM convention), median of the timed steps
// after warm-up.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/engine_flags.h"
#include "moai/core/error.h"
#include "moai/core/interrupt.h"
#include "moai/core/progress.h"
#include "moai/model/qwen3_model.h"
#include "moai/train/adamw.h"
#include "moai/train/grad_clip.h"

namespace moai::cli {
namespace {

struct BenchTrainOptions {
  std::string config;
  int64_t batch = 8;
  int64_t seq = 256;
  int steps = 10;
  int warmup = 2;
  int threads = 0;
  bool gradient_checkpointing = false;
  bool sgemm_peak = false;
  bool json = false;
  EngineFlags engine;
};

double peak_resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) * 1024.0;  // kB
  return 0;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// sgemm GFLOP/s on square 1024 x 1024 x 1024 products (best of 5): the ceiling the step is compared
// with.
double measure_sgemm_gflops(ops::Backend& backend) {
  const int64_t n = 1024;
  std::vector<float> a(size_t(n * n), 0.5f), b(size_t(n * n), 0.25f), c(size_t(n * n));
  double best = 1e30;
  for (int trial = 0; trial < 5; ++trial) {
    const auto start = std::chrono::steady_clock::now();
    backend.matmul(ops::view(c.data(), {n, n}), ops::view(a.data(), {n, n}),
                   ops::view(b.data(), {n, n}), false, true, 1.0f, 0.0f);
    best = std::min(
        best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return 2.0 * double(n * n * n) / best / 1e9;
}

void run_bench_train(const BenchTrainOptions& opt) {
  if (opt.steps < 1 || opt.warmup < 0)
    throw_input_error("--steps/--warmup", "need steps >= 1 and warmup >= 0");
  const model::Qwen3Config config = model::load_qwen3_config(opt.config);
  const ops::Precision precision = engine_precision(opt.engine, ops::Precision::kFp32);
  auto backend = make_engine_backend(opt.engine, opt.threads, precision);
  model::Qwen3Model model(config, *backend,
                          {opt.batch, opt.seq, true, opt.gradient_checkpointing, precision});
  model.init_weights(0);
  train::AdamW adamw(*backend, model.layout(), {0.9f, 0.95f, 1e-8f, 0.1f});
  std::mt19937_64 rng(1);
  const int64_t n = opt.batch * opt.seq;
  std::vector<int32_t> ids(static_cast<size_t>(n)), labels(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    ids[size_t(i)] = int32_t(rng() % uint64_t(config.vocab_size));
    labels[size_t(i)] = int32_t(rng() % uint64_t(config.vocab_size));
  }
  const model::Batch batch{opt.batch, opt.seq, ids, labels, {}, {}};
  std::vector<double> seconds;
  double first_loss = 0, last_loss = 0;
  ProgressBar progress("bench train", uint64_t(opt.warmup + opt.steps), "steps");
  for (int step = 0; step < opt.warmup + opt.steps; ++step) {
    if (interrupt_requested()) throw InputError("interrupted");
    const auto start = std::chrono::steady_clock::now();
    model.zero_grads();
    const double loss = model.forward(batch, ops::LossConfig::cross_entropy(), 0, true);
    model.backward();
    const double norm =
        train::global_grad_norm(*backend, model.grads(), model.layout().total_floats());
    adamw.step(model.params(), model.grads(), 3e-4f, train::clip_scale(norm, 1.0));
    model.weights_updated();
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (step >= opt.warmup) seconds.push_back(elapsed);
    if (step == 0) first_loss = loss;
    last_loss = loss;
    progress.add(1);
  }
  progress.finish();
  const double step_s = median(seconds);
  const double tokens_per_s = double(n) / step_s;
  const double flops = model::model_stats(config, opt.seq).flops_per_token;
  const double gflops = flops * tokens_per_s / 1e9;
  const double peak_gflops = opt.sgemm_peak ? measure_sgemm_gflops(*backend) : 0;
  if (opt.json) {
    std::printf(
        "{\"impl\": \"moai\", \"backend\": \"%s\", \"precision\": \"%s\", \"config\": \"%s\", "
        "\"params\": %lld, "
        "\"batch\": %lld, "
        "\"seq\": %lld, \"step_s_median\": %.4f, \"tok_s_median\": %.1f, \"flops_per_token\": "
        "%.0f, "
        "\"gflops\": %.2f, \"sgemm_gflops\": %.2f, \"peak_rss_bytes\": %.0f, \"first_loss\": %.4f, "
        "\"last_loss\": %.4f}\n",
        backend->name().c_str(), ops::precision_name(precision), opt.config.c_str(),
        (long long)model.layout().num_parameters(), (long long)opt.batch, (long long)opt.seq,
        step_s, tokens_per_s, flops, gflops, peak_gflops, peak_resident_bytes(), first_loss,
        last_loss);
    return;
  }
  std::printf("backend           %s, precision %s\n", backend->name().c_str(),
              ops::precision_name(precision));
  std::printf("model             %s, %lld parameters, batch %lld x seq %lld%s\n",
              opt.config.c_str(), (long long)model.layout().num_parameters(), (long long)opt.batch,
              (long long)opt.seq, opt.gradient_checkpointing ? ", gradient checkpointing" : "");
  std::printf("step              %.4f s (median of %d after %d warm-up)\n", step_s, opt.steps,
              opt.warmup);
  std::printf("tokens/s          %.1f\n", tokens_per_s);
  std::printf("achieved          %.2f GFLOP/s (%.4g FLOPs/token)\n", gflops, flops);
  if (opt.sgemm_peak)
    std::printf("sgemm peak        %.2f GFLOP/s (%.0f%% reached)\n", peak_gflops,
                100 * gflops / peak_gflops);
  std::printf("memory            peak RSS %s (params+grads+AdamW %s, activations %s)\n",
              format_bytes(peak_resident_bytes()).c_str(),
              format_bytes(double(model.param_bytes() + 3 * model.grad_bytes())).c_str(),
              format_bytes(double(model.activation_bytes())).c_str());
  std::printf("loss              %.4f -> %.4f\n", first_loss, last_loss);
}

void register_bench_train(CLI::App& root) {
  CLI::App& group = command_group(root, "bench", "Benchmarks of moai's hot paths");
  auto opt = std::make_shared<BenchTrainOptions>();
  CLI::App* cmd = group.add_subcommand(
      "train", "Tokens/s of the training step (fwd + bwd + AdamW) on random ids");
  cmd->add_option("--config", opt->config, "model config.json or preset")->required();
  cmd->add_option(flag("batch"), opt->batch, "micro-batch size")->capture_default_str();
  cmd->add_option(flag("seq"), opt->seq, "sequence length")->capture_default_str();
  cmd->add_option("--steps", opt->steps, "timed steps")->capture_default_str();
  cmd->add_option("--warmup", opt->warmup, "untimed steps first")->capture_default_str();
  cmd->add_option("--threads", opt->threads, "CPU threads (0 = MOAI_THREADS or all cores)");
  cmd->add_flag(flag("gradient_checkpointing"), opt->gradient_checkpointing,
                "recompute layers in backward");
  cmd->add_flag(flag("sgemm_peak"), opt->sgemm_peak,
                "also measure sgemm GFLOP/s (1024^3) for comparison");
  cmd->add_flag("--json", opt->json, "print one JSON line");
  add_engine_flags(cmd, opt->engine, "fp32");
  cmd->callback([opt] { run_bench_train(*opt); });
}

MOAI_REGISTER_COMMAND("bench train", register_bench_train);

}  // namespace
}  // namespace moai::cli
