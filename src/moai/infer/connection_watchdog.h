#pragma once
// Deadlines for HTTP connections that cpp-httplib (0.11) cannot enforce itself: its timeouts are
// per read, so a client that sends its request a byte every few seconds holds a worker thread
// forever, and a generation has no overall time limit.
//
// A watchdog thread looks at the server's open connections every interval (the process's socket
// descriptors whose local port is the server's; each examined through its own dup, so a descriptor
// closed and reused meanwhile is never mistaken for another connection) and shuts down:
//   - a connection still sending its request (request line, headers, body) header_timeout after it
//     opened (or idle_timeout + header_timeout after its previous response ended), unless the whole
//     header block already waits in the kernel buffer (a well-behaved client queued behind busy
//     workers is never cut off);
//   - a connection whose request has been handled for longer than request_timeout (0 = no limit).
// The server tells the watchdog when a request has been read (request_read) and when its response
// was written (response_done). Linux only (/proc/self/fd).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace moai::infer {

struct WatchdogOptions {
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds request_timeout{0};  // 0 = none
  // Added to header_timeout after a response: a kept-alive connection may first idle this long.
  std::chrono::milliseconds idle_timeout{5000};
  std::chrono::milliseconds interval{250};
};

class ConnectionWatchdog {
 public:
  explicit ConnectionWatchdog(WatchdogOptions options) : options_(options) {}
  ~ConnectionWatchdog() { stop(); }
  void start(int port);  // the server's bound port
  void stop();

  void request_read(const std::string& remote_addr, int remote_port);
  void response_done(const std::string& remote_addr, int remote_port);

  uint64_t closed_slow() const { return closed_slow_.load(); }  // past the header deadline
  uint64_t closed_long() const { return closed_long_.load(); }  // past the request timeout

 private:
  enum class Phase { kReading, kHandling };
  struct Connection {
    Phase phase = Phase::kReading;
    std::chrono::steady_clock::time_point since;
    bool seen = false;    // found in the last scan
    bool shut = false;    // already shut down by the watchdog
    bool served = false;  // a response was written: the idle time comes first
  };
  void loop();
  void scan();
  void check(int fd, std::chrono::steady_clock::time_point now);
  void set_phase(const std::string& key, Phase phase);

  WatchdogOptions options_;
  int port_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
  std::map<std::string, Connection> connections_;  // "addr:port" of the peer
  std::atomic<uint64_t> closed_slow_{0};
  std::atomic<uint64_t> closed_long_{0};
};

}  // namespace moai::infer
