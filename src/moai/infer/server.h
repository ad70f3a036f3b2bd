#pragma once
// `moai serve`: an OpenAI-compatible HTTP API over cpp-httplib.
//   GET  /health                 {"status": "ok", ...}
//   GET  /v1/models              the one served model
//   POST /v1/chat/completions    ChatML chat, JSON or SSE stream
//   POST /v1/completions         plain completion, JSON or SSE stream
// HTTP threads parse and validate; one engine thread owns the model and decodes up to max_batch
// requests together (engine.h); a bounded queue
// turns overload into 429. Handlers never throw: every failure becomes an OpenAI-style error body.
// A streaming client that disconnects cancels its job. A watchdog enforces the request deadlines
// (connection_watchdog.h).
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "moai/infer/loaded_model.h"

namespace moai::infer {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                   // 0 = any free port (see Server::port())
  std::string api_key;               // empty = no authentication
  size_t max_queue = 16;             // requests waiting behind the running ones
  size_t max_batch = 8;              // requests decoded together (engine.h)
  size_t max_body_bytes = 8u << 20;  // larger bodies get 413 before they are read
  int http_threads = 0;              // 0 = max_queue + max_batch + 4
  // Deadlines (connection_watchdog.h): the whole request must arrive within header_timeout of the
  // connection opening (or of the previous response on a kept-alive one); a request may run
  // request_timeout (0 = no limit); a kept-alive connection may idle idle_timeout between requests.
  double header_timeout_s = 10;
  double request_timeout_s = 600;
  double idle_timeout_s = 5;
};

class Server {
 public:
  Server(LoadedModel& model, ServerOptions options);
  ~Server();
  // Binds the socket (InputError when the address is taken or invalid); port() is known afterwards.
  void bind();
  int port() const { return port_; }
  // Serves until stop() (blocking).
  void run();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace moai::infer
