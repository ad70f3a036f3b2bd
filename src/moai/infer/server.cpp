#include "moai/infer/server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "moai/core/error.h"
#include "moai/core/log.h"
#include "moai/infer/connection_watchdog.h"
#include "moai/infer/engine.h"
#include "moai/infer/openai_api.h"
#include "moai/tokenizer/chat_template.h"

namespace moai::infer {

using nlohmann::json;

struct Server::Impl {
  Impl(LoadedModel& m, ServerOptions o)
      : model(m),
        options(std::move(o)),
        engine(*m.model, *m.tokenizer, options.max_queue, options.max_batch),
        watchdog(watchdog_options(options)) {}

  static std::chrono::milliseconds millis(double seconds) {
    return std::chrono::milliseconds(int64_t(seconds * 1000));
  }
  static WatchdogOptions watchdog_options(const ServerOptions& o) {
    WatchdogOptions w;
    w.header_timeout = millis(o.header_timeout_s);
    w.request_timeout = millis(o.request_timeout_s);
    w.idle_timeout = millis(o.idle_timeout_s);
    w.interval =
        std::min(w.interval, std::max(std::chrono::milliseconds(20), w.header_timeout / 4));
    return w;
  }

  LoadedModel& model;
  ServerOptions options;
  Engine engine;
  ConnectionWatchdog watchdog;
  httplib::Server http;
  int listen_fd = -1;  // captured while httplib creates it, to raise its backlog
  std::atomic<uint64_t> next_id{0};
  const int64_t started = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();

  static void send_error(httplib::Response& res, const ApiError& e) {
    res.status = e.status;
    res.set_content(error_body(e).dump(-1, ' ', false, json::error_handler_t::replace),
                    "application/json");
  }

  bool authorised(const httplib::Request& req, httplib::Response& res) const {
    if (options.api_key.empty()) return true;
    if (req.get_header_value("Authorization") == "Bearer " + options.api_key) return true;
    send_error(res, {401, "invalid or missing API key (send Authorization: Bearer <key>)",
                     "invalid_request_error", "", "invalid_api_key"});
    return false;
  }

  ResponseIds make_ids(const char* prefix) {
    ResponseIds ids;
    ids.id =
        std::string(prefix) + std::to_string(started) + "-" + std::to_string(next_id.fetch_add(1));
    ids.created = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    ids.model = model.name;
    return ids;
  }

  void handle_generation(const httplib::Request& req, httplib::Response& res, bool chat) {
    if (!authorised(req, res)) return;
    const int64_t context = model.model->max_context();
    ApiRequest api;
    try {
      api = chat ? parse_chat_request(req.body, context)
                 : parse_completion_request(req.body, context);
    } catch (const ApiError& e) {
      send_error(res, e);
      return;
    }
    std::vector<uint32_t> prompt;
    if (chat) {
      prompt = model.tokenizer->encode(tok::render_chatml(api.messages, true));
    } else {
      prompt = model.tokenizer->encode(api.prompt);
    }
    const char* param = chat ? "messages" : "prompt";
    if (prompt.empty()) {
      send_error(res, {400, std::string(param) + ": encodes to no tokens", "invalid_request_error",
                       param, ""});
      return;
    }
    if (int64_t(prompt.size()) >= context) {
      send_error(res,
                 {400,
                  std::string(param) + ": the prompt is " + std::to_string(prompt.size()) +
                      " tokens; this model's context is " + std::to_string(context) + " tokens",
                  "invalid_request_error", param, "context_length_exceeded"});
      return;
    }
    if (api.max_tokens_given && int64_t(prompt.size()) + api.options.max_new_tokens > context) {
      const char* key = "max_tokens";
      send_error(res, {400,
                       std::string(key) + ": prompt (" + std::to_string(prompt.size()) +
                           ") + max_tokens (" + std::to_string(api.options.max_new_tokens) +
                           ") exceeds the context of " + std::to_string(context) + " tokens",
                       "invalid_request_error", key, "context_length_exceeded"});
      return;
    }
    api.options.max_new_tokens =
        std::min<int64_t>(api.options.max_new_tokens, context - int64_t(prompt.size()));
    std::shared_ptr<Job> job = engine.submit(std::move(prompt), api.options);
    if (!job) {
      res.set_header("Retry-After", "1");
      send_error(res, {429,
                       "the server is busy: " + std::to_string(options.max_queue) +
                           " requests are already waiting; retry later",
                       "server_busy", "", "queue_full"});
      return;
    }
    const ResponseIds ids = make_ids(chat ? "chatcmpl-" : "cmpl-");
    if (!api.stream) {
      job->wait();
      if (job->error()) {
        send_error(res, {job->error_is_input() ? 400 : 500, *job->error(),
                         job->error_is_input() ? "invalid_request_error" : "server_error", "", ""});
        return;
      }
      const json body = chat ? chat_response(ids, job->result())
                             : completion_response(ids, job->result(), api.echo ? api.prompt : "");
      res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace),
                      "application/json");
      return;
    }
    res.set_header("Cache-Control", "no-cache");
    const bool include_usage = api.include_usage;
    const std::string echo = api.echo ? api.prompt : "";
    res.set_chunked_content_provider(
        "text/event-stream",
        [job, ids, chat, include_usage, echo, started = false](size_t,
                                                               httplib::DataSink& sink) mutable {
          auto write = [&](const std::string& s) { return sink.write(s.data(), s.size()); };
          if (!started) {
            started = true;
            static const std::string role = "assistant";
            const bool ok = chat ? write(chat_chunk(ids, &role, "", nullptr))
                                 : (echo.empty() || write(completion_chunk(ids, echo, nullptr)));
            if (!ok) {
              job->cancel();
              return false;
            }
          }
          // Wait for text in short slices so a client that went away is noticed while the model
          // runs.
          while (!job->done()) {
            const std::string piece = job->take_text(std::chrono::milliseconds(100));
            if (!sink.is_writable()) {
              job->cancel();
              return false;
            }
            if (piece.empty()) continue;
            if (!write(chat ? chat_chunk(ids, nullptr, piece, nullptr)
                            : completion_chunk(ids, piece, nullptr))) {
              job->cancel();
              return false;
            }
          }
          if (job->error()) {
            const json err = error_body(
                {job->error_is_input() ? 400 : 500, *job->error(),
                 job->error_is_input() ? "invalid_request_error" : "server_error", "", ""});
            write("data: " + err.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n");
          } else {
            const char* reason = openai_finish_reason(job->result().finish_reason);
            write(chat ? chat_chunk(ids, nullptr, "", reason) : completion_chunk(ids, "", reason));
            if (include_usage) write(usage_chunk(ids, chat, job->result()));
          }
          write(sse_done());
          sink.done();
          return true;
        },
        [job](bool) {
          job->cancel();
        });  // connection closed or finished: make sure the engine lets go
  }

  void routes() {
    http.set_payload_max_length(options.max_body_bytes);
    const int threads = options.http_threads > 0 ? options.http_threads
                                                 : int(options.max_queue + options.max_batch) + 4;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(size_t(threads)); };
    http.set_socket_options([this](socket_t sock) {
      httplib::default_socket_options(sock);
      listen_fd = sock;
    });
    http.set_read_timeout(30, 0);
    http.set_write_timeout(30, 0);
    http.set_keep_alive_timeout(std::max<time_t>(1, time_t(options.idle_timeout_s)));
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
      watchdog.request_read(req.remote_addr, req.remote_port);
      return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_logger([this](const httplib::Request& req, const httplib::Response&) {
      watchdog.response_done(req.remote_addr, req.remote_port);
    });
    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      const json body = {{"status", "ok"},
                         {"model", model.name},
                         {"queued", engine.queued()},
                         {"completed", engine.completed()},
                         {"max_batch", engine.max_batch()},
                         {"peak_batch", engine.peak_batch()}};
      res.set_content(body.dump(), "application/json");
    });
    http.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
      if (!authorised(req, res)) return;
      const json body = {{"object", "list"},
                         {"data", json::array({{{"id", model.name},
                                                {"object", "model"},
                                                {"created", started},
                                                {"owned_by", "moai"},
                                                {"context_length", model.model->max_context()}}})}};
      res.set_content(body.dump(), "application/json");
    });
    http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
      handle_generation(req, res, true);
    });
    http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
      handle_generation(req, res, false);
    });
    http.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, const std::exception_ptr& ep) {
          std::string what = "internal error";
          try {
            if (ep) std::rethrow_exception(ep);
          } catch (const InputError& e) {
            send_error(res, {400, e.what(), "invalid_request_error", "", ""});
            return;
          } catch (const std::exception& e) {
            what = e.what();
          } catch (...) {
          }
          MOAI_ERROR("serve: " << what);
          send_error(res, {500, what, "server_error", "", ""});
        });
    http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;  // a handler already wrote an error body
      if (res.status == 404) {
        send_error(res, {404, "no route " + req.method + " " + req.path, "invalid_request_error",
                         "", "not_found"});
      } else if (res.status == 413) {
        send_error(res, {413, "request body too large", "invalid_request_error", "", ""});
      } else if (res.status == 405) {
        send_error(res, {405, "method not allowed", "invalid_request_error", "", ""});
      } else {
        send_error(res, {res.status, "HTTP error " + std::to_string(res.status),
                         "invalid_request_error", "", ""});
      }
    });
  }
};

Server::Server(LoadedModel& model, ServerOptions options)
    : impl_(std::make_unique<Impl>(model, std::move(options))) {
  impl_->routes();
}

Server::~Server() {
  stop();
}

void Server::bind() {
  const auto& o = impl_->options;
  if (o.port < 0 || o.port > 65535) throw_input_error("--port", "expected 0..65535");
  if (o.port == 0) {
    port_ = impl_->http.bind_to_any_port(o.host);
    if (port_ < 0) throw_input_error("--host " + o.host, "cannot bind a port on this address");
  } else {
    if (!impl_->http.bind_to_port(o.host, o.port))
      throw_input_error("--host " + o.host + " --port " + std::to_string(o.port),
                        "cannot listen there (address in use or not local)");
    port_ = o.port;
  }
  // httplib listens with a backlog of 5: a burst of clients would overflow it and some would see
  // their connection dropped or reset. Listening again on the same socket only resizes the queue.
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, SOMAXCONN);
}

void Server::run() {
  impl_->watchdog.start(port_);
  impl_->http.listen_after_bind();
}

void Server::stop() {
  if (!impl_) return;
  impl_->engine.stop();
  if (impl_->http.is_running()) impl_->http.stop();
  impl_->watchdog.stop();
}

}  // namespace moai::infer
