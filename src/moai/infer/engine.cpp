#include "moai/infer/engine.h"

#include <algorithm>

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

bool Job::done_or_failed() const {
  std::lock_guard lock(mutex_);
  return finished_;
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

struct Engine::Active {
  std::shared_ptr<Job> job;
  Session* session = nullptr;
  std::unique_ptr<Generation> generation;
};

Engine::Engine(InferenceModel& model, const tok::Tokenizer& tokenizer, size_t max_queue,
               size_t max_batch)
    : model_(model),
      tokenizer_(tokenizer),
      max_queue_(max_queue),
      max_batch_(std::max<size_t>(1, max_batch)) {
  for (size_t i = 0; i < max_batch_; ++i) {
    sessions_.push_back(std::make_unique<Session>(model_));
    free_sessions_.push_back(sessions_.back().get());
  }
  thread_ = std::thread([this] { loop(); });
}

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
    for (auto& job : running_) job->cancel();
    for (auto& job : queue_) job->fail("server is shutting down", false);
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Engine::start(Active& active) {
  Job& job = *active.job;
  if (job.cancelled()) {
    GenerateResult r;
    r.finish_reason = FinishReason::kCancelled;
    job.finish(std::move(r));
    return false;
  }
  // The free session whose cached ids share the longest prefix with this prompt.
  auto shared_prefix = [&](const Session* session) {
    size_t n = 0;
    while (n < session->cached.size() && n < job.prompt_.size() &&
           session->cached[n] == job.prompt_[n])
      ++n;
    return n;
  };
  auto best = std::max_element(
      free_sessions_.begin(), free_sessions_.end(),
      [&](const Session* a, const Session* b) { return shared_prefix(a) < shared_prefix(b); });
  active.session = *best;
  free_sessions_.erase(best);
  Job* job_ptr = active.job.get();
  active.generation = std::make_unique<Generation>(
      model_, *active.session, tokenizer_, job.prompt_, job.options_,
      [job_ptr](const std::string& piece) {
        job_ptr->push_text(piece);
        return !job_ptr->cancelled();
      },
      &job.cancelled_);
  try {
    active.generation->prefill();
  } catch (const InputError& e) {
    job.fail(e.what(), true);
    free_sessions_.push_back(active.session);
    return false;
  } catch (const std::exception& e) {
    MOAI_ERROR("engine: request failed: " << e.what());
    active.session->reset();  // the cache may hold a half-written step
    job.fail(e.what(), false);
    free_sessions_.push_back(active.session);
    return false;
  }
  if (active.generation->done()) {
    finish(active);
    return false;
  }
  return true;
}

void Engine::finish(Active& active) {
  active.job->finish(active.generation->take_result());
  free_sessions_.push_back(active.session);
}

void Engine::decode_step(std::vector<Active>& active) {
  const size_t n = active.size();
  const size_t vocab = size_t(model_.vocab_size());
  if (n > peak_batch_.load()) peak_batch_.store(n);
  // Step buffers live in the engine: a batch's logits are megabytes, not worth reallocating per
  // token.
  step_caches_.resize(n);
  step_tokens_.resize(n);
  if (step_logits_.size() < n * vocab) step_logits_.resize(n * vocab);
  for (size_t i = 0; i < n; ++i) {
    step_caches_[i] = &active[i].session->cache;
    step_tokens_[i] = active[i].generation->next_input();
  }
  try {
    model_.forward_batch(step_caches_, step_tokens_, step_logits_.data());
    for (size_t i = 0; i < n; ++i)
      active[i].generation->consume(std::span<const float>(step_logits_.data() + i * vocab, vocab));
  } catch (const std::exception& e) {
    MOAI_ERROR("engine: decode step failed: " << e.what());
    for (Active& a : active) {
      a.session->reset();
      a.job->fail(e.what(), false);
      free_sessions_.push_back(a.session);
      completed_.fetch_add(1);
    }
    active.clear();
    return;
  }
  std::vector<Active> still_running;
  for (Active& a : active) {
    if (a.generation->done()) {
      finish(a);
      completed_.fetch_add(1);
    } else {
      still_running.push_back(std::move(a));
    }
  }
  active.swap(still_running);
}

void Engine::loop() {
  std::vector<Active> active;
  while (true) {
    std::vector<Active> admitted;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || !active.empty(); });
      if (stopping_) break;
      while (!queue_.empty() && active.size() + admitted.size() < max_batch_) {
        admitted.push_back(Active{queue_.front(), nullptr, nullptr});
        running_.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    for (Active& a : admitted) {
      if (start(a))
        active.push_back(std::move(a));
      else
        completed_.fetch_add(1);
    }
    if (!active.empty()) decode_step(active);
    std::lock_guard lock(mutex_);
    std::erase_if(running_, [](const std::shared_ptr<Job>& job) { return job->done_or_failed(); });
  }
  // Shutting down: the running jobs end as cancelled with what they have so far.
  for (Active& a : active) {
    GenerateResult r = a.generation->take_result();
    r.finish_reason = FinishReason::kCancelled;
    a.job->finish(std::move(r));
  }
}

}  // namespace moai::infer
