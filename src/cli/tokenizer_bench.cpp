// moai tokenizer bench: encode throughput on a text file, measured like
// ../shared/peers/bench_encode.mjs (documents split on blank lines, no special tokens, cold word
// cache), printed as one JSON line per run.
#include <chrono>
#include <cstdio>
#include <ctime>

#include "cli/command.h"
#include "moai/core/file_util.h"
#include "moai/core/hash.h"
#include "moai/tokenizer/documents.h"
#include "moai/tokenizer/tokenizer.h"
#include "moai/tokenizer/tokenizer_impl.h"

namespace moai::cli {
namespace {

struct BenchOptions {
  std::string tokenizer_path;
  std::string input_file;
  size_t threads = 1;
  int repeat = 3;
};

void run_bench(const BenchOptions& opt) {
  const std::string text = read_file(opt.input_file);
  const auto docs = tok::split_documents(text, tok::DocSplit::kBlank);
  size_t bytes = 0;
  for (const auto& d : docs) bytes += d.size();
  const auto t0 = std::chrono::steady_clock::now();
  tok::Tokenizer tokenizer = tok::Tokenizer::load(opt.tokenizer_path);
  const double setup_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int r = 0; r < opt.repeat; ++r) {
    tokenizer.impl().model().clear_cache();
    const auto t1 = std::chrono::steady_clock::now();
    const std::clock_t c1 = std::clock();
    const auto ids = tokenizer.encode_batch(docs, false, opt.threads);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    // CPU time of the whole process (all threads): on a loaded machine it shows the work done,
    // while wall time shows what a user waits.
    const double cpu_s = double(std::clock() - c1) / CLOCKS_PER_SEC;
    uint32_t h = 0x811c9dc5u;
    size_t tokens = 0;
    for (const auto& d : ids) {
      h = fnv1a32_ids(d, h);
      tokens += d.size();
    }
    std::printf(
        "{\"impl\": \"moai\", \"file\": \"%s\", \"threads\": %zu, \"docs\": %zu, \"MB\": %.3f, "
        "\"setup_s\": %.2f, \"encode_s\": %.4f, \"cpu_s\": %.4f, \"MB_per_s\": %.3f, "
        "\"MB_per_cpu_s\": %.3f, "
        "\"tokens\": %zu, \"fnv\": \"%08x\"}\n",
        opt.input_file.c_str(), opt.threads, docs.size(), bytes / 1e6, setup_s, s, cpu_s,
        bytes / 1e6 / s, cpu_s > 0 ? bytes / 1e6 / cpu_s : 0.0, tokens, h);
    std::fflush(stdout);
  }
}

void register_bench(CLI::App& root) {
  CLI::App& group = command_group(root, "tokenizer", "Train, test and use BPE tokenizers");
  auto opt = std::make_shared<BenchOptions>();
  CLI::App* cmd = group.add_subcommand(
      "bench", "Encode throughput (MB/s) on a text file, cold cache, like the HF peer script");
  cmd->add_option(flag("tokenizer_path"), opt->tokenizer_path, "tokenizer.json or its directory")
      ->required();
  cmd->add_option(flag("input_file"), opt->input_file, "UTF-8 text, documents split on blank lines")
      ->required();
  cmd->add_option(flag("threads"), opt->threads, "encode threads")->capture_default_str();
  cmd->add_option(flag("repeat"), opt->repeat, "runs (each with an emptied word cache)")
      ->capture_default_str();
  cmd->callback([opt] { run_bench(*opt); });
}

}  // namespace
}  // namespace moai::cli

MOAI_REGISTER_COMMAND("tokenizer bench", moai::cli::register_bench);
