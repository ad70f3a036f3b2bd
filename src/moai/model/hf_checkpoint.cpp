#include "moai/model/hf_checkpoint.h"

#include <sys/stat.h>

#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/log.h"
#include "moai/core/safetensors.h"
#include "moai/model/qwen3_model.h"

namespace moai::model {
namespace {

// The original project named the MLP "mlp.swiglu.{gate,up,down}_proj"; HF Qwen3 has "mlp.{...}".
std::string original_alias(const std::string& name) {
  const std::string needle = ".mlp.";
  const size_t at = name.find(needle);
  if (at == std::string::npos) return "";
  return name.substr(0, at) + ".mlp.swiglu." + name.substr(at + needle.size());
}

std::vector<std::string> weight_files(const std::string& dir) {
  const std::string single = dir + "/model.safetensors";
  const std::string index = dir + "/model.safetensors.index.json";
  if (file_exists(index)) {
    nlohmann::json root;
    try {
      root = nlohmann::json::parse(read_file(index));
    } catch (const nlohmann::json::exception& e) {
      throw_input_error(index, std::string("not valid JSON: ") + e.what());
    }
    if (!root.contains("weight_map") || !root["weight_map"].is_object())
      throw_input_error(index, "weight_map: missing, expected an object {tensor: file}");
    std::vector<std::string> files;
    for (auto& [tensor, file] : root["weight_map"].items()) {
      if (!file.is_string())
        throw_input_error(index, "weight_map." + tensor + ": expected a file name");
      const std::string name = file.get<std::string>();
      if (name.find('/') != std::string::npos || name.find("..") != std::string::npos)
        throw_input_error(index, "weight_map." + tensor + ": \"" + name +
                                     "\" must be a file in the same directory");
      const std::string path = dir + "/" + name;
      if (std::find(files.begin(), files.end(), path) == files.end()) files.push_back(path);
    }
    return files;
  }
  if (file_exists(single)) return {single};
  throw_input_error(dir, "no model.safetensors or model.safetensors.index.json");
}

}  // namespace

void load_hf_weights(const std::string& dir, const ParamLayout& layout, float* host_params) {
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  for (const std::string& path : weight_files(dir))
    files.push_back(std::make_unique<SafetensorsFile>(path));
  std::map<std::string, std::pair<const SafetensorsTensor*, const SafetensorsFile*>> tensors;
  for (const auto& file : files)
    for (const SafetensorsTensor& tensor : file->tensors())
      tensors[tensor.name] = {&tensor, file.get()};
  size_t used = 0;
  for (const ParamInfo& info : layout.params()) {
    auto it = tensors.find(info.name);
    if (it == tensors.end()) it = tensors.find(original_alias(info.name));
    if (it == tensors.end()) throw_input_error(dir, "missing tensor \"" + info.name + "\"");
    const SafetensorsTensor& tensor = *it->second.first;
    if (tensor.shape != info.shape) {
      std::string got = "[", want = "[";
      for (int64_t d : tensor.shape) got += std::to_string(d) + ",";
      for (int64_t d : info.shape) want += std::to_string(d) + ",";
      throw_input_error(it->second.second->path(), "tensor \"" + tensor.name + "\" has shape " +
                                                       got + "], expected " + want +
                                                       "] from config.json");
    }
    tensor.to_f32(host_params + info.offset, it->second.second->path());
    ++used;
  }
  size_t ignored = tensors.size() - used;
  if (layout.tied() && tensors.count("lm_head.weight")) {
    MOAI_LOG(kInfo, dir << ": tied embeddings: ignoring the file's lm_head.weight");
    --ignored;
  }
  if (ignored > 0)
    MOAI_LOG(kWarn,
             dir << ": " << ignored << " tensor(s) in the checkpoint are not used by the model");
}

std::vector<float> read_hf_params(const std::string& dir, const ParamLayout& layout) {
  std::vector<float> params(static_cast<size_t>(layout.total_floats()));
  load_hf_weights(dir, layout, params.data());
  return params;
}

void load_hf_weights_into(Qwen3Model& model, const std::string& dir) {
  model.set_params(read_hf_params(dir, model.layout()).data());
}

void save_hf_model(const std::string& dir, const Qwen3Config& config, const ParamLayout& layout,
                   const float* host_params, const SaveOptions& options) {
  if (options.dtype != "F32" && options.dtype != "BF16")
    throw_input_error("save dtype", "\"" + options.dtype + "\", expected F32 or BF16");
  ::mkdir(dir.c_str(), 0755);
  if (!is_directory(dir)) throw_io_error(dir, "cannot create directory");
  Qwen3Config saved = config;
  saved.torch_dtype = options.dtype == "BF16" ? "bfloat16" : "float32";
  write_file_atomic(dir + "/config.json", qwen3_config_to_json(saved));

  // Split into shards of at most max_shard_bytes (a single tensor larger than that gets its own
  // shard).
  const size_t element = options.dtype == "BF16" ? 2 : 4;
  std::vector<std::vector<const ParamInfo*>> shards(1);
  size_t shard_bytes = 0;
  for (const ParamInfo& info : layout.params()) {
    const size_t bytes = size_t(info.numel) * element;
    if (!shards.back().empty() && shard_bytes + bytes > size_t(options.max_shard_bytes)) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(&info);
    shard_bytes += bytes;
  }
  nlohmann::ordered_json weight_map = nlohmann::ordered_json::object();
  size_t total_bytes = 0;
  for (size_t s = 0; s < shards.size(); ++s) {
    char name[64];
    if (shards.size() == 1) {
      std::snprintf(name, sizeof(name), "model.safetensors");
    } else {
      std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
    }
    SafetensorsWriter writer;
    writer.set_metadata("format", "pt");
    for (const ParamInfo* info : shards[s]) {
      const float* data = host_params + info->offset;
      if (options.dtype == "F32") {
        writer.add_f32(info->name, info->shape, data);
      } else {
        std::vector<uint8_t> bytes(size_t(info->numel) * 2);
        for (int64_t i = 0; i < info->numel; ++i) {
          const uint16_t value = f32_to_bf16(data[i]);
          bytes[size_t(i) * 2] = uint8_t(value & 0xff);
          bytes[size_t(i) * 2 + 1] = uint8_t(value >> 8);
        }
        writer.add_owned(info->name, "BF16", info->shape, std::move(bytes));
      }
      weight_map[info->name] = name;
    }
    total_bytes += writer.data_bytes();
    writer.write(dir + "/" + name);
  }
  if (shards.size() > 1) {
    nlohmann::ordered_json index;
    index["metadata"] = {{"total_size", total_bytes}};
    index["weight_map"] = weight_map;
    write_file_atomic(dir + "/model.safetensors.index.json", index.dump(2) + "\n");
  }
}

}  // namespace moai::model
