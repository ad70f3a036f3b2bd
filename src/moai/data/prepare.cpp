// The prepare pipeline: cache lookup, streaming read, parallel tokenization, sharding, manifest.
#include "moai/data/prepare.h"

#include <unistd.h>
#include <xxhash.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>

#include "moai/core/file_util.h"
#include "moai/core/hash.h"
#include "moai/core/interrupt.h"
#include "moai/core/log.h"
#include "moai/core/progress.h"
#include "moai/core/thread_pool.h"
#include "moai/data/sft_encode.h"
#include "moai/data/token_shard.h"
#include "moai/tokenizer/tokenizer.h"

namespace moai::data {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr size_t kBatchBytes = 4u << 20;  // SFT: text per parallel tokenization batch
constexpr size_t kBatchDocs = 8192;
constexpr size_t kInFlightBytes = 16u << 20;  // pretrain: text queued for or in tokenization
constexpr size_t kInFlightDocs = 65536;

std::string format_name(FileFormat format) {
  switch (format) {
    case FileFormat::kText:
      return "txt";
    case FileFormat::kJsonl:
      return "jsonl";
    case FileFormat::kJsonArray:
      return "json";
    case FileFormat::kCsv:
      return "csv";
    case FileFormat::kTsv:
      return "tsv";
    case FileFormat::kParquet:
      return "parquet";
    default:
      return "auto";
  }
}

// Every option that changes the produced tokens or their split.
json options_to_json(const PrepareOptions& o) {
  json j = {{"mode", o.mode == DatasetMode::kSft ? "sft" : "pretrain"},
            {"format", format_name(o.reader.format)},
            {"text_split", o.reader.text_split == TextSplit::kLine ? "line" : "blank_line"},
            {"text_column", o.reader.text_column},
            {"text_columns", o.reader.text_columns},
            {"skip_bad_records", o.reader.skip_bad_records},
            {"validation_split_percentage", o.validation_split_percentage},
            {"seed", o.seed},
            {"shard_tokens", o.shard_tokens}};
  if (!o.slices.empty()) {
    json slices = json::array();
    for (const InputSlice& slice : o.slices) {
      slices.push_back(slice.slice.text() + " of " + std::to_string(slice.files.size()) +
                       " file(s)");
    }
    j["slices"] = slices;
  }
  if (o.mode == DatasetMode::kSft) {
    j["sft_format"] = sft_format_name(o.sft_format);
    j["max_seq_length"] = o.max_seq_length;
    j["overlong"] = o.overlong == OverlongPolicy::kDrop ? "drop" : "truncate";
  }
  return j;
}

std::string tokenizer_hash(const std::string& path) {
  ContentHasher hasher;
  if (is_directory(path)) {
    for (const char* name :
         {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
      std::string file = (fs::path(path) / name).string();
      if (file_exists(file)) hasher.update(hash_file_hex(file));
    }
  } else {
    hasher.update(hash_file_hex(path));
  }
  return hasher.hex();
}

bool goes_to_validation(std::string_view text, uint64_t seed, double percentage) {
  if (percentage <= 0.0) return false;
  uint64_t bucket = XXH3_64bits_withSeed(text.data(), text.size(), seed) % 10000;
  return static_cast<double>(bucket) < percentage * 100.0;
}

// Writes one split's shards as documents arrive.
class ShardSink {
 public:
  ShardSink(std::string dir, std::string prefix, bool sft, uint64_t shard_tokens, SplitInfo& info)
      : dir_(std::move(dir)),
        prefix_(std::move(prefix)),
        writer_(sft),
        shard_tokens_(shard_tokens),
        info_(info) {}

  void add(std::span<const uint32_t> tokens, std::span<const uint8_t> mask, uint64_t text_bytes) {
    writer_.add_document(tokens, mask);
    info_.documents += 1;
    info_.tokens += tokens.size();
    info_.text_bytes += text_bytes;
    for (uint8_t m : mask) info_.trained_tokens += m;
    if (writer_.num_tokens() >= shard_tokens_) flush();
  }

  void flush() {
    if (writer_.num_documents() == 0) return;
    char name[64];
    std::snprintf(name, sizeof(name), "%s-%05zu.bin", prefix_.c_str(), info_.shards.size());
    writer_.write((fs::path(dir_) / name).string());
    info_.shards.push_back(name);
    writer_.clear();
  }

 private:
  std::string dir_;
  std::string prefix_;
  ShardWriter writer_;
  uint64_t shard_tokens_;
  SplitInfo& info_;
};

// Document separator for pretrain streams (see prepare.h).
struct Separator {
  std::optional<uint32_t> append;  // appended unless the encoding already ends with an `ends` id
  std::vector<uint32_t> ends;
};

Separator pretrain_separator(const tok::Tokenizer& tokenizer, const std::string& path) {
  const auto& ids = tokenizer.special_ids();
  Separator sep;
  if (ids.eos) sep.ends.push_back(*ids.eos);
  if (ids.endoftext) sep.ends.push_back(*ids.endoftext);
  sep.append = ids.endoftext ? ids.endoftext : ids.eos;
  if (!sep.append) {
    throw_input_error(path,
                      "tokenizer has neither <|endoftext|> nor an EOS token to end documents with");
  }
  return sep;
}

void check_options(const PrepareOptions& o) {
  if (o.output_dir.empty()) throw_input_error("--output_dir", "required");
  if (o.tokenizer_path.empty()) throw_input_error("--tokenizer_path", "required");
  if (o.validation_split_percentage < 0 || o.validation_split_percentage >= 100) {
    throw_input_error("--validation_split_percentage",
                      std::to_string(o.validation_split_percentage) + ": expected 0 <= p < 100");
  }
  if (o.mode == DatasetMode::kSft && o.max_seq_length < 2) {
    throw_input_error("--max_seq_length",
                      std::to_string(o.max_seq_length) + ": expected at least 2");
  }
  if (o.shard_tokens == 0) throw_input_error("--shard_tokens", "expected at least 1");
}

std::string compute_key(const PrepareOptions& options, const std::vector<InputFile>& files,
                        const std::string& tok_hash) {
  ContentHasher hasher;
  hasher.update("moai-data-cache-v1 shard-v" + std::to_string(kShardVersion) + "\n");
  hasher.update(options_to_json(options).dump());
  hasher.update(tok_hash);
  for (const InputFile& file : files) {
    hasher.update(format_name(file.format));
    hasher.update_u64(static_cast<uint64_t>(file.compression));
    hasher.update(hash_file_hex(file.path));
  }
  return hasher.hex().substr(0, 24);
}

// Removes "<key>.tmp-*" directories left by interrupted runs.
void remove_stale_temporaries(const std::string& output_dir, const std::string& key) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(output_dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.rfind(key + ".tmp-", 0) == 0) fs::remove_all(entry.path(), ec);
  }
}

void point_to_entry(const std::string& output_dir, const std::string& key) {
  write_file_atomic((fs::path(output_dir) / "dataset.json").string(),
                    json{{"cache_key", key}}.dump() + "\n");
}

class Preparer {
 public:
  Preparer(const PrepareOptions& options, const tok::Tokenizer& tokenizer, const std::string& dir,
           DatasetManifest& manifest, uint64_t input_bytes)
      : o_(options),
        tokenizer_(tokenizer),
        manifest_(manifest),
        pool_(options.num_threads ? options.num_threads : default_thread_count()),
        train_(dir, "train", options.mode == DatasetMode::kSft, options.shard_tokens,
               manifest.train),
        validation_(dir, "validation", options.mode == DatasetMode::kSft, options.shard_tokens,
                    manifest.validation),
        progress_(options.mode == DatasetMode::kSft ? "prepare sft" : "prepare", input_bytes, "B") {
    if (!options.show_progress) ProgressBar::set_enabled(false);
  }

  // Pool tasks point into jobs_: wait for them before the jobs go away (error or Ctrl-C paths).
  ~Preparer() {
    for (auto& job : jobs_) {
      if (job->done.valid()) job->done.wait();
    }
  }

  ReadStats run_pretrain(const std::vector<InputFile>& files) {
    separator_ = pretrain_separator(tokenizer_, o_.tokenizer_path);
    // Each document is its own pool task, so both threads stay busy however uneven the documents
    // are; results are written in input order, and at most kInFlightBytes of text is in flight.
    ReadStats stats = read_texts(
        files, o_.reader, [&](std::string_view text, const std::string& file, long long) {
          if (!selector_.keep(file)) return;
          auto job = std::make_unique<PretrainJob>();
          job->text.assign(text);
          PretrainJob* raw = job.get();
          job->done = pool_.submit([this, raw] { raw->ids = tokenizer_.encode(raw->text, true); });
          in_flight_bytes_ += text.size();
          jobs_.push_back(std::move(job));
          while (in_flight_bytes_ > kInFlightBytes || jobs_.size() > kInFlightDocs) {
            write_oldest_job();
          }
        });
    while (!jobs_.empty() && !interrupt_requested()) write_oldest_job();
    return stats;
  }

  ReadStats run_sft(const std::vector<InputFile>& files) {
    std::string current_file;
    SftFormat format = o_.sft_format;
    ReadStats stats = read_json_records(
        files, o_.reader, [&](std::string_view json, const std::string& file, long long) {
          if (!selector_.keep(file)) return;
          if (file != current_file) {
            current_file = file;
            format = o_.sft_format == SftFormat::kAuto ? detect_sft_format(json) : o_.sft_format;
            manifest_.sft_formats.push_back(file + ": " + sft_format_name(format));
          }
          conversations_.push_back(sft_record_to_messages(json, format));
          texts_.emplace_back(json);  // the validation split hashes the record
          batch_bytes_ += json.size();
          if (batch_bytes_ >= kBatchBytes / 4 || texts_.size() >= kBatchDocs) flush_sft();
        });
    flush_sft();
    return stats;
  }

  void select_rows(RowSelector selector) { selector_ = std::move(selector); }

  void finish() {
    train_.flush();
    validation_.flush();
    progress_.finish();
  }

 private:
  struct PretrainJob {
    std::string text;
    std::vector<uint32_t> ids;
    std::future<void> done;
  };

  void write_oldest_job() {
    PretrainJob& job = *jobs_.front();
    job.done.get();  // rethrows a tokenizer error
    std::vector<uint32_t>& ids = job.ids;
    bool ended = !ids.empty() && std::find(separator_.ends.begin(), separator_.ends.end(),
                                           ids.back()) != separator_.ends.end();
    if (!ended) ids.push_back(*separator_.append);
    sink_for(job.text).add(ids, {}, job.text.size());
    progress_.add(job.text.size());
    in_flight_bytes_ -= job.text.size();
    jobs_.pop_front();
  }

  void flush_sft() {
    if (texts_.empty()) return;
    std::vector<SftSample> samples(texts_.size());
    pool_.parallel_for(samples.size(), [&](size_t i) {
      samples[i] = encode_sft_conversation(tokenizer_, conversations_[i]);
    });
    const size_t limit = static_cast<size_t>(o_.max_seq_length);
    for (size_t i = 0; i < samples.size(); ++i) {
      SftSample& sample = samples[i];
      if (sample.tokens.size() > limit) {
        if (o_.overlong == OverlongPolicy::kDrop) {
          ++manifest_.dropped_samples;
          continue;
        }
        sample.tokens.resize(limit);
        sample.loss_mask.resize(limit);
        if (std::find(sample.loss_mask.begin(), sample.loss_mask.end(), 1) ==
            sample.loss_mask.end()) {
          ++manifest_.dropped_samples;  // nothing left to train on
          continue;
        }
        ++manifest_.truncated_samples;
      }
      sink_for(texts_[i]).add(sample.tokens, sample.loss_mask, sample.text_bytes);
    }
    progress_.add(batch_bytes_);
    texts_.clear();
    conversations_.clear();
    batch_bytes_ = 0;
  }

  ShardSink& sink_for(std::string_view text) {
    return goes_to_validation(text, o_.seed, o_.validation_split_percentage) ? validation_ : train_;
  }

  const PrepareOptions& o_;
  const tok::Tokenizer& tokenizer_;
  DatasetManifest& manifest_;
  ThreadPool pool_;
  ShardSink train_;
  ShardSink validation_;
  ProgressBar progress_;
  Separator separator_;
  std::deque<std::unique_ptr<PretrainJob>> jobs_;
  size_t in_flight_bytes_ = 0;
  std::vector<std::string> texts_;
  std::vector<std::vector<tok::ChatMessage>> conversations_;
  size_t batch_bytes_ = 0;
  RowSelector selector_;
};

RowSelector make_row_selector(const PrepareOptions& options) {
  std::vector<uint64_t> totals;
  for (const InputSlice& slice : options.slices) {
    totals.push_back(slice.slice.needs_total() ? count_records(options, slice.files) : 0);
  }
  return RowSelector(options.slices, totals);
}

}  // namespace

uint64_t count_records(const PrepareOptions& options, const std::vector<std::string>& paths) {
  const std::vector<InputFile> files = expand_inputs(paths, options.reader.format);
  ReaderOptions reader = options.reader;
  reader.skip_bad_records = true;  // the real pass reports them
  auto ignore = [](std::string_view, const std::string&, long long) {};
  ReadStats stats = options.mode == DatasetMode::kSft ? read_json_records(files, reader, ignore)
                                                      : read_texts(files, reader, ignore);
  return stats.records;
}

std::string dataset_cache_key(const PrepareOptions& options) {
  auto files = expand_inputs(options.inputs, options.reader.format);
  return compute_key(options, files, tokenizer_hash(options.tokenizer_path));
}

PrepareResult prepare_dataset(const PrepareOptions& options) {
  auto start = std::chrono::steady_clock::now();
  check_options(options);
  PrepareResult result;
  std::vector<InputFile> files = expand_inputs(options.inputs, options.reader.format);
  for (const auto& file : files) result.input_bytes += fs::file_size(file.path);
  if (!file_exists(options.tokenizer_path) && !is_directory(options.tokenizer_path)) {
    throw_input_error("--tokenizer_path", options.tokenizer_path + ": no such file or directory");
  }
  const std::string tok_hash = tokenizer_hash(options.tokenizer_path);
  const std::string key = compute_key(options, files, tok_hash);
  const std::string entry = (fs::path(options.output_dir) / key).string();
  result.entry_dir = entry;

  std::error_code ec;
  fs::create_directories(options.output_dir, ec);
  if (ec) throw_io_error(options.output_dir, "cannot create directory: " + ec.message());
  remove_stale_temporaries(options.output_dir, key);

  if (!options.force && file_exists((fs::path(entry) / "manifest.json").string())) {
    PreparedDataset existing = PreparedDataset::open(entry);  // validates every shard
    result.reused = true;
    result.manifest = existing.manifest();
    point_to_entry(options.output_dir, key);
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  }

  auto load_start = std::chrono::steady_clock::now();
  tok::Tokenizer tokenizer = tok::Tokenizer::load(options.tokenizer_path);
  result.tokenizer_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  const std::string temp = entry + ".tmp-" + std::to_string(::getpid());
  fs::create_directories(temp, ec);
  if (ec) throw_io_error(temp, "cannot create directory: " + ec.message());

  DatasetManifest& manifest = result.manifest;
  manifest.mode = options.mode;
  manifest.cache_key = key;
  manifest.tokenizer_path = options.tokenizer_path;
  manifest.tokenizer_hash = tok_hash;
  manifest.vocab_size = tokenizer.vocab_size();
  manifest.options_json = options_to_json(options).dump();
  for (const auto& file : files) manifest.inputs.push_back(file.path);

  try {
    Preparer preparer(options, tokenizer, temp, manifest, result.input_bytes);
    if (!options.slices.empty()) preparer.select_rows(make_row_selector(options));
    ReadStats stats =
        options.mode == DatasetMode::kSft ? preparer.run_sft(files) : preparer.run_pretrain(files);
    if (interrupt_requested())
      throw Interrupted("interrupted; the partial cache entry was removed");
    preparer.finish();
    manifest.fields_detected = stats.fields_detected;
    manifest.bad_records = stats.bad_records;
    manifest.empty_records = stats.empty_records;
    for (const auto& message : stats.error_messages) MOAI_WARN("skipped bad record: " << message);
    if (manifest.train.documents + manifest.validation.documents == 0) {
      throw_input_error("--dataset", "no documents were read (" + std::to_string(stats.records) +
                                         " records, " + std::to_string(stats.empty_records) +
                                         " empty, " + std::to_string(stats.bad_records) + " bad)");
    }
    write_file_atomic((fs::path(temp) / "manifest.json").string(), manifest.to_json());
    fs::remove_all(entry, ec);  // a stale entry without manifest, or --force
    rename_atomic(temp, entry);
  } catch (...) {
    fs::remove_all(temp, ec);
    throw;
  }
  point_to_entry(options.output_dir, key);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace moai::data
