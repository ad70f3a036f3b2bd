// moai_cuda_check: the GPU-side checks that need the whole model, run by scripts/gpu-check.sh on a
// GPU machine.
//
//   moai_cuda_check train-compare [--steps 50] [--batch 4] [--seq 96] [--tolerance 0.03]
//       The same tiny Qwen3 model, data and AdamW run on the CPU backend and on the CUDA backend;
//       prints both loss curves and fails (exit 1) when a step's losses differ by more than
//       `tolerance` (relative).
//   moai_cuda_check hf-forward --model DIR --batch io.safetensors --out out.safetensors [--device
//   cuda|cpu]
//       Loads an HF Qwen3 directory, runs forward + backward on the batch (input_ids, labels,
//       already shifted, -100 ignored) and writes loss, logits and every parameter gradient (HF
//       names) for scripts/gpu/hf_compare.py to check against transformers.
//   moai_cuda_check bench --preset 0.6b|1.7b | --config FILE  --seq 4096 [--batch 1] [--steps 10]
//   [--warmup 2]
//                         [--checkpointing] [--peak-tflops 989]
//       Times the bare training step (forward, backward, AdamW) with random tokens; prints one JSON
//       line: tokens/s, MFU against the dense bf16 peak given by --peak-tflops (989 = H100 SXM),
//       peak device memory.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "moai/core/error.h"
#include "moai/core/safetensors.h"
#include "moai/model/hf_checkpoint.h"
#include "moai/model/param_layout.h"
#include "moai/model/qwen3_config.h"
#include "moai/model/qwen3_model.h"
#include "moai/ops/cuda/cuda_backend.h"
#include "moai/ops/ops.h"

namespace {

using moai::InputError;
namespace model = moai::model;
namespace ops = moai::ops;

// --name value pairs and bare --flags.
std::map<std::string, std::string> parse_flags(int argc, char** argv, int first) {
  std::map<std::string, std::string> flags;
  for (int i = first; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0)
      throw InputError("unexpected argument '" + key + "' (flags start with --)");
    key.erase(0, 2);
    if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
      flags[key] = argv[++i];
    } else {
      flags[key].assign(1,
                        '1');  // a bare --flag (assign avoids a GCC 12 -Wrestrict false positive)
    }
  }
  return flags;
}

std::string flag(const std::map<std::string, std::string>& flags, const std::string& name,
                 const std::string& fallback) {
  auto found = flags.find(name);
  return found == flags.end() ? fallback : found->second;
}

std::string required(const std::map<std::string, std::string>& flags, const std::string& name) {
  auto found = flags.find(name);
  if (found == flags.end()) throw InputError("--" + name + " is required");
  return found->second;
}

// Plain AdamW over the whole layout (decay on 2-D tensors), with global-norm clipping at 1.0 as the
// trainer.
class SimpleAdamW {
 public:
  SimpleAdamW(ops::Backend& backend, const model::ParamLayout& layout)
      : backend_(backend), layout_(layout) {
    const size_t bytes = ops::byte_size(ops::DType::kF32, layout.total_floats());
    m_ = static_cast<float*>(backend.allocate(bytes));
    v_ = static_cast<float*>(backend.allocate(bytes));
  }
  ~SimpleAdamW() {
    backend_.deallocate(m_);
    backend_.deallocate(v_);
  }
  double step(float* params, const float* grads, float lr) {
    const double norm = std::sqrt(backend_.sum_squares(ops::view(grads, {layout_.total_floats()})));
    const float scale = norm > 1.0 ? float(1.0 / (norm + 1e-6)) : 1.0f;
    ++step_;
    for (const model::ParamInfo& info : layout_.params()) {
      ops::AdamWStep s;
      s.lr = lr;
      s.weight_decay = info.weight_decay() ? 0.1f : 0.0f;
      s.grad_scale = scale;
      s.step = step_;
      const auto at = [&](const float* base) {
        return ops::view(base + info.offset, {info.numel});
      };
      backend_.adamw_update(at(params), at(m_), at(v_), at(grads), s);
    }
    return norm;
  }

 private:
  ops::Backend& backend_;
  const model::ParamLayout& layout_;
  float* m_ = nullptr;
  float* v_ = nullptr;
  int64_t step_ = 0;
};

model::Qwen3Config tiny_config() {
  model::Qwen3Config c;
  c.vocab_size = 512;
  c.hidden_size = 128;
  c.intermediate_size = 352;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 64;
  c.max_position_embeddings = 1024;
  c.tie_word_embeddings = true;
  c.initializer_range = 0.1;
  return c;
}

int train_compare(const std::map<std::string, std::string>& flags) {
  const int steps = std::stoi(flag(flags, "steps", "50"));
  const int64_t batch = std::stoll(flag(flags, "batch", "4")),
                seq = std::stoll(flag(flags, "seq", "96"));
  const double tolerance = std::stod(flag(flags, "tolerance", "0.03"));
  const model::Qwen3Config config = tiny_config();
  auto cpu = ops::make_cpu_backend();
  auto gpu = ops::make_cuda_backend();
  model::ModelOptions options;
  options.max_batch = batch;
  options.max_seq = seq;
  model::Qwen3Model cpu_model(config, *cpu, options), gpu_model(config, *gpu, options);
  cpu_model.init_weights(1234);
  std::vector<float> host(size_t(cpu_model.layout().total_floats()));
  cpu_model.get_params(host.data());
  gpu_model.set_params(host.data());
  SimpleAdamW cpu_opt(*cpu, cpu_model.layout()), gpu_opt(*gpu, gpu_model.layout());

  // A learnable stream (token t+1 = (a * token t + b) mod V with noise), packed into documents.
  std::mt19937 rng(42);
  std::printf("step  loss_cpu    loss_cuda   rel_diff  grad_norm_cpu grad_norm_cuda\n");
  double worst = 0.0;
  for (int step = 1; step <= steps; ++step) {
    std::vector<int32_t> ids(size_t(batch * seq)), labels(size_t(batch * seq)),
        positions(size_t(batch * seq)), segments(size_t(batch * seq));
    for (int64_t b = 0; b < batch; ++b) {
      int32_t token = int32_t(rng() % config.vocab_size), segment = 0, position = 0;
      for (int64_t t = 0; t < seq; ++t) {
        if (t > 0 && rng() % 37 == 0) {
          ++segment;
          position = 0;
        }
        const size_t i = size_t(b * seq + t);
        ids[i] = token;
        positions[i] = position++;
        segments[i] = segment;
        token = int32_t((token * 5 + 3 + (rng() % 4 == 0 ? rng() % 7 : 0)) % config.vocab_size);
        labels[i] = t + 1 < seq ? token : -100;
      }
    }
    model::Batch mb{batch, seq, ids, labels, positions, segments};
    double losses[2], norms[2];
    int index = 0;
    for (auto [m, opt] : {std::pair{&cpu_model, &cpu_opt}, std::pair{&gpu_model, &gpu_opt}}) {
      m->zero_grads();
      losses[index] = m->forward(mb, ops::LossConfig::cross_entropy(), 0.0, true);
      m->backward();
      norms[index] = opt->step(m->params(), m->grads(), 1e-3f);
      ++index;
    }
    const double rel = std::abs(losses[1] - losses[0]) / std::max(std::abs(losses[0]), 1e-12);
    worst = std::max(worst, std::isfinite(rel) ? rel : 1e30);
    std::printf("%4d  %.6f  %.6f  %.2e  %.5f  %.5f\n", step, losses[0], losses[1], rel, norms[0],
                norms[1]);
  }
  const bool ok = worst <= tolerance;
  std::printf("train-compare: %d steps, worst relative loss difference %.3e (tolerance %.1e): %s\n",
              steps, worst, tolerance, ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}

int hf_forward(const std::map<std::string, std::string>& flags) {
  const std::string dir = required(flags, "model"), batch_path = required(flags, "batch"),
                    out = required(flags, "out");
  const std::string device = flag(flags, "device", "cuda");
  const model::Qwen3Config config = model::load_qwen3_config(dir);
  moai::SafetensorsFile io(batch_path);
  const moai::SafetensorsTensor& ids_t = io.get("input_ids");
  const moai::SafetensorsTensor& labels_t = io.get("labels");
  if (ids_t.shape.size() != 2)
    throw InputError(batch_path + ": input_ids: expected shape [batch, seq]");
  const int64_t batch = ids_t.shape[0], seq = ids_t.shape[1];
  std::vector<int64_t> ids64(size_t(batch * seq)), labels64(size_t(batch * seq));
  ids_t.to_i64(ids64.data(), batch_path + ": input_ids");
  labels_t.to_i64(labels64.data(), batch_path + ": labels");
  std::vector<int32_t> ids(ids64.begin(), ids64.end()), labels(labels64.begin(), labels64.end());

  auto backend = device == "cpu" ? ops::make_cpu_backend() : ops::make_cuda_backend();
  model::ModelOptions options;
  options.max_batch = batch;
  options.max_seq = seq;
  model::Qwen3Model m(config, *backend, options);
  model::load_hf_weights_into(m, dir);
  model::Batch mb{batch, seq, ids, labels, {}, {}};
  m.zero_grads();
  const float loss = float(m.forward(mb, ops::LossConfig::cross_entropy(), 0.0, true));
  m.backward();
  std::vector<float> grads(size_t(m.layout().total_floats()));
  m.get_grads(grads.data());
  std::vector<int64_t> rows(size_t(batch * seq));
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = int64_t(i);
  std::vector<float> logits(rows.size() * size_t(config.vocab_size));
  m.forward_logits(mb, rows, logits.data());

  moai::SafetensorsWriter writer;
  writer.add_f32("loss", {}, &loss);
  writer.add_f32("logits", {batch, seq, config.vocab_size}, logits.data());
  for (const model::ParamInfo& info : m.layout().params())
    writer.add_f32("grad." + info.name, info.shape, grads.data() + info.offset);
  writer.set_metadata("backend", backend->name());
  writer.write(out);
  std::printf("hf-forward: %s loss %.6f on %s -> %s\n", dir.c_str(), loss, backend->name().c_str(),
              out.c_str());
  return 0;
}

model::Qwen3Config preset(const std::string& name) {
  model::Qwen3Config c;
  c.vocab_size = 151936;
  c.num_hidden_layers = 28;
  c.num_attention_heads = 16;
  c.num_key_value_heads = 8;
  c.head_dim = 128;
  c.max_position_embeddings = 40960;
  c.tie_word_embeddings = true;
  if (name == "0.6b") {
    c.hidden_size = 1024;
    c.intermediate_size = 3072;
  } else if (name == "1.7b") {
    c.hidden_size = 2048;
    c.intermediate_size = 6144;
  } else {
    throw InputError("--preset: expected 0.6b or 1.7b, got '" + name + "'");
  }
  return c;
}

int bench(const std::map<std::string, std::string>& flags) {
  // --config FILE (an HF config.json, e.g. configs/moai-3.0b.json) or --preset 0.6b|1.7b.
  const std::string config_path = flag(flags, "config", "");
  const std::string name = config_path.empty() ? flag(flags, "preset", "0.6b") : config_path;
  const model::Qwen3Config config =
      config_path.empty() ? preset(name) : model::load_qwen3_config(config_path);
  const int64_t batch = std::stoll(flag(flags, "batch", "1")),
                seq = std::stoll(flag(flags, "seq", "4096"));
  const int steps = std::stoi(flag(flags, "steps", "10")),
            warmup = std::stoi(flag(flags, "warmup", "2"));
  const double peak_tflops = std::stod(flag(flags, "peak-tflops", "989"));
  auto backend = ops::make_cuda_backend();
  model::ModelOptions options;
  options.max_batch = batch;
  options.max_seq = seq;
  options.gradient_checkpointing = flags.count("checkpointing") > 0;
  model::Qwen3Model m(config, *backend, options);
  m.init_weights(1);
  SimpleAdamW opt(*backend, m.layout());
  std::mt19937 rng(7);
  std::vector<int32_t> ids(size_t(batch * seq)), labels(size_t(batch * seq));
  for (size_t i = 0; i < ids.size(); ++i) {
    ids[i] = int32_t(rng() % config.vocab_size);
    labels[i] = int32_t(rng() % config.vocab_size);
  }
  model::Batch mb{batch, seq, ids, labels, {}, {}};
  double seconds = 0.0, loss = 0.0;
  for (int step = 0; step < warmup + steps; ++step) {
    backend->synchronize();
    const auto start = std::chrono::steady_clock::now();
    m.zero_grads();
    loss = m.forward(mb, ops::LossConfig::cross_entropy(), 0.0, true);
    m.backward();
    opt.step(m.params(), m.grads(), 1e-4f);
    backend->synchronize();
    if (step >= warmup)
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const double tokens_per_s = double(batch * seq) * steps / seconds;
  const model::ModelStats stats = model::model_stats(config, seq);
  const double mfu = tokens_per_s * stats.flops_per_token / (peak_tflops * 1e12);
  std::printf(
      "{\"impl\": \"moai\", \"preset\": \"%s\", \"batch\": %lld, \"seq\": %lld, \"steps\": %d, "
      "\"tokens_per_s\": %.1f, "
      "\"mfu\": %.4f, \"peak_memory_gib\": %.2f, \"loss\": %.4f, \"checkpointing\": %s, "
      "\"backend\": \"%s\"}\n",
      name.c_str(), static_cast<long long>(batch), static_cast<long long>(seq), steps, tokens_per_s,
      mfu, double(ops::cuda_memory_peak_bytes(*backend)) / double(1 << 30), loss,
      options.gradient_checkpointing ? "true" : "false", backend->name().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string usage =
      "usage: moai_cuda_check train-compare|hf-forward|bench [--flags] (see the source header)";
  if (argc < 2) {
    std::fprintf(stderr, "%s\n", usage.c_str());
    return 2;
  }
  try {
    const std::string command = argv[1];
    const auto flags = parse_flags(argc, argv, 2);
    if (command == "train-compare") return train_compare(flags);
    if (command == "hf-forward") return hf_forward(flags);
    if (command == "bench") return bench(flags);
    throw InputError("unknown command '" + command + "'; " + usage);
  } catch (const moai::Error& error) {
    std::fprintf(stderr, "moai_cuda_check: %s\n", error.what());
    return error.exit_code();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "moai_cuda_check: %s\n", error.what());
    return 1;
  }
}
