#include "moai/infer/connection_watchdog.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string_view>
#include <vector>

#include "moai/core/log.h"

namespace moai::infer {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// "addr:port" as httplib spells req.remote_addr / remote_port; empty when `name` is not IP.
std::string endpoint_key(const sockaddr_storage& name) {
  char text[INET6_ADDRSTRLEN] = {};
  if (name.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(name);
    inet_ntop(AF_INET, &in.sin_addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(ntohs(in.sin_port));
  }
  if (name.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(name);
    inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(ntohs(in6.sin6_port));
  }
  return "";
}

int local_port(const sockaddr_storage& name) {
  if (name.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(name).sin_port);
  if (name.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6&>(name).sin6_port);
  return -1;
}

// True when the kernel buffer already holds a complete header block (nothing consumed).
bool complete_headers_waiting(int fd) {
  std::vector<char> buffer(16384);
  const ssize_t n = recv(fd, buffer.data(), buffer.size(), MSG_PEEK | MSG_DONTWAIT);
  return n > 0 && std::string_view(buffer.data(), size_t(n)).find("\r\n\r\n") != std::string::npos;
}

// The descriptors of this process that are sockets.
std::vector<int> socket_fds() {
  std::vector<int> fds;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd", ec)) {
    const auto target = fs::read_symlink(entry.path(), ec);
    if (ec || !target.string().starts_with("socket:")) continue;
    fds.push_back(std::stoi(entry.path().filename().string()));
  }
  return fds;
}

}  // namespace

void ConnectionWatchdog::start(int port) {
  port_ = port;
  thread_ = std::thread([this] { loop(); });
}

void ConnectionWatchdog::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ConnectionWatchdog::set_phase(const std::string& key, Phase phase) {
  std::lock_guard<std::mutex> lock(mutex_);
  Connection& c = connections_[key];
  c.served = c.served || (c.phase == Phase::kHandling && phase == Phase::kReading);
  c.phase = phase;
  c.since = Clock::now();
  c.seen = true;
  c.shut = false;
}

void ConnectionWatchdog::request_read(const std::string& remote_addr, int remote_port) {
  set_phase(remote_addr + ":" + std::to_string(remote_port), Phase::kHandling);
}

void ConnectionWatchdog::response_done(const std::string& remote_addr, int remote_port) {
  set_phase(remote_addr + ":" + std::to_string(remote_port), Phase::kReading);
}

void ConnectionWatchdog::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, options_.interval);
    if (stopping_) break;
    lock.unlock();
    scan();
    lock.lock();
  }
}

void ConnectionWatchdog::scan() {
  const auto now = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [key, c] : connections_) c.seen = false;
  }
  for (int fd : socket_fds()) {
    // Our own reference: if fd was closed and reused since the listing, this examines (and at
    // most shuts down) whatever socket it is now, judged by its own peer address.
    const int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (own < 0) continue;
    check(own, now);
    close(own);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  std::erase_if(connections_, [](const auto& item) { return !item.second.seen; });
}

void ConnectionWatchdog::check(int fd, Clock::time_point now) {
  sockaddr_storage local{}, peer{};
  socklen_t local_len = sizeof(local), peer_len = sizeof(peer);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0) return;
  if (local_port(local) != port_) return;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) return;  // listener
  const std::string key = endpoint_key(peer);
  if (key.empty()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, inserted] = connections_.try_emplace(key);
  Connection& c = it->second;
  if (inserted) c.since = now;
  c.seen = true;
  if (c.shut) return;
  const auto age = now - c.since;
  const auto read_deadline =
      options_.header_timeout + (c.served ? options_.idle_timeout : std::chrono::milliseconds(0));
  if (c.phase == Phase::kReading && age > read_deadline && !complete_headers_waiting(fd)) {
    c.shut = true;
    MOAI_WARN("serve: closing " << key << ": no complete request within "
                                << options_.header_timeout.count() << " ms");
    shutdown(fd, SHUT_RDWR);
    closed_slow_.fetch_add(1);
  } else if (c.phase == Phase::kHandling && options_.request_timeout.count() > 0 &&
             age > options_.request_timeout) {
    c.shut = true;
    MOAI_WARN("serve: closing " << key << ": request still running after "
                                << options_.request_timeout.count() << " ms");
    shutdown(fd, SHUT_RDWR);
    closed_long_.fetch_add(1);
  }
}

}  // namespace moai::infer
