#include "moai/infer/engine.h"

#include "moai/core/error.h"
#include "moai/core/log.h"

namespace moai::infer {

std::string Job::take_text(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  cv_.wait_for(lock, timeout, [&] { return !pending_.empty() || finished_; });
  std::string out;
  out.swap(pending_);
  return out;
}

bool Job::done() const {
  std::lock_guard lock(mutex_);
  return finished_ && pending_.empty();
}

void Job::wait() {
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [&] { return finished_; });
}

void Job::push_text(const std::string& piece) {
  {
    std::lock_guard lock(mutex_);
    pending_ += piece;
  }
  cv_.notify_all();
}

void Job::finish(GenerateResult result) {
  {
    std::lock_guard lock(mutex_);
    result_ = std::move(result);
    finished_ = true;
  }
  cv_.notify_all();
}

void Job::fail(const std::string& message, bool input_error) {
  {
    std::lock_guard lock(mutex_);
    error_ = message;
    error_is_input_ = input_error;
    finished_ = true;
  }
  cv_.notify_all();
}

Engine::Engine(InferenceModel& model, const tok::Tokenizer& tokenizer, size_t max_queue)
    : model_(model), tokenizer_(tokenizer), max_queue_(max_queue), thread_([this] { loop(); }) {}

Engine::~Engine() {
  stop();
}

std::shared_ptr<Job> Engine::submit(std::vector<uint32_t> prompt, GenerateOptions options) {
  auto job = std::make_shared<Job>(std::move(prompt), std::move(options));
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= max_queue_) return nullptr;
    queue_.push_back(job);
  }
  cv_.notify_all();
  return job;
}

size_t Engine::queued() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void Engine::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    if (running_) running_->cancel();
    for (auto& job : queue_) job->fail("server is shutting down", false);
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Engine::loop() {
  Session session(
      model_);  // kept across requests: a client that resends its history reuses the cache
  while (true) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = queue_.front();
      queue_.pop_front();
      running_ = job;
    }
    if (!job->cancelled()) {
      try {
        GenerateResult r = generate(
            model_, session, tokenizer_, job->prompt_, job->options_,
            [&](const std::string& piece) {
              job->push_text(piece);
              return !job->cancelled();
            },
            &job->cancelled_);
        job->finish(std::move(r));
      } catch (const InputError& e) {
        job->fail(e.what(), true);
      } catch (const std::exception& e) {
        MOAI_ERROR("engine: request failed: " << e.what());
        session.reset();  // the cache may hold a half-written step
        job->fail(e.what(), false);
      }
    } else {
      GenerateResult r;
      r.finish_reason = FinishReason::kCancelled;
      job->finish(std::move(r));
    }
    completed_.fetch_add(1);
    std::lock_guard lock(mutex_);
    running_.reset();
  }
}

}  // namespace moai::infer
