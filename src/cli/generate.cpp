// moai generate: plain completion of one or more prompts (the original's test_inference.py),
// streamed to stdout, or one JSON object per prompt with --json.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/infer_common.h"
#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/tokenizer/chat_template.h"

namespace moai::cli {
namespace {

struct GenerateFlags {
  ModelFlags model;
  infer::GenerateOptions gen = default_generate_options();
  std::vector<std::string> prompts;
  std::string prompt_file;
  bool chat = false;
  std::string system;
  bool json = false;
};

std::vector<std::string> read_prompt_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw_input_error(path, "cannot read the prompt file");
  std::vector<std::string> prompts;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) prompts.push_back(line);
  }
  if (prompts.empty())
    throw_input_error(path, "no prompts (one prompt per non-empty line expected)");
  return prompts;
}

void run(GenerateFlags& f) {
  if (!f.prompt_file.empty()) {
    auto more = read_prompt_file(f.prompt_file);
    f.prompts.insert(f.prompts.end(), more.begin(), more.end());
  }
  if (f.prompts.empty()) throw_input_error("--prompt", "give --prompt TEXT or --prompt_file FILE");
  infer::validate_sampling_params(f.gen.sampling, "flags");
  infer::LoadedModel lm = infer::load_model(f.model.model_path, f.model.resolved());
  infer::Session session(*lm.model);
  for (size_t i = 0; i < f.prompts.size(); ++i) {
    const std::string& prompt = f.prompts[i];
    std::string text = prompt;
    if (f.chat) {
      std::vector<tok::ChatMessage> messages;
      if (!f.system.empty()) messages.push_back({"system", f.system, ""});
      messages.push_back({"user", prompt, ""});
      text = tok::render_chatml(messages, true);
    }
    const std::vector<uint32_t> ids = lm.tokenizer->encode(text);
    session.reset();  // prompts are independent
    if (!f.json && f.prompts.size() > 1) std::printf("=== prompt %zu: %s\n", i + 1, prompt.c_str());
    if (!f.json && !f.chat) std::fputs(prompt.c_str(), stdout);
    auto on_text = [&](const std::string& piece) {
      if (!f.json) {
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
      }
      return true;
    };
    const infer::GenerateResult r =
        infer::generate(*lm.model, session, *lm.tokenizer, ids, f.gen, on_text);
    const double prefill_tps =
        r.prefill_seconds > 0 ? double(r.prompt_tokens) / r.prefill_seconds : 0;
    if (f.json) {
      nlohmann::json j = {{"prompt", prompt},
                          {"text", r.text},
                          {"tokens", r.tokens},
                          {"prompt_tokens", r.prompt_tokens},
                          {"completion_tokens", r.tokens.size()},
                          {"finish_reason", infer::finish_reason_name(r.finish_reason)},
                          {"timings",
                           {{"prefill_s", r.prefill_seconds},
                            {"decode_s", r.decode_seconds},
                            {"prefill_tokens_per_s", prefill_tps},
                            {"decode_tokens_per_s", r.decode_tokens_per_second()}}}};
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::printf("\n");
      std::fprintf(stderr, "[%lld prompt tokens %.1f tok/s, %zu generated %.1f tok/s, %s]\n",
                   static_cast<long long>(r.prompt_tokens), prefill_tps, r.tokens.size(),
                   r.decode_tokens_per_second(), infer::finish_reason_name(r.finish_reason));
    }
    std::fflush(stdout);
    if (r.finish_reason == infer::FinishReason::kCancelled) break;
  }
}

void register_generate(CLI::App& root) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* cmd =
      root.add_subcommand("generate", "Complete prompts with a model (streams text, or --json)");
  add_model_flags(*cmd, flags->model);
  cmd->add_option(flag("prompt"), flags->prompts, "prompt text (repeatable: a batch of prompts)");
  cmd->add_option(flag("prompt_file"), flags->prompt_file, "file with one prompt per line");
  cmd->add_flag(flag("chat"), flags->chat,
                "wrap each prompt as a ChatML user turn (as test_inference.py)");
  cmd->add_option(flag("system"), flags->system, "system prompt for --chat");
  cmd->add_flag(flag("json"), flags->json,
                "print one JSON object per prompt: text, tokens, timings");
  add_sampling_flags(*cmd, flags->gen);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace

MOAI_REGISTER_COMMAND("generate", register_generate);

}  // namespace moai::cli
