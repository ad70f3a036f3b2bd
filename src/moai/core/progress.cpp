#include "moai/core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace moai {
namespace {

std::atomic<bool> g_enabled{true};

std::string format_count(double value, const std::string& unit) {
  if (unit == "B") return format_bytes(value);
  char buffer[64];
  if (value >= 1e9) {
    std::snprintf(buffer, sizeof buffer, "%.2fG", value / 1e9);
  } else if (value >= 1e6) {
    std::snprintf(buffer, sizeof buffer, "%.2fM", value / 1e6);
  } else if (value >= 1e4) {
    std::snprintf(buffer, sizeof buffer, "%.1fk", value / 1e3);
  } else {
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
  }
  return unit.empty() ? std::string(buffer) : std::string(buffer) + " " + unit;
}

}  // namespace

std::string format_bytes(double bytes) {
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB"};
  int unit = 0;
  while (bytes >= 1000.0 && unit < 4) {
    bytes /= 1000.0;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[unit]);
  return buffer;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  long long total = std::llround(seconds);
  char buffer[32];
  if (total >= 3600) {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", total / 3600, (total / 60) % 60,
                  total % 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld", total / 60, total % 60);
  }
  return buffer;
}

void ProgressBar::set_enabled(bool enabled) {
  g_enabled = enabled;
}

ProgressBar::ProgressBar(std::string label, uint64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_),
      is_tty_(isatty(STDERR_FILENO) != 0) {}

ProgressBar::~ProgressBar() {
  finish();
}

void ProgressBar::add(uint64_t amount) {
  done_.fetch_add(amount, std::memory_order_relaxed);
  maybe_draw(false);
}

void ProgressBar::set(uint64_t done) {
  done_.store(done, std::memory_order_relaxed);
  maybe_draw(false);
}

void ProgressBar::set_suffix(const std::string& suffix) {
  std::lock_guard<std::mutex> lock(mutex_);
  suffix_ = suffix;
}

void ProgressBar::finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (finished_) return;
  }
  maybe_draw(true);
  std::lock_guard<std::mutex> lock(mutex_);
  finished_ = true;
  if (g_enabled && is_tty_) std::fputc('\n', stderr);
}

std::string ProgressBar::render() const {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double done = static_cast<double>(done_.load(std::memory_order_relaxed));
  const double rate = elapsed > 0 ? done / elapsed : 0.0;
  std::string line = label_;
  if (total_ > 0) {
    const double fraction = std::min(1.0, done / static_cast<double>(total_));
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(fraction * kWidth);
    line += " [";
    for (int i = 0; i < kWidth; ++i) line += i < filled ? '=' : (i == filled ? '>' : ' ');
    char percent[16];
    std::snprintf(percent, sizeof percent, "] %3.0f%%", fraction * 100.0);
    line += percent;
    line.append(" ")
        .append(format_count(done, unit_))
        .append("/")
        .append(format_count(static_cast<double>(total_), unit_));
    line.append(" ").append(format_count(rate, unit_)).append("/s");
    const double eta = rate > 0 ? (static_cast<double>(total_) - done) / rate : NAN;
    line.append(" ETA ").append(format_duration(eta));
  } else {
    line.append(" ")
        .append(format_count(done, unit_))
        .append(" ")
        .append(format_count(rate, unit_))
        .append("/s");
    line.append(" elapsed ").append(format_duration(elapsed));
  }
  if (!suffix_.empty()) line.append(" ").append(suffix_);
  return line;
}

void ProgressBar::maybe_draw(bool force) {
  if (!g_enabled) return;
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) {
    if (!force) return;
    lock.lock();
  }
  if (finished_) return;
  const auto interval = is_tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(5000);
  if (!force && now - last_draw_ < interval) return;
  last_draw_ = now;
  const std::string line = render();
  if (is_tty_) {
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace moai
