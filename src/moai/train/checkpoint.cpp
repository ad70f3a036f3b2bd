#include "moai/train/checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/json_util.h"
#include "moai/core/log.h"
#include "moai/core/safetensors.h"
#include "moai/train/checkpoint_verify.h"

namespace moai::train {
namespace fs = std::filesystem;

namespace {
constexpr const char* kPartialSuffix = ".partial";
constexpr const char* kOptimizerFile = "optimizer.safetensors";
}  // namespace

std::string TrainerState::to_json() const {
  nlohmann::ordered_json out;
  out["step"] = step;
  out["optimizer_steps"] = optimizer_steps;
  out["loader_state"] = nlohmann::json::parse(loader_state.empty() ? "null" : loader_state);
  out["seed"] = seed;
  out["world_size"] = world_size;
  out["batch_size"] = batch_size;
  out["accumulation"] = accumulation;
  out["tokens_seen"] = tokens_seen;
  out["bad_steps_total"] = bad_steps_total;
  out["bad_steps_in_row"] = bad_steps_in_row;
  out["elapsed_seconds"] = elapsed_seconds;
  out["log_loss_sum"] = log_loss_sum;
  out["log_loss_count"] = log_loss_count;
  out["stage"] = stage;
  out["last_eval_step"] = last_eval_step;
  out["last_eval_loss"] = last_eval_loss;
  return out.dump(2);
}

TrainerState TrainerState::from_json(const std::string& text, const std::string& where) {
  TrainerState state;
  try {
    const nlohmann::json in = nlohmann::json::parse(text);
    state.step = json_integer<int64_t>(in, "step", where);
    state.optimizer_steps = json_integer<int64_t>(in, "optimizer_steps", where);
    state.loader_state = in.at("loader_state").is_null() ? "" : in.at("loader_state").dump();
    state.seed = json_integer<uint64_t>(in, "seed", where);
    state.world_size = json_integer<int64_t>(in, "world_size", where);
    state.batch_size = json_integer_or<int64_t>(in, "batch_size", where, 0);
    state.accumulation = json_integer_or<int64_t>(in, "accumulation", where, 0);
    state.tokens_seen = json_integer<int64_t>(in, "tokens_seen", where);
    state.bad_steps_total = json_integer<int64_t>(in, "bad_steps_total", where);
    state.bad_steps_in_row = json_integer<int64_t>(in, "bad_steps_in_row", where);
    state.elapsed_seconds = in.at("elapsed_seconds").get<double>();
    state.log_loss_sum = in.at("log_loss_sum").get<double>();
    state.log_loss_count = json_integer<int64_t>(in, "log_loss_count", where);
    state.stage = json_integer_or<int64_t>(in, "stage", where, 0);
    state.last_eval_step = json_integer_or<int64_t>(in, "last_eval_step", where, -1);
    state.last_eval_loss = in.value("last_eval_loss", 0.0);
  } catch (const nlohmann::json::exception& e) {
    throw_input_error(where, std::string("malformed trainer state: ") + e.what());
  }
  return state;
}

void prepare_output_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw_input_error("--output_dir", "cannot create \"" + dir + "\": " + ec.message());
  const std::string probe = (fs::path(dir) / ".moai-write-test").string();
  try {
    write_file_atomic(probe, "ok\n");
  } catch (const Error& e) {
    throw_input_error("--output_dir", "\"" + dir + "\" is not writable: " + e.what());
  }
  fs::remove(probe, ec);
}

int64_t checkpoint_step_from_name(const std::string& name) {
  static const std::string prefix = "checkpoint-";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return -1;
  int64_t step = 0;
  for (size_t i = prefix.size(); i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9' || step > (INT64_MAX - 9) / 10) return -1;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

CheckpointManager::CheckpointManager(std::string output_dir, int64_t total_limit)
    : output_dir_(std::move(output_dir)), total_limit_(total_limit) {}

bool CheckpointManager::is_complete(const std::string& dir) {
  return file_exists((fs::path(dir) / kCheckpointMarker).string());
}

std::string CheckpointManager::partial_dir(int64_t step) const {
  return (fs::path(output_dir_) / ("checkpoint-" + std::to_string(step) + kPartialSuffix)).string();
}

std::string CheckpointManager::save(int64_t step,
                                    const std::function<void(const std::string&)>& write_contents) {
  const fs::path final_dir = fs::path(output_dir_) / ("checkpoint-" + std::to_string(step));
  const fs::path partial = fs::path(final_dir.string() + kPartialSuffix);
  std::error_code ec;
  fs::create_directories(output_dir_, ec);
  fs::remove_all(partial, ec);
  fs::create_directories(partial, ec);
  if (ec) throw_io_error(partial.string(), "cannot create directory: " + ec.message());

  write_contents(partial.string());
  write_file_atomic((partial / kCheckpointMarker).string(),
                    checkpoint_marker_text(partial.string(), step));
  fsync_path(partial.string());
  // Read back before it replaces or outlives anything: a checkpoint that does not verify stays a
  // .partial leftover and the previous ones are kept.
  try {
    verify_checkpoint(partial.string());
  } catch (const InputError& e) {
    throw_io_error(partial.string(),
                   std::string("checkpoint did not verify after writing: ") + e.what());
  }

  if (fs::exists(final_dir)) {
    // Same step saved before (a resumed run reaching it again): move the old one aside first, so a
    // crash between the two renames still leaves one complete copy.
    const fs::path old = fs::path(final_dir.string() + ".old");
    fs::remove_all(old, ec);
    rename_atomic(final_dir.string(), old.string());
    rename_atomic(partial.string(), final_dir.string());
    fs::remove_all(old, ec);
  } else {
    rename_atomic(partial.string(), final_dir.string());
  }
  prune();
  return final_dir.string();
}

std::vector<CheckpointInfo> CheckpointManager::list_complete() const {
  std::vector<CheckpointInfo> found;
  std::error_code ec;
  if (!fs::is_directory(output_dir_, ec)) return found;
  for (const auto& entry : fs::directory_iterator(output_dir_, ec)) {
    if (!entry.is_directory()) continue;
    const int64_t step = checkpoint_step_from_name(entry.path().filename().string());
    if (step < 0 || !is_complete(entry.path().string())) continue;
    found.push_back({step, entry.path().string()});
  }
  std::sort(found.begin(), found.end(),
            [](const CheckpointInfo& a, const CheckpointInfo& b) { return a.step < b.step; });
  return found;
}

std::optional<CheckpointInfo> CheckpointManager::latest_complete() const {
  auto all = list_complete();
  if (all.empty()) return std::nullopt;
  return all.back();
}

int CheckpointManager::remove_partial() const {
  int removed = 0;
  std::error_code ec;
  if (!fs::is_directory(output_dir_, ec)) return 0;
  std::vector<fs::path> doomed;
  for (const auto& entry : fs::directory_iterator(output_dir_, ec)) {
    const std::string name = entry.path().filename().string();
    const bool partial = name.size() > 8 && name.ends_with(kPartialSuffix);
    const bool old = name.starts_with("checkpoint-") && name.ends_with(".old");
    if (entry.is_directory() && (partial || old)) doomed.push_back(entry.path());
  }
  for (const auto& path : doomed) {
    fs::remove_all(path, ec);
    ++removed;
  }
  return removed;
}

std::optional<CheckpointInfo> CheckpointManager::resolve_resume(const std::string& request) const {
  if (request.empty()) return std::nullopt;
  if (request == "auto") return newest_verified();
  if (!is_directory(request))
    throw_input_error("--resume_from_checkpoint", "\"" + request + "\" is not a directory");
  if (!is_complete(request))
    throw_input_error(
        "--resume_from_checkpoint",
        "\"" + request + "\" has no " + kCheckpointMarker +
            " marker: it is an interrupted save or not a checkpoint (use auto to pick the "
            "latest complete one)");
  verify_checkpoint(request);
  const int64_t step =
      checkpoint_step_from_name(fs::path(request).lexically_normal().filename().string());
  return CheckpointInfo{step, request};
}

std::optional<CheckpointInfo> CheckpointManager::newest_verified() const {
  auto all = list_complete();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    try {
      verify_checkpoint(it->path);
      return *it;
    } catch (const InputError& e) {
      MOAI_WARN("skipping corrupt checkpoint " << it->path << ": " << e.what()
                                               << "; falling back to the previous one");
    }
  }
  return std::nullopt;
}

void CheckpointManager::prune() {
  if (total_limit_ <= 0) return;
  auto all = list_complete();
  std::error_code ec;
  while (static_cast<int64_t>(all.size()) > total_limit_) {
    MOAI_INFO("removing old checkpoint " << all.front().path << " (save_total_limit "
                                         << total_limit_ << ")");
    // Drop the marker first: a crash halfway through the removal leaves an incomplete directory
    // that is ignored (and cleaned up by remove_partial's neighbours), not a damaged one that looks
    // complete.
    fs::remove((fs::path(all.front().path) / kCheckpointMarker), ec);
    fs::remove_all(all.front().path, ec);
    all.erase(all.begin());
  }
}

void save_optimizer_moments(const std::string& dir, const float* m, const float* v, int64_t count,
                            int64_t optimizer_steps) {
  SafetensorsWriter writer;
  writer.add_f32("exp_avg", {count}, m);
  writer.add_f32("exp_avg_sq", {count}, v);
  writer.set_metadata("optimizer", "adamw");
  writer.set_metadata("step", std::to_string(optimizer_steps));
  writer.write((fs::path(dir) / kOptimizerFile).string());
}

void load_optimizer_moments(const std::string& dir, float* m, float* v, int64_t count) {
  const std::string path = (fs::path(dir) / kOptimizerFile).string();
  if (!file_exists(path)) throw_input_error(path, "missing: the checkpoint has no optimizer state");
  SafetensorsFile file(path);
  for (const auto& [name, out] : {std::pair{"exp_avg", m}, std::pair{"exp_avg_sq", v}}) {
    const SafetensorsTensor& tensor = file.get(name);
    if (tensor.dtype != "F32" || tensor.numel() != count)
      throw_input_error(path, std::string(name) + ": expected F32 with " + std::to_string(count) +
                                  " values (this model's layout), got " + tensor.dtype + " with " +
                                  std::to_string(tensor.numel()));
    tensor.to_f32(out, path);
  }
}

}  // namespace moai::train

namespace moai::train {
namespace {

std::string shard_file_name(int rank, int world) {
  char name[64];
  std::snprintf(name, sizeof(name), "optimizer-rank%05d-of-%05d.safetensors", rank, world);
  return name;
}

int64_t metadata_int(const SafetensorsFile& file, const std::string& key) {
  const auto found = file.metadata().find(key);
  if (found == file.metadata().end())
    throw_input_error(file.path(), "metadata \"" + key + "\" missing (not a moai optimizer shard)");
  try {
    return std::stoll(found->second);
  } catch (const std::exception&) {
    throw_input_error(file.path(), "metadata \"" + key + "\": expected an integer, got \"" +
                                       found->second + "\"");
  }
}

// Copies the overlap of the file's [file_begin, file_begin + numel) with [begin, end).
int64_t copy_overlap(const SafetensorsFile& file, int64_t file_begin, int64_t begin, int64_t end,
                     float* m, float* v) {
  int64_t copied = 0;
  for (const auto& [name, out] : {std::pair{"exp_avg", m}, std::pair{"exp_avg_sq", v}}) {
    const SafetensorsTensor& tensor = file.get(name);
    if (tensor.dtype != "F32")
      throw_input_error(file.path(), std::string(name) + ": expected F32, got " + tensor.dtype);
    const int64_t first = std::max(begin, file_begin);
    const int64_t last = std::min(end, file_begin + tensor.numel());
    if (first >= last) return 0;
    std::memcpy(out + (first - begin), tensor.data + (first - file_begin) * sizeof(float),
                static_cast<size_t>(last - first) * sizeof(float));
    copied = last - first;
  }
  return copied;
}

}  // namespace

void save_optimizer_shard(const std::string& dir, const float* m, const float* v, int64_t begin,
                          int64_t end, int64_t total, int64_t optimizer_steps, int rank,
                          int world) {
  SafetensorsWriter writer;
  writer.add_f32("exp_avg", {end - begin}, m);
  writer.add_f32("exp_avg_sq", {end - begin}, v);
  writer.set_metadata("optimizer", "adamw");
  writer.set_metadata("step", std::to_string(optimizer_steps));
  writer.set_metadata("begin", std::to_string(begin));
  writer.set_metadata("end", std::to_string(end));
  writer.set_metadata("total", std::to_string(total));
  writer.write((fs::path(dir) / shard_file_name(rank, world)).string());
}

void load_optimizer_range(const std::string& dir, int64_t begin, int64_t end, int64_t total,
                          float* m, float* v) {
  const std::string whole = (fs::path(dir) / kOptimizerFile).string();
  if (file_exists(whole)) {
    SafetensorsFile file(whole);
    if (file.get("exp_avg").numel() != total || file.get("exp_avg_sq").numel() != total)
      throw_input_error(
          whole, "expected moments of " + std::to_string(total) + " values (this model's layout)");
    copy_overlap(file, 0, begin, end, m, v);
    return;
  }
  int64_t covered = 0;
  bool any = false;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("optimizer-rank", 0) != 0 || entry.path().extension() != ".safetensors")
      continue;
    any = true;
    SafetensorsFile file(entry.path().string());
    if (metadata_int(file, "total") != total)
      throw_input_error(file.path(), "moments of a " + std::to_string(metadata_int(file, "total")) +
                                         "-float model, this one has " + std::to_string(total));
    const int64_t file_begin = metadata_int(file, "begin");
    if (file.get("exp_avg").numel() != metadata_int(file, "end") - file_begin)
      throw_input_error(file.path(), "exp_avg size does not match its begin/end metadata");
    covered += copy_overlap(file, file_begin, begin, end, m, v);
  }
  if (!any) throw_input_error(whole, "missing: the checkpoint has no optimizer state");
  if (covered != end - begin)
    throw_input_error(dir, "optimizer shards cover " + std::to_string(covered) + " of the " +
                               std::to_string(end - begin) +
                               " values this rank needs (a shard file is missing)");
}

}  // namespace moai::train
