// moai chat: a multi-turn ChatML conversation in the terminal, or scripted through a pipe (one
// message per line). Commands: /reset (forget the conversation), /system TEXT (set the system
// prompt and reset), /exit (also exit, quit, q). Ctrl-C stops the reply being generated; at the
// prompt it leaves.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "cli/infer_common.h"
#include "moai/core/error.h"
#include "moai/core/interrupt.h"
#include "moai/infer/chat_session.h"

namespace moai::cli {
namespace {

struct ChatFlags {
  ModelFlags model;
  infer::GenerateOptions gen = default_generate_options();
  std::string system;
  int64_t max_history_tokens = 0;
  bool no_stats = false;
};

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

void run(ChatFlags& f) {
  infer::validate_sampling_params(f.gen.sampling, "flags");
  infer::LoadedModel lm = infer::load_model(f.model.model_path, f.model.resolved());
  const int64_t context = lm.model->max_context();
  // Room for the reply: the history may use what max_new_tokens leaves of the context.
  int64_t budget = f.max_history_tokens > 0 ? f.max_history_tokens : context - f.gen.max_new_tokens;
  if (budget < 16) budget = std::max<int64_t>(1, context / 2);
  infer::ChatHistory history(f.system);
  infer::Session session(*lm.model);
  const bool interactive = isatty(STDIN_FILENO) != 0;
  if (interactive)
    std::fprintf(
        stderr,
        "moai chat: %s (context %lld tokens). /reset, /system TEXT, /exit; Ctrl-C stops a reply.\n",
        lm.name.c_str(), static_cast<long long>(context));
  std::string line;
  while (true) {
    if (interactive) {
      std::fputs("You: ", stdout);
      std::fflush(stdout);
    }
    if (!std::getline(std::cin, line)) break;  // EOF, or Ctrl-C at the prompt
    const std::string msg = trim(line);
    if (msg.empty()) continue;
    if (msg == "/exit" || msg == "exit" || msg == "quit" || msg == "q" || msg == "/quit") break;
    if (msg == "/reset") {
      history.reset();
      session.reset();
      std::printf("[conversation reset]\n");
      std::fflush(stdout);
      continue;
    }
    if (msg.rfind("/system", 0) == 0 && (msg.size() == 7 || msg[7] == ' ')) {
      history.set_system(trim(msg.substr(7)));
      history.reset();
      session.reset();
      std::printf("[system prompt %s]\n", history.system().empty() ? "cleared" : "set");
      std::fflush(stdout);
      continue;
    }
    history.add_user(msg);
    size_t dropped = 0;
    std::vector<uint32_t> ids;
    try {
      ids = history.prompt_ids(*lm.tokenizer, budget, &dropped);
    } catch (const InputError& e) {
      history.pop_last();
      std::fprintf(stderr, "moai chat: %s\n", e.what());
      continue;
    }
    if (dropped > 0)
      std::fprintf(stderr, "[history: dropped the %zu oldest turns to fit the context]\n", dropped);
    std::fputs("Assistant: ", stdout);
    std::fflush(stdout);
    auto on_text = [](const std::string& piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      return true;
    };
    const infer::GenerateResult r =
        infer::generate(*lm.model, session, *lm.tokenizer, ids, f.gen, on_text);
    std::printf("\n");
    std::fflush(stdout);
    if (r.finish_reason == infer::FinishReason::kCancelled) {
      clear_interrupt();
      std::fprintf(stderr, "[stopped]\n");
    }
    history.add_assistant(r.text);
    if (!f.no_stats)
      std::fprintf(stderr, "[%zu tokens, %.1f tok/s, prompt %lld (%lld cached)]\n", r.tokens.size(),
                   r.decode_tokens_per_second(), static_cast<long long>(r.prompt_tokens),
                   static_cast<long long>(r.cached_prompt_tokens));
  }
  if (interrupt_requested()) clear_interrupt();
}

void register_chat(CLI::App& root) {
  auto flags = std::make_shared<ChatFlags>();
  CLI::App* cmd =
      root.add_subcommand("chat", "Talk to a model (ChatML, streaming; reads a pipe too)");
  add_model_flags(*cmd, flags->model);
  cmd->add_option(flag("system"), flags->system, "system prompt");
  cmd->add_option(flag("max_history_tokens"), flags->max_history_tokens,
                  "history window in tokens (default: context - max_new_tokens)");
  cmd->add_flag(flag("no_stats"), flags->no_stats, "do not print tokens/s after each reply");
  add_sampling_flags(*cmd, flags->gen);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace

MOAI_REGISTER_COMMAND("chat", register_chat);

}  // namespace moai::cli
