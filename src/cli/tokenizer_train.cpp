// moai tokenizer train: the original train_tokenizer.py's flags (inventory §2.3) over moai's BPE
// trainer. Plain text files are fed line by line with each line's "\n" kept (HF train_from_files);
// JSON, JSONL, CSV and TSV go through moai's record readers with the original's text-field
// detection, one record per sequence. This file only parses flags, feeds inputs and prints;
// training lives in moai/tokenizer.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "moai/core/error.h"
#include "moai/core/interrupt.h"
#include "moai/core/mmap_file.h"
#include "moai/core/progress.h"
#include "moai/data/hub_dataset.h"
#include "moai/data/record_reader.h"
#include "moai/tokenizer/bpe_trainer.h"
#include "moai/tokenizer/train_extend.h"
#include "moai/tokenizer/train_tokenizer.h"
#include "moai/tokenizer/word_counter.h"

namespace moai::cli {
namespace {

struct TrainFlags {
  std::vector<std::string> input_files;
  std::vector<std::string> dataset;  // Hub names (or local paths), as the original's --dataset
  std::string dataset_config;
  std::string split = "train";
  std::string revision = "main";
  std::vector<std::string> multilingual;  // LANG=PATH[,PATH...]
  std::optional<uint64_t> max_samples;
  std::optional<uint64_t> max_samples_per_lang;
  std::string text_column = "text";
  std::vector<std::string> text_columns;
  size_t vocab_size = 128000;
  uint64_t min_frequency = 2;
  std::string output_dir = "tokenizers";
  std::string base_tokenizer;
  bool fast = false;
  bool turbo = false;
  bool ultrafast = false;
  std::vector<std::string> special_tokens = tok::kDefaultSpecialTokens;
  std::optional<size_t> limit_alphabet;
  std::string normalizer = "nfc";
  bool no_byte_alphabet = false;
  size_t threads = 0;
  bool skip_bad_records = false;
  bool quiet = false;
};

// One group of inputs with its own sample cap (all files, or one language of --multilingual).
struct InputGroup {
  std::string label;
  std::vector<std::string> paths;
  std::optional<uint64_t> max_samples;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::vector<InputGroup> input_groups(const TrainFlags& flags) {
  if (!flags.input_files.empty()) return {{"files", flags.input_files, flags.max_samples}};
  std::vector<InputGroup> groups;
  for (const std::string& spec : flags.multilingual) {
    const size_t equals = spec.find('=');
    const std::string lang = spec.substr(0, equals);
    const bool valid_lang =
        !lang.empty() &&
        lang.find_first_not_of("abcdefghijklmnopqrstuvwxyz-_") == std::string::npos;
    if (equals == std::string::npos || !valid_lang || equals + 1 == spec.size()) {
      throw_input_error("--multilingual",
                        "expected LANG=FILE[,FILE...] (e.g. ko=data/ko.txt), got '" + spec + "'");
    }
    InputGroup group{lang, {}, flags.max_samples_per_lang};
    for (size_t begin = equals + 1; begin <= spec.size();) {
      size_t comma = spec.find(',', begin);
      if (comma == std::string::npos) comma = spec.size();
      if (comma > begin) group.paths.push_back(spec.substr(begin, comma - begin));
      begin = comma + 1;
    }
    groups.push_back(std::move(group));
  }
  return groups;
}

// The first `max_lines` lines of text (all of it when unset).
std::string_view first_lines(std::string_view text, std::optional<uint64_t> max_lines) {
  if (!max_lines) return text;
  size_t end = 0;
  for (uint64_t line = 0; line < *max_lines && end < text.size(); ++line) {
    const size_t newline = text.find('\n', end);
    end = newline == std::string_view::npos ? text.size() : newline + 1;
  }
  return text.substr(0, end);
}

// Feeds one group into the counter; returns the number of sequences it contributed.
uint64_t count_group(const InputGroup& group, const TrainFlags& flags, tok::WordCounter& counter) {
  const uint64_t before = counter.stats().sequences + counter.stats().sampled_out;
  std::optional<uint64_t> remaining = group.max_samples;
  data::ReaderOptions reader;
  reader.text_column = flags.text_column;
  reader.text_columns = flags.text_columns;
  reader.skip_bad_records = flags.skip_bad_records;
  for (const data::InputFile& file : data::expand_inputs(group.paths)) {
    if (remaining && *remaining == 0) break;
    const uint64_t start = counter.stats().sequences + counter.stats().sampled_out;
    if (file.format == data::FileFormat::kText && file.compression == data::Compression::kNone) {
      const MappedFile mapped(file.path);
      if (mapped.size() == 0) throw_input_error(file.path, "empty file: expected text to train on");
      const std::string_view text = first_lines(mapped.text(), remaining);
      ProgressBar progress("Counting " + file.path, flags.quiet ? 0 : text.size(), "B");
      counter.count_lines(text, flags.threads, flags.quiet ? nullptr : &progress);
      progress.finish();
    } else {
      // Structured records in batches of ~8 MB, each batch counted on all threads.
      std::vector<std::string> batch;
      size_t batch_bytes = 0;
      uint64_t taken = 0;
      const data::ReadStats stats =
          data::read_texts(std::vector<data::InputFile>{file}, reader,
                           [&](std::string_view text, const std::string&, long long) {
                             if (remaining && taken >= *remaining) return;
                             ++taken;
                             batch.emplace_back(text);
                             batch_bytes += text.size();
                             if (batch_bytes >= (8u << 20)) {
                               counter.count_texts(batch, flags.threads);
                               batch.clear();
                               batch_bytes = 0;
                             }
                           });
      counter.count_texts(batch, flags.threads);
      if (stats.records == 0) {
        throw_input_error(
            file.path, "no texts found (records: 0, empty: " + std::to_string(stats.empty_records) +
                           ", skipped bad: " + std::to_string(stats.bad_records) + ")");
      }
      for (const std::string& fields : stats.fields_detected)
        std::printf("  fields: %s\n", fields.c_str());
      if (stats.bad_records > 0) {
        std::printf("  skipped %llu bad records in %s (first: %s)\n",
                    static_cast<unsigned long long>(stats.bad_records), file.path.c_str(),
                    stats.error_messages.empty() ? "" : stats.error_messages.front().c_str());
      }
    }
    if (interrupt_requested()) throw Error("interrupted while reading inputs; nothing was written");
    if (remaining) {
      const uint64_t used = counter.stats().sequences + counter.stats().sampled_out - start;
      *remaining -= std::min(*remaining, used);
    }
  }
  return counter.stats().sequences + counter.stats().sampled_out - before;
}

void print_summary(const TrainFlags& flags, const tok::WordCounter& counter,
                   const std::vector<std::string>& vocab, size_t num_merges,
                   tok::BpeStopReason reason, double count_s, double train_s) {
  const tok::WordCounterStats& stats = counter.stats();
  std::printf("Saved tokenizer to %s\n", flags.output_dir.c_str());
  std::printf("  vocab %zu tokens, %zu merges; stopped: %s\n", vocab.size(), num_merges,
              tok::to_string(reason));
  std::printf("  input: %llu sequences, %s, %llu words (%zu distinct)",
              static_cast<unsigned long long>(stats.sequences), format_bytes(stats.bytes).c_str(),
              static_cast<unsigned long long>(stats.words), counter.distinct_words());
  if (stats.sampled_out > 0) {
    std::printf(", %llu sequences skipped by --ultrafast sampling",
                static_cast<unsigned long long>(stats.sampled_out));
  }
  std::printf("\n");
  if (stats.invalid_utf8 > 0) {
    std::printf("  invalid UTF-8: %llu sequences, %llu characters replaced by U+FFFD\n",
                static_cast<unsigned long long>(stats.invalid_utf8),
                static_cast<unsigned long long>(stats.replaced_chars));
  }
  std::printf("  time: counting %.2f s, training %.2f s\n", count_s, train_s);
}

// --dataset entries as local files (Hub datasets downloaded into the HF cache). With --max_samples,
// only the files that hold that many records are downloaded.
std::vector<std::string> dataset_inputs(const TrainFlags& flags) {
  const std::vector<data::SplitSlice> parts = data::parse_split_spec(flags.split, "--split");
  for (const data::SplitSlice& part : parts) {
    if (!part.whole()) {
      throw_input_error("--split",
                        "tokenizer train reads whole splits; cap them with --max_samples");
    }
  }
  data::hub::DatasetSelection selection;
  selection.config = flags.dataset_config;
  selection.split = flags.split;
  selection.revision = flags.revision;
  selection.show_progress = !flags.quiet;
  if (flags.max_samples && parts.size() == 1) {
    selection.split = parts[0].split + "[:" + std::to_string(*flags.max_samples) + "]";
    selection.count_records = [&flags](const std::string& path) {
      data::PrepareOptions options;
      options.reader.text_column = flags.text_column;
      options.reader.text_columns = flags.text_columns;
      options.reader.skip_bad_records = true;
      return data::count_records(options, {path});
    };
  }
  return data::hub::resolve_dataset_sources(flags.dataset, selection,
                                            data::hub::HubEnv::from_environment())
      .inputs;
}

void run(TrainFlags flags) {
  if ((flags.input_files.empty() && flags.dataset.empty()) == flags.multilingual.empty()) {
    throw_input_error("--input_files/--dataset/--multilingual",
                      "give --input_files and/or --dataset, or --multilingual");
  }
  if (!flags.dataset.empty()) {
    for (std::string& path : dataset_inputs(flags)) flags.input_files.push_back(std::move(path));
  }
  if (flags.special_tokens.size() == 1 && flags.special_tokens[0] == "none")
    flags.special_tokens.clear();
  if (flags.quiet) ProgressBar::set_enabled(false);

  tok::BpeTrainerOptions options;
  options.vocab_size = flags.vocab_size;
  options.min_frequency = flags.min_frequency;
  options.special_tokens = flags.special_tokens;
  if (!flags.no_byte_alphabet) options.initial_alphabet = tok::byte_level_alphabet();
  options.limit_alphabet = flags.limit_alphabet;
  options.show_progress = !flags.quiet;
  options.num_threads = flags.threads;
  uint32_t sample_every = 1;
  // Speed modes, strongest wins (as in the original). limit_alphabet is kept for fidelity although
  // a byte-level alphabet has only 256 symbols, so it never binds.
  if (flags.ultrafast) {
    options.min_frequency = std::max<uint64_t>(options.min_frequency, 10);
    sample_every = 4;
  } else if (flags.turbo) {
    options.min_frequency = std::max<uint64_t>(options.min_frequency, 10);
    options.limit_alphabet = flags.limit_alphabet.value_or(5000);
  } else if (flags.fast) {
    options.min_frequency = std::max<uint64_t>(options.min_frequency, 5);
    options.limit_alphabet = flags.limit_alphabet.value_or(10000);
  }

  tok::TokenizerRecipe recipe;
  if (flags.normalizer == "nfkc") {
    recipe.normal_form = tok::NormalForm::kNfkc;
  } else if (flags.normalizer != "nfc") {
    throw_input_error("--normalizer", "expected nfc or nfkc, got '" + flags.normalizer + "'");
  }

  std::optional<tok::BaseTokenizer> base;
  if (!flags.base_tokenizer.empty()) base.emplace(tok::BaseTokenizer::load(flags.base_tokenizer));
  const tok::Normalizer recipe_normalizer = tok::make_recipe_normalizer(recipe);
  const auto recipe_pre_tokenizer = tok::make_recipe_pre_tokenizer(recipe);
  tok::WordCounter counter(base ? base->normalizer() : recipe_normalizer,
                           base ? base->pre_tokenizer() : *recipe_pre_tokenizer);
  counter.set_sample_every(sample_every);

  const auto count_start = std::chrono::steady_clock::now();
  for (const InputGroup& group : input_groups(flags)) {
    const uint64_t sequences = count_group(group, flags, counter);
    if (!flags.multilingual.empty()) {
      std::printf("  %s: %llu sequences\n", group.label.c_str(),
                  static_cast<unsigned long long>(sequences));
    }
    if (sequences == 0) throw_input_error(group.label, "no text found in " + group.paths.front());
  }
  const double count_s = seconds_since(count_start);
  if (counter.distinct_words() == 0) throw_input_error("input", "the inputs contain no words");

  const auto train_start = std::chrono::steady_clock::now();
  if (base) {
    const tok::ExtendReport report = base->extend(counter, options, flags.output_dir);
    std::printf("Extended %s -> %s\n", flags.base_tokenizer.c_str(), flags.output_dir.c_str());
    std::printf("  vocab %zu -> %zu (%zu new tokens), merges %zu -> %zu; stopped: %s\n",
                report.base_vocab_size, report.final_vocab_size, report.new_token_ids.size(),
                report.base_merges, report.base_merges + report.new_merges,
                tok::to_string(report.stop_reason));
    std::printf("  every new token reachable: %s\n",
                report.unreachable_ids.empty()
                    ? "yes"
                    : ("NO (" + std::to_string(report.unreachable_ids.size()) + ")").c_str());
    std::printf("  time: counting %.2f s, training + saving %.2f s\n", count_s,
                seconds_since(train_start));
    return;
  }
  const std::vector<tok::WordCount> words = counter.byte_level_words();
  const tok::BpeTrainResult result = tok::train_bpe(words, options);
  const double train_s = seconds_since(train_start);
  tok::save_trained_tokenizer(flags.output_dir, result, recipe);
  print_summary(flags, counter, result.vocab, result.merges.size(), result.stop_reason, count_s,
                train_s);
  if (!result.merges.empty() && result.num_special_tokens > 0) {
    std::printf("  special tokens:");
    for (size_t id = 0; id < result.num_special_tokens; ++id) {
      std::printf(" %s=%zu", result.vocab[id].c_str(), id);
    }
    std::printf("\n");
  }
}

void register_train(CLI::App& root) {
  CLI::App& group =
      command_group(root, "tokenizer", "Train, test and use byte-level BPE tokenizers");
  CLI::App* cmd = group.add_subcommand(
      "train", "Train a byte-level BPE tokenizer (HF BpeTrainer-exact) or extend an existing one");
  auto flags = std::make_shared<TrainFlags>();
  auto* inputs = cmd->add_option(flag("input_files"), flags->input_files,
                                 "Text/JSON/JSONL/CSV/TSV/Parquet files, directories or globs "
                                 "(.txt: one sequence per line)");
  auto* multi = cmd->add_option(flag("multilingual"), flags->multilingual,
                                "Per-language inputs: LANG=FILE[,FILE...] ...");
  inputs->excludes(multi);
  auto* datasets =
      cmd->add_option("--dataset", flags->dataset,
                      "Hub datasets owner/name[:CONFIG] (or local paths), read like --input_files");
  datasets->excludes(multi);
  cmd->add_option(flag("dataset_config"), flags->dataset_config,
                  "Hub config (subset) of the first Hub --dataset");
  cmd->add_option("--split", flags->split, "Hub split of --dataset (whole; cap with --max_samples)")
      ->capture_default_str();
  cmd->add_option("--revision", flags->revision, "Hub revision: branch, tag or commit")
      ->capture_default_str();
  cmd->add_option(flag("max_samples"), flags->max_samples,
                  "Cap on sequences (lines or records) read in --input_files mode");
  cmd->add_option(flag("max_samples_per_lang"), flags->max_samples_per_lang,
                  "Cap on sequences per language in --multilingual mode");
  cmd->add_option(flag("text_column"), flags->text_column,
                  "Preferred field for text-field detection in JSON/JSONL/CSV")
      ->capture_default_str();
  cmd->add_option(flag("text_columns"), flags->text_columns,
                  "Fields joined by a space (turns detection off)");
  cmd->add_option(flag("vocab_size"), flags->vocab_size,
                  "Total vocabulary size, special tokens included (final size when extending)")
      ->capture_default_str();
  cmd->add_option(flag("min_frequency"), flags->min_frequency, "Minimum pair count for a merge")
      ->capture_default_str();
  cmd->add_option(flag("output_dir"), flags->output_dir,
                  "Directory for tokenizer.json, tokenizer_config.json, special_tokens_map.json")
      ->capture_default_str();
  cmd->add_option("--base_tokenizer,--base-tokenizer,--extend_from,--extend-from",
                  flags->base_tokenizer,
                  "Extend this tokenizer (directory or tokenizer.json): old ids and merges kept");
  cmd->add_flag(flag("fast"), flags->fast, "min_frequency >= 5");
  cmd->add_flag(flag("turbo"), flags->turbo, "min_frequency >= 10");
  cmd->add_flag(flag("ultrafast"), flags->ultrafast,
                "min_frequency >= 10 and count words on every 4th sequence only");
  cmd->add_option(flag("special_tokens"), flags->special_tokens,
                  "Special tokens at ids 0.. ('none' for no specials)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option(flag("limit_alphabet"), flags->limit_alphabet,
                  "Keep at most this many alphabet symbols (the 256 byte symbols always count)");
  cmd->add_option(flag("normalizer"), flags->normalizer, "nfc (Qwen3) or nfkc (the original)")
      ->capture_default_str();
  cmd->add_flag(flag("no_byte_alphabet"), flags->no_byte_alphabet,
                "Alphabet = characters seen (HF's default) instead of all 256 byte symbols");
  cmd->add_option(flag("threads"), flags->threads, "Worker threads (0: MOAI_THREADS or all cores)")
      ->capture_default_str();
  cmd->add_flag(flag("skip_bad_records"), flags->skip_bad_records,
                "Skip and count malformed JSON/CSV records instead of failing");
  cmd->add_flag("--quiet,-q", flags->quiet, "No progress bars");
  cmd->callback([flags] { run(*flags); });
}

MOAI_REGISTER_COMMAND("tokenizer train", register_train);

}  // namespace
}  // namespace moai::cli
