// moai data prepare: tokenize a corpus (pretrain) or a conversation set (SFT) into cached token
// shards.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/command.h"
#include "moai/core/progress.h"
#include "moai/data/hub_dataset.h"
#include "moai/data/prepare.h"

namespace moai::cli {
namespace {

struct PrepareFlags {
  std::string mode = "pretrain";
  std::vector<std::string> dataset;
  std::string dataset_config;
  std::string split = "train";
  std::string revision = "main";
  std::string tokenizer_path;
  std::string output_dir;
  std::string format = "auto";
  std::string text_split = "blank_line";
  std::string text_column = "text";
  std::vector<std::string> text_columns;
  std::string sft_format = "auto";
  int64_t max_seq_length = 2048;
  std::string overlong = "truncate";
  double validation_split_percentage = 0.0;
  uint64_t seed = 42;
  size_t num_threads = 0;
  uint64_t shard_tokens = 1u << 24;
  bool skip_bad_records = false;
  bool force = false;
  bool quiet = false;
};

data::FileFormat parse_format(const std::string& name) {
  if (name == "auto") return data::FileFormat::kAuto;
  if (name == "txt" || name == "text") return data::FileFormat::kText;
  if (name == "jsonl") return data::FileFormat::kJsonl;
  if (name == "json") return data::FileFormat::kJsonArray;
  if (name == "csv") return data::FileFormat::kCsv;
  if (name == "tsv") return data::FileFormat::kTsv;
  if (name == "parquet") return data::FileFormat::kParquet;
  throw InputError("--format: \"" + name +
                   "\": expected auto, txt, jsonl, json, csv, tsv or parquet");
}

void run_prepare(const PrepareFlags& f) {
  data::PrepareOptions o;
  if (f.mode != "pretrain" && f.mode != "sft") {
    throw InputError("--mode: \"" + f.mode + "\": expected pretrain or sft");
  }
  o.mode = f.mode == "sft" ? data::DatasetMode::kSft : data::DatasetMode::kPretrain;
  o.tokenizer_path = f.tokenizer_path;
  o.output_dir = f.output_dir;
  o.reader.format = parse_format(f.format);
  if (f.text_split != "blank_line" && f.text_split != "line") {
    throw InputError("--text_split: \"" + f.text_split + "\": expected blank_line or line");
  }
  o.reader.text_split =
      f.text_split == "line" ? data::TextSplit::kLine : data::TextSplit::kBlankLine;
  o.reader.text_column = f.text_column;
  o.reader.text_columns = f.text_columns;
  o.reader.skip_bad_records = f.skip_bad_records;
  o.sft_format = data::parse_sft_format(f.sft_format);
  o.max_seq_length = f.max_seq_length;
  if (f.overlong != "truncate" && f.overlong != "drop") {
    throw InputError("--overlong: \"" + f.overlong + "\": expected truncate or drop");
  }
  o.overlong = f.overlong == "drop" ? data::OverlongPolicy::kDrop : data::OverlongPolicy::kTruncate;
  o.validation_split_percentage = f.validation_split_percentage;
  o.seed = f.seed;
  o.num_threads = f.num_threads;
  o.shard_tokens = f.shard_tokens;
  o.force = f.force;
  o.show_progress = !f.quiet;
  if (f.quiet) ProgressBar::set_enabled(false);
  data::hub::DatasetSelection selection;
  selection.config = f.dataset_config;
  selection.split = f.split;
  selection.revision = f.revision;
  selection.show_progress = !f.quiet;
  data::hub::resolve_prepare_inputs(o, f.dataset, selection);

  data::PrepareResult r = data::prepare_dataset(o);
  const data::DatasetManifest& m = r.manifest;
  if (r.reused) {
    std::printf("reusing cached shards in %s (same inputs, tokenizer and options)\n",
                r.entry_dir.c_str());
  } else {
    std::printf("wrote %s\n", r.entry_dir.c_str());
  }
  uint64_t docs = m.train.documents + m.validation.documents;
  uint64_t tokens = m.train.tokens + m.validation.tokens;
  std::printf(
      "documents %llu (train %llu, validation %llu), tokens %llu (train %llu, validation %llu)\n",
      static_cast<unsigned long long>(docs), static_cast<unsigned long long>(m.train.documents),
      static_cast<unsigned long long>(m.validation.documents),
      static_cast<unsigned long long>(tokens), static_cast<unsigned long long>(m.train.tokens),
      static_cast<unsigned long long>(m.validation.tokens));
  std::printf("skipped %llu bad record(s), %llu empty record(s)",
              static_cast<unsigned long long>(m.bad_records),
              static_cast<unsigned long long>(m.empty_records));
  if (m.mode == data::DatasetMode::kSft) {
    std::printf("; over-long samples: %llu truncated, %llu dropped",
                static_cast<unsigned long long>(m.truncated_samples),
                static_cast<unsigned long long>(m.dropped_samples));
  }
  std::printf("\n");
  if (!r.reused && r.seconds > r.tokenizer_seconds) {
    // Throughput excludes loading the tokenizer (reported apart), like the encode benchmarks.
    double work = r.seconds - r.tokenizer_seconds;
    std::printf("%.2f s (tokenizer load %.2f s), %.2f MB/s, %.0f tokens/s\n", r.seconds,
                r.tokenizer_seconds, r.input_bytes / work / 1e6, tokens / work);
  }
}

void register_data_prepare(CLI::App& root) {
  CLI::App& group = command_group(root, "data", "Prepare and inspect training data");
  auto f = std::make_shared<PrepareFlags>();
  CLI::App* cmd = group.add_subcommand(
      "prepare", "Tokenize files into cached token shards (pretrain text or SFT conversations)");
  cmd->add_option("--mode", f->mode, "pretrain | sft")->capture_default_str();
  cmd->add_option(
         "--dataset", f->dataset,
         "input files, directories or globs (.txt .jsonl .json .csv .tsv, optionally .gz/.zst), "
         "or Hub datasets owner/name[:CONFIG]")
      ->required();
  cmd->add_option(flag("dataset_config"), f->dataset_config,
                  "Hub config (subset) of the first Hub --dataset");
  cmd->add_option("--split", f->split,
                  "Hub split, HF slicing allowed: train, train[:10%], train[100:200], a+b "
                  "(a slice also applies to local files)")
      ->capture_default_str();
  cmd->add_option("--revision", f->revision, "Hub revision: branch, tag or commit")
      ->capture_default_str();
  cmd->add_option(flag("tokenizer_path"), f->tokenizer_path, "tokenizer.json or its directory")
      ->required();
  cmd->add_option(flag("output_dir"), f->output_dir, "dataset directory (holds the cache entries)")
      ->required();
  cmd->add_option("--format", f->format,
                  "auto (by content, then extension) | txt | jsonl | json | csv | tsv | parquet")
      ->capture_default_str();
  cmd->add_option(flag("text_split"), f->text_split,
                  "plain text documents: blank_line (blocks) | line")
      ->capture_default_str();
  cmd->add_option(flag("text_column"), f->text_column, "preferred text field for detection")
      ->capture_default_str();
  cmd->add_option(flag("text_columns"), f->text_columns,
                  "fields joined by a space (turns detection off)");
  cmd->add_option(flag("sft_format"), f->sft_format,
                  "auto | chat | sharegpt | alpaca | question_answer | prompt_response | "
                  "prompt_completion | input_output | r1")
      ->capture_default_str();
  cmd->add_option(flag("max_seq_length"), f->max_seq_length, "SFT: longest sample in tokens")
      ->capture_default_str();
  cmd->add_option("--overlong", f->overlong, "SFT samples over max_seq_length: truncate | drop")
      ->capture_default_str();
  cmd->add_option(flag("validation_split_percentage"), f->validation_split_percentage,
                  "percent of documents held out (by content hash)")
      ->capture_default_str();
  cmd->add_option("--seed", f->seed, "seed of the validation split hash")->capture_default_str();
  cmd->add_option(flag("num_threads"), f->num_threads,
                  "tokenizer threads (0 = MOAI_THREADS or all)")
      ->capture_default_str();
  cmd->add_option(flag("shard_tokens"), f->shard_tokens, "tokens per shard file")
      ->capture_default_str();
  cmd->add_flag(flag("skip_bad_records"), f->skip_bad_records,
                "count and report malformed records instead of stopping");
  cmd->add_flag("--force", f->force, "rebuild even when a cache entry exists");
  cmd->add_flag("--quiet", f->quiet, "no progress bar");
  cmd->callback([f] { run_prepare(*f); });
}

}  // namespace
}  // namespace moai::cli

MOAI_REGISTER_COMMAND("data prepare", moai::cli::register_data_prepare);
