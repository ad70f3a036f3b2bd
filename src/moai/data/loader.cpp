// Shared loader machinery: state serialisation, shuffles, rank dealing, padding and batching.
#include <nlohmann/json.hpp>

#include "moai/core/error.h"
#include "moai/data/row_loader.h"

namespace moai::data {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::vector<uint32_t> shuffled_indices(uint64_t n, uint64_t seed, uint64_t epoch, uint64_t salt) {
  MOAI_CHECK(n <= UINT32_MAX);
  std::vector<uint32_t> order(n);
  for (uint64_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
  uint64_t state = seed * 0x100000001b3ULL ^ (epoch + 1) * 0x9e3779b97f4a7c15ULL ^ salt;
  for (uint64_t i = n; i > 1; --i) {
    // Multiply-shift maps a 64-bit draw onto [0, i); the bias is below 2^-32 for i < 2^32.
    uint64_t j =
        static_cast<uint64_t>((static_cast<unsigned __int128>(splitmix64(state)) * i) >> 64);
    std::swap(order[i - 1], order[j]);
  }
  return order;
}

std::string LoaderState::to_json() const {
  return nlohmann::json{{"epoch", epoch}, {"batch_in_epoch", batch_in_epoch}, {"seed", seed}}
      .dump();
}

LoaderState LoaderState::from_json(const std::string& text) {
  LoaderState state;
  try {
    auto j = nlohmann::json::parse(text);
    state.epoch = j.at("epoch").get<uint64_t>();
    state.batch_in_epoch = j.at("batch_in_epoch").get<uint64_t>();
    state.seed = j.at("seed").get<uint64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw_input_error("loader state",
                      std::string("expected {epoch, batch_in_epoch, seed}: ") + e.what());
  }
  return state;
}

RowLoader::RowLoader(const LoaderOptions& options) : options_(options) {
  if (options.seq_len < 2) {
    throw_input_error("--max_seq_length",
                      std::to_string(options.seq_len) + ": expected at least 2");
  }
  if (options.batch_size < 1) {
    throw_input_error("--batch_size", std::to_string(options.batch_size) + ": expected at least 1");
  }
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    throw_input_error("rank", std::to_string(options.rank) + " of world size " +
                                  std::to_string(options.world_size) +
                                  ": expected 0 <= rank < world");
  }
}

void RowLoader::initialize() {
  uint64_t world = static_cast<uint64_t>(options_.world_size);
  uint64_t rows_per_rank = (num_rows() + world - 1) / world;
  uint64_t batch = static_cast<uint64_t>(options_.batch_size);
  batches_per_epoch_ = (rows_per_rank + batch - 1) / batch;
}

uint64_t RowLoader::batches_per_epoch() const {
  return batches_per_epoch_;
}

LoaderState RowLoader::state() const {
  return {epoch_, batch_in_epoch_, options_.seed};
}

void RowLoader::restore(const LoaderState& state) {
  if (state.seed != options_.seed) {
    throw_input_error("loader state", "seed " + std::to_string(state.seed) +
                                          " differs from --seed " + std::to_string(options_.seed));
  }
  if (state.batch_in_epoch > batches_per_epoch_) {
    throw_input_error("loader state", "batch " + std::to_string(state.batch_in_epoch) +
                                          " is past the epoch's " +
                                          std::to_string(batches_per_epoch_) +
                                          " batches (different dataset or batch size?)");
  }
  epoch_ = state.epoch;
  batch_in_epoch_ = state.batch_in_epoch;
}

void RowLoader::next(Batch& batch) {
  if (batch_in_epoch_ >= batches_per_epoch_) {
    ++epoch_;
    batch_in_epoch_ = 0;
  }
  if (prepared_epoch_ != epoch_) {
    start_epoch(epoch_);
    prepared_epoch_ = epoch_;
  }
  const int64_t rows = options_.batch_size;
  const int64_t seq = options_.seq_len;
  batch.batch_size = rows;
  batch.seq_len = seq;
  batch.input_ids.resize(rows * seq);
  batch.labels.resize(rows * seq);
  batch.position_ids.resize(rows * seq);
  batch.segment_ids.resize(rows * seq);
  batch.num_target_tokens = 0;
  batch.num_real_tokens = 0;
  const uint64_t world = static_cast<uint64_t>(options_.world_size);
  for (int64_t r = 0; r < rows; ++r) {
    RowView row{batch.input_ids.data() + r * seq, batch.labels.data() + r * seq,
                batch.position_ids.data() + r * seq, batch.segment_ids.data() + r * seq};
    uint64_t local_row = batch_in_epoch_ * rows + r;
    uint64_t global_row = local_row * world + options_.rank;
    int64_t used = 0;
    int32_t segments = 0;
    if (global_row < num_rows()) fill_row(global_row, row, used, segments);
    for (int64_t t = used; t < seq; ++t) {
      row.input_ids[t] = options_.pad_token_id;
      row.labels[t] = kIgnoreLabel;
      row.position_ids[t] = 0;
      row.segment_ids[t] = segments;
    }
    batch.num_real_tokens += used;
    for (int64_t t = 0; t < used; ++t) batch.num_target_tokens += row.labels[t] != kIgnoreLabel;
  }
  ++batch_in_epoch_;
}

}  // namespace moai::data
