#pragma once
// The serving engine: one thread owns the model and runs up to max_batch requests at once, each in
// its own KV cache (a session), from a bounded queue (HTTP threads submit, then wait on their job).
// Every iteration admits waiting requests into free sessions (prefilling each prompt on its own),
// then runs one decode step for all running requests together (InferenceModel::forward_batch: the
// weights are read once per step, not once per request). A finished request's session stays warm:
// the next request whose prompt shares the longest prefix with a free session takes it, so a client
// that resends its conversation pays only for the new tokens.
//
// Thread-safety: submit(), Job's accessors and stop() may be called from any thread; the model is
// only ever touched by the engine thread.
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
  bool done_or_failed() const;  // the result or error is set (text may still be pending)
  void wait();                  // until finished
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
  // max_queue: jobs waiting behind the running ones; more are refused. max_batch: requests decoded
  // together (1 = one at a time).
  Engine(InferenceModel& model, const tok::Tokenizer& tokenizer, size_t max_queue,
         size_t max_batch = 8);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Null when the queue is full (the server answers 429).
  std::shared_ptr<Job> submit(std::vector<uint32_t> prompt, GenerateOptions options);
  void stop();  // finishes the running jobs (cancelled), fails queued ones, joins the thread

  size_t queued() const;
  uint64_t completed() const { return completed_.load(); }
  size_t max_batch() const { return max_batch_; }
  // The most requests one decode step has served so far (shows that batching happens).
  size_t peak_batch() const { return peak_batch_.load(); }

 private:
  struct Active;
  void loop();
  // Prefills a newly admitted job in the free session that shares the longest prefix with it; true
  // when it still has tokens to decode.
  bool start(Active& active);
  void decode_step(std::vector<Active>& active);
  void finish(Active& active);

  InferenceModel& model_;
  const tok::Tokenizer& tokenizer_;
  size_t max_queue_;
  size_t max_batch_;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::vector<Session*> free_sessions_;  // engine thread only, as are the step buffers below
  std::vector<KvCache*> step_caches_;
  std::vector<uint32_t> step_tokens_;
  std::vector<float> step_logits_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::shared_ptr<Job>> running_;
  bool stopping_ = false;
  std::atomic<uint64_t> completed_{0};
  std::atomic<size_t> peak_batch_{0};
  std::thread thread_;
};

}  // namespace moai::infer
