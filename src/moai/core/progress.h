#pragma once
// A progress bar for long work: "label [=====>    ] 42% 1.2 MB/s ETA 0:31". It redraws at most ~10
// times a second on a TTY; when stderr is not a TTY (CI, pipes) it prints a plain line every few
// seconds instead, so logs stay readable. Thread-safe: workers may call add() concurrently.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace moai {

class ProgressBar {
 public:
  // total == 0 means unknown: the bar shows count and rate only. unit names what is counted ("B"
  // formats as bytes, anything else as a plain count with that suffix).
  ProgressBar(std::string label, uint64_t total, std::string unit = "");
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void add(uint64_t amount);
  void set(uint64_t done);
  void set_suffix(const std::string& suffix);  // extra text after the ETA, e.g. "loss 3.21"
  void finish();                               // draws the final state and a newline (idempotent)

  // Force the non-TTY style or silence (tests, --quiet).
  static void set_enabled(bool enabled);

 private:
  void maybe_draw(bool force);
  std::string render() const;

  std::string label_;
  std::string unit_;
  std::string suffix_;
  uint64_t total_;
  std::atomic<uint64_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool is_tty_;
  bool finished_ = false;
  mutable std::mutex mutex_;
};

// "1.5 MB", "12.0 kB", "87 B".
std::string format_bytes(double bytes);
// "1:02:03" or "2:03".
std::string format_duration(double seconds);

}  // namespace moai
