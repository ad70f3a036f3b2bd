// moai serve: the OpenAI-compatible HTTP API (see moai/infer/server.h and docs/inference.md).
#include <csignal>
#include <cstdio>
#include <thread>

#include "cli/infer_common.h"
#include "moai/core/interrupt.h"
#include "moai/infer/server.h"

namespace moai::cli {
namespace {

struct ServeFlags {
  ModelFlags model;
  infer::ServerOptions server;
};

void run(ServeFlags& f) {
  std::signal(SIGPIPE, SIG_IGN);  // a client that disconnects must not kill the server
  infer::LoadedModel lm = infer::load_model(f.model.model_path, f.model.resolved());
  infer::Server server(lm, f.server);
  server.bind();
  std::fprintf(stderr,
               "moai serve: %s on http://%s:%d (context %lld tokens, batch %zu, queue %zu%s)\n",
               lm.name.c_str(), f.server.host.c_str(), server.port(),
               static_cast<long long>(lm.model->max_context()), f.server.max_batch,
               f.server.max_queue, f.server.api_key.empty() ? "" : ", API key required");
  std::printf("listening on http://%s:%d\n", f.server.host.c_str(), server.port());
  std::fflush(stdout);
  std::thread http([&] { server.run(); });
  while (!interrupt_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::fprintf(stderr, "moai serve: stopping\n");
  server.stop();
  http.join();
}

void register_serve(CLI::App& root) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = root.add_subcommand(
      "serve", "OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions)");
  add_model_flags(*cmd, flags->model);
  cmd->add_option(flag("host"), flags->server.host, "address to listen on")->capture_default_str();
  cmd->add_option(flag("port"), flags->server.port, "port (0 = any free port, printed at start)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option(flag("api_key"), flags->server.api_key, "require Authorization: Bearer KEY");
  cmd->add_option(flag("max_batch"), flags->server.max_batch,
                  "requests decoded together (each holds its own KV cache; 1 = one at a time)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option(flag("max_queue"), flags->server.max_queue,
                  "requests that may wait; more get 429")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option(flag("max_body_bytes"), flags->server.max_body_bytes,
                  "largest request body accepted (larger: 413 before it is read)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option(flag("header_timeout"), flags->server.header_timeout_s,
                  "seconds a client has to send its whole request (slow clients are cut off)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option(flag("request_timeout"), flags->server.request_timeout_s,
                  "seconds a request may run, streaming included (0 = no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option(flag("idle_timeout"), flags->server.idle_timeout_s,
                  "seconds a kept-alive connection may wait for its next request")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->callback([flags] { run(*flags); });
}

}  // namespace

MOAI_REGISTER_COMMAND("serve", register_serve);

}  // namespace moai::cli
