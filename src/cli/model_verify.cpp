// moai model verify: runs an HF model directory on a batch (input_ids, labels in a safetensors
// file, the golden layout) and writes logits, loss and every parameter gradient (HF names prefixed
// "grad.").
#include <climits>
#include <cstdio>
#include <vector>

#include "cli/command.h"
#include "cli/engine_flags.h"
#include "moai/core/error.h"
#include "moai/core/safetensors.h"
#include "moai/model/hf_checkpoint.h"
#include "moai/model/qwen3_model.h"

namespace moai::cli {
namespace {

struct VerifyOptions {
  std::string model_path;
  std::string batch_path;
  std::string out_path;
  std::string loss = "cross_entropy";
  int threads = 0;
  EngineFlags engine;
};

std::vector<int32_t> read_ids(const SafetensorsFile& file, const std::string& name, int64_t* batch,
                              int64_t* seq, bool optional) {
  const SafetensorsTensor* tensor = file.find(name);
  if (!tensor) {
    if (optional) return {};
    throw_input_error(file.path(), "missing tensor \"" + name + "\" ([batch, seq] integers)");
  }
  if (tensor->shape.size() != 2)
    throw_input_error(file.path(), name + ": expected shape [batch, seq]");
  if (*batch == 0) {
    *batch = tensor->shape[0];
    *seq = tensor->shape[1];
  } else if (tensor->shape[0] != *batch || tensor->shape[1] != *seq) {
    throw_input_error(file.path(), name + ": shape differs from input_ids");
  }
  std::vector<int64_t> wide(size_t(tensor->numel()));
  tensor->to_i64(wide.data(), file.path());
  std::vector<int32_t> out(wide.size());
  for (size_t i = 0; i < wide.size(); ++i) {
    if (wide[i] < INT32_MIN || wide[i] > INT32_MAX)
      throw_input_error(file.path(), name + ": value out of int32 range");
    out[i] = int32_t(wide[i]);
  }
  return out;
}

void run_verify(const VerifyOptions& opt) {
  const model::Qwen3Config config = model::load_qwen3_config(opt.model_path);
  const SafetensorsFile io(opt.batch_path);
  int64_t B = 0, T = 0;
  const std::vector<int32_t> ids = read_ids(io, "input_ids", &B, &T, false);
  const std::vector<int32_t> labels = read_ids(io, "labels", &B, &T, false);
  const std::vector<int32_t> positions = read_ids(io, "position_ids", &B, &T, true);
  const std::vector<int32_t> segments = read_ids(io, "segment_ids", &B, &T, true);
  const ops::Precision precision = engine_precision(opt.engine, ops::Precision::kFp32);
  auto backend = make_engine_backend(opt.engine, opt.threads, precision);
  model::Qwen3Model model(config, *backend, {B, T, true, false, precision});
  model::load_hf_weights_into(model, opt.model_path);
  const model::Batch batch{B, T, ids, labels, positions, segments};

  std::vector<int64_t> rows(size_t(B * T));
  for (int64_t i = 0; i < B * T; ++i) rows[size_t(i)] = i;
  std::vector<float> logits(size_t(B * T * config.vocab_size));
  model.forward_logits(batch, rows, logits.data());
  model.zero_grads();
  const float loss = float(model.forward(
      batch, ops::loss_config_for({ops::parse_loss_kind(opt.loss, "--loss")}), 0, true));
  model.backward();
  std::vector<float> grads(size_t(model.layout().total_floats()));
  model.get_grads(grads.data());

  SafetensorsWriter writer;
  writer.add_f32("logits", {B, T, config.vocab_size}, logits.data());
  writer.add_f32("loss", {}, &loss);
  for (const model::ParamInfo& info : model.layout().params())
    writer.add_f32("grad." + info.name, info.shape, grads.data() + info.offset);
  writer.set_metadata("format", "pt");
  writer.write(opt.out_path);
  std::printf(
      "loss %.8f over %lld target tokens; wrote logits [%lld, %lld, %lld] and %zu gradients to "
      "%s\n",
      loss, (long long)model.last_valid_tokens(), (long long)B, (long long)T,
      (long long)config.vocab_size, model.layout().params().size(), opt.out_path.c_str());
}

void register_verify(CLI::App& root) {
  CLI::App& group = command_group(root, "model", "Inspect and check Qwen3 models");
  auto opt = std::make_shared<VerifyOptions>();
  CLI::App* cmd =
      group.add_subcommand("verify", "Logits, loss and every gradient of an HF model on one batch");
  cmd->add_option(flag("model_path"), opt->model_path,
                  "HF model directory (config.json + safetensors)")
      ->required();
  cmd->add_option(
         "--batch", opt->batch_path,
         "safetensors with input_ids and labels [B,T] (optional position_ids, segment_ids)")
      ->required();
  cmd->add_option("--out", opt->out_path, "output safetensors: logits, loss, grad.<name>")
      ->required();
  cmd->add_option("--loss", opt->loss, "cross_entropy, focal, label_smoothing or multi_objective")
      ->capture_default_str();
  cmd->add_option("--threads", opt->threads, "CPU threads (0 = MOAI_THREADS or all cores)");
  add_engine_flags(cmd, opt->engine, "fp32");
  cmd->callback([opt] { run_verify(*opt); });
}

MOAI_REGISTER_COMMAND("model verify", register_verify);

}  // namespace
}  // namespace moai::cli
