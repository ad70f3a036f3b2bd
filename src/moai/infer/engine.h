#pragma once
// The serving engine: one thread owns the model and its KV cache and runs requests one at a time
// from a bounded queue (HTTP threads submit, then wait on their job). Thread-safety: submit(),
// Job's accessors and stop() may be called from any thread; the model is only ever touched by the
// engine thread.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "moai/infer/generator.h"

namespace moai::infer {

class Job {
 public:
  Job(std::vector<uint32_t> prompt, GenerateOptions options)
      : prompt_(std::move(prompt)), options_(std::move(options)) {}

  // Waits up to `timeout` for new text; returns what arrived since the last call (may be empty).
  // done() is true once the result (or error) is set and all text was taken.
  std::string take_text(std::chrono::milliseconds timeout);
  bool done() const;
  void wait();  // until finished
  // Asks the engine to stop this job (client went away); harmless after it finished.
  void cancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }
  // Valid after done(): the result, or the error message (and whether it was the client's fault).
  const GenerateResult& result() const { return result_; }
  const std::optional<std::string>& error() const { return error_; }
  bool error_is_input() const { return error_is_input_; }

 private:
  friend class Engine;
  void push_text(const std::string& piece);
  void finish(GenerateResult result);
  void fail(const std::string& message, bool input_error);

  std::vector<uint32_t> prompt_;
  GenerateOptions options_;
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::string pending_;
  bool finished_ = false;
  GenerateResult result_;
  std::optional<std::string> error_;
  bool error_is_input_ = false;
};

class Engine {
 public:
  // max_queue: jobs waiting behind the running one; more are refused.
  Engine(InferenceModel& model, const tok::Tokenizer& tokenizer, size_t max_queue);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Null when the queue is full (the server answers 429).
  std::shared_ptr<Job> submit(std::vector<uint32_t> prompt, GenerateOptions options);
  void stop();  // finishes the running job (cancelled), fails queued ones, joins the thread

  size_t queued() const;
  uint64_t completed() const { return completed_.load(); }

 private:
  void loop();

  InferenceModel& model_;
  const tok::Tokenizer& tokenizer_;
  size_t max_queue_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::shared_ptr<Job> running_;
  bool stopping_ = false;
  std::atomic<uint64_t> completed_{0};
  std::thread thread_;
};

}  // namespace moai::infer
