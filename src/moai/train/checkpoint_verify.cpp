#include "moai/train/checkpoint_verify.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/hash.h"
#include "moai/core/json_util.h"
#include "moai/core/safetensors.h"
#include "moai/train/checkpoint.h"

namespace moai::train {
namespace fs = std::filesystem;

namespace {

void check_listed_files(const fs::path& dir, const nlohmann::json& files) {
  for (const auto& [name, expected] : files.items()) {
    const fs::path path = dir / name;
    std::error_code ec;
    const auto bytes = fs::file_size(path, ec);
    if (ec) throw_input_error(path.string(), "listed in the checkpoint marker but unreadable");
    const uint64_t listed = json_integer<uint64_t>(expected, "bytes", path.string());
    if (bytes != listed)
      throw_input_error(path.string(), "size " + std::to_string(bytes) +
                                           " bytes, the marker says " + std::to_string(listed) +
                                           " (truncated?)");
    if (hash_file_hex(path.string()) != expected.at("xxh3").get<std::string>())
      throw_input_error(path.string(), "checksum differs from the checkpoint marker (corrupted)");
  }
}

// Structure checks that hold for every checkpoint, with or without checksums.
void check_structure(const fs::path& dir) {
  for (const char* name : {"model.safetensors", "optimizer.safetensors"}) {
    const fs::path path = dir / name;
    if (fs::exists(path)) SafetensorsFile file(path.string());
  }
  const fs::path state = dir / "trainer_state.json";
  if (!fs::exists(state)) throw_input_error(state.string(), "missing");
  (void)TrainerState::from_json(read_file(state.string()), state.string());
}

}  // namespace

std::string checkpoint_marker_text(const std::string& dir, int64_t step) {
  nlohmann::ordered_json files = nlohmann::ordered_json::object();
  std::vector<fs::path> paths;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().filename() != kCheckpointMarker)
      paths.push_back(entry.path());
  std::sort(paths.begin(), paths.end());
  for (const auto& path : paths)
    files[path.filename().string()] = {{"bytes", fs::file_size(path)},
                                       {"xxh3", hash_file_hex(path.string())}};
  nlohmann::ordered_json marker = {{"step", step}, {"files", files}};
  return marker.dump(1) + "\n";
}

void verify_checkpoint(const std::string& dir) {
  const fs::path marker_path = fs::path(dir) / kCheckpointMarker;
  const std::string text = read_file(marker_path.string());
  const auto marker = nlohmann::json::parse(text, nullptr, false);
  try {
    if (marker.is_object() && marker.contains("files")) check_listed_files(dir, marker.at("files"));
  } catch (const nlohmann::json::exception& e) {
    throw_input_error(marker_path.string(), std::string("malformed marker: ") + e.what());
  }
  check_structure(dir);
}

}  // namespace moai::train
