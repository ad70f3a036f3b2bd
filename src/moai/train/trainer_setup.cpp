#include "moai/train/trainer_setup.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string_view>
#include <thread>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/log.h"
#include "moai/data/hub_dataset.h"
#include "moai/data/prepare.h"

namespace moai::train {
namespace fs = std::filesystem;

bool is_prepared_dataset(const std::string& path) {
  return is_directory(path) && (file_exists((fs::path(path) / "dataset.json").string()) ||
                                file_exists((fs::path(path) / "manifest.json").string()));
}

namespace {

uint64_t fnv1a(std::string_view text) {
  uint64_t hash = 1469598103934665603ull;
  for (const char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return hash;
}

// Exits the process (status 3) unless disarmed within `seconds`: a collective that never returns
// because another rank is gone is reported instead of hanging.
class Watchdog {
 public:
  Watchdog(double seconds, std::string message) : message_(std::move(message)) {
    thread_ = std::thread([this, seconds] {
      std::unique_lock<std::mutex> lock(mutex_);
      if (done_.wait_for(lock, std::chrono::duration<double>(seconds),
                         [this] { return disarmed_; }))
        return;
      std::fprintf(stderr, "moai: %s\n", message_.c_str());
      std::fflush(stderr);
      std::_Exit(3);
    });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      disarmed_ = true;
    }
    done_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  std::string message_;
  std::mutex mutex_;
  std::condition_variable done_;
  bool disarmed_ = false;
  std::thread thread_;
};

double env_seconds(const char* name, double fallback) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  char* end = nullptr;
  const double value = std::strtod(text, &end);
  if (*end != '\0' || !(value > 0))
    throw_input_error(name,
                      std::string("expected a positive number of seconds, got \"") + text + "\"");
  return value;
}

void maybe_delay_for_test(const Communicator& comm) {
  const char* text = std::getenv("MOAI_TEST_STARTUP_DELAY_RANK");
  int rank = -1;
  double seconds = 0;
  if (text != nullptr && std::sscanf(text, "%d:%lf", &rank, &seconds) == 2 && rank == comm.rank())
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

}  // namespace

void check_ranks_agree(const TrainConfig& config, Communicator& comm, double timeout_s) {
  if (comm.world_size() == 1) return;
  timeout_s = env_seconds("MOAI_STARTUP_TIMEOUT_S", timeout_s);
  maybe_delay_for_test(comm);
  // The build: compiler, date and time of this file's compilation and the source path.
  static const std::string build = std::string(__VERSION__) + " " + __DATE__ + " " + __TIME__;
  const uint64_t mine[2] = {fnv1a(train_config_to_json(config)), fnv1a(build)};
  uint64_t root[2] = {mine[0], mine[1]};
  int64_t differs = 0;
  {
    char message[256];
    std::snprintf(message, sizeof(message),
                  "rank %d of %d: no answer from the other ranks within %g s at start-up (a rank "
                  "died, is stuck, or its host is unreachable); giving up",
                  comm.rank(), comm.world_size(), timeout_s);
    Watchdog watchdog(timeout_s, message);
    comm.broadcast(root, sizeof(root), 0);
    differs = (mine[0] != root[0] ? 1 : 0) | (mine[1] != root[1] ? 2 : 0);
    comm.allreduce_max(&differs, 1);
  }
  if (differs & 1)
    throw_input_error("command line",
                      "the ranks were started with different settings (every rank "
                      "must get the same flags and config file)");
  if (differs & 2)
    throw_input_error("moai binary",
                      "the ranks run different builds of moai (install the same one "
                      "on every node)");
}

bool directory_shared_by_all_ranks(const std::string& dir, Communicator& comm) {
  if (comm.node_count() <= 1) return true;
  uint64_t nonce = 0;
  if (comm.is_root())
    nonce = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
            (static_cast<uint64_t>(::getpid()) << 32);
  comm.broadcast(&nonce, sizeof(nonce), 0);
  const std::string probe =
      (fs::path(dir) / (".moai-shared-probe-" + std::to_string(nonce))).string();
  if (comm.is_root()) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    write_file_atomic(probe, "probe\n");
  }
  comm.barrier();
  int64_t missing = file_exists(probe) ? 0 : 1;
  comm.allreduce_max(&missing, 1);
  if (comm.is_root()) {
    std::error_code ec;
    fs::remove(probe, ec);
  }
  return missing == 0;
}

data::PreparedDataset open_training_data(const TrainConfig& config,
                                         const std::vector<std::string>& sources,
                                         const std::string& tokenizer_path,
                                         double hold_out_fraction, Communicator& comm,
                                         const std::string& cache_subdir,
                                         const std::string& split) {
  size_t prepared = 0;
  for (const std::string& source : sources) prepared += is_prepared_dataset(source) ? 1 : 0;
  if (prepared == 1 && sources.size() == 1) return data::PreparedDataset::open(sources[0]);
  if (prepared > 0)
    throw_input_error("--dataset",
                      "a prepared dataset cannot be mixed with other inputs; prepare them "
                      "together with moai data prepare, or use --sequential");
  if (tokenizer_path.empty())
    throw_input_error("--tokenizer_path", "required to tokenize raw input files");

  data::PrepareOptions options;
  options.mode = config.mode == "sft" ? data::DatasetMode::kSft : data::DatasetMode::kPretrain;
  options.tokenizer_path = tokenizer_path;
  options.output_dir = (fs::path(config.output_dir) / cache_subdir).string();
  if (!config.text_column.empty()) options.reader.text_column = config.text_column;
  options.max_seq_length = config.max_seq_length;
  options.validation_split_percentage = hold_out_fraction * 100.0;
  options.seed = static_cast<uint64_t>(config.seed);
  options.num_threads = static_cast<size_t>(config.threads);
  // One rank tokenizes per filesystem: rank 0 when output_dir is shared by every node, else each
  // node's local rank 0; the others open the finished cache entry afterwards. An error there must
  // not leave the others waiting forever, so the outcome is shared before anyone proceeds.
  const bool shared = directory_shared_by_all_ranks(config.output_dir, comm);
  const bool preparer = shared ? comm.is_root() : comm.local_rank() == 0;
  if (comm.is_root() && comm.node_count() > 1)
    std::fprintf(stderr, "%d nodes: %s\n", comm.node_count(),
                 shared ? "output_dir is shared by every node: data prepared once"
                        : "output_dir is node-local: data prepared once per node (checkpoints need "
                          "a shared output_dir to resume)");
  options.show_progress = preparer;
  int64_t failed = 0;
  std::string message;
  if (preparer) {
    try {
      // Hub datasets download here, on rank 0 (the cache's locks keep other processes waiting).
      data::hub::DatasetSelection selection;
      selection.config = config.dataset_config;
      selection.split = split;
      selection.revision = config.revision;
      selection.show_progress = comm.is_root();
      data::hub::resolve_prepare_inputs(options, sources, selection);
      const data::PrepareResult result = data::prepare_dataset(options);
      MOAI_INFO((result.reused ? "reusing prepared data " : "prepared data ")
                << result.entry_dir << ": " << result.manifest.train.documents << " train / "
                << result.manifest.validation.documents << " held-out documents, "
                << result.manifest.train.tokens << " train tokens");
    } catch (...) {
      failed = 1;
      comm.allreduce_max(&failed, 1);
      throw;
    }
  }
  comm.allreduce_max(&failed, 1);
  if (failed)
    throw_input_error("--dataset", "data preparation failed (see the preparing rank's message)");
  return data::PreparedDataset::open(options.output_dir);
}

std::string resolve_tokenizer_path(const TrainConfig& config) {
  if (!config.tokenizer_path.empty()) return config.tokenizer_path;
  if (!config.pretrained_model.empty() &&
      file_exists((fs::path(config.pretrained_model) / "tokenizer.json").string()))
    return config.pretrained_model;
  for (const std::string& source : config.dataset) {
    if (is_prepared_dataset(source)) {
      const auto dataset = data::PreparedDataset::open(source, /*verify_checksums=*/false);
      if (!dataset.manifest().tokenizer_path.empty()) return dataset.manifest().tokenizer_path;
    }
  }
  throw_input_error("--tokenizer_path",
                    "required (no tokenizer.json in --pretrained_model and no "
                    "prepared dataset that names one)");
}

model::Qwen3Config resolve_model_config(const TrainConfig& config, const std::string& resume_dir) {
  if (!resume_dir.empty()) return model::load_qwen3_config(resume_dir);
  if (!config.pretrained_model.empty()) return model::load_qwen3_config(config.pretrained_model);
  if (!config.model_config.empty()) return model::load_qwen3_config(config.model_config);
  if (!config.model_inline_json.empty())
    return model::parse_qwen3_config(config.model_inline_json, "--config model:");
  throw_input_error("--model_config",
                    "give --model_config (e.g. configs/tiny.json), --pretrained_model, "
                    "or a model: section in --config");
}

}  // namespace moai::train
