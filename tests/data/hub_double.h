#pragma once
// A local Hugging Face Hub double for the tests: an HTTP server on 127.0.0.1 (random free port)
// answering the endpoints moai uses as the Hub does (revision info, paginated recursive trees with
// Link headers, the Parquet listing, HEAD/GET on /resolve/ with X-Repo-Commit, ETag, X-Linked-Etag,
// X-Linked-Size), 401 for a gated repo without the token, 404 with X-Error-Code, legacy names
// redirected to owner/name, and a SECOND server (the "CDN", another port) that large files are
// 302-redirected to, with Range support and a one-time cut of a response mid-body.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace moai::testing {

struct DoubleFile {
  std::string content;
  bool large = false;  // served through the CDN redirect (an LFS file on the real Hub)
};

struct DoubleRepo {
  std::string commit;                       // 40 hex digits
  std::map<std::string, DoubleFile> files;  // path -> file (main and the commit)
  bool gated = false;
  std::string parquet_commit;  // non-empty: refs/convert/parquet exists
  std::map<std::string, DoubleFile> parquet_files;
};

class HubDouble {
 public:
  HubDouble();
  ~HubDouble();
  HubDouble(const HubDouble&) = delete;
  HubDouble& operator=(const HubDouble&) = delete;

  std::string endpoint() const;  // http://127.0.0.1:<port>
  std::string cdn_origin() const;

  void add_repo(const std::string& name, DoubleRepo repo);
  void add_legacy_name(const std::string& legacy, const std::string& canonical);
  void set_token(const std::string& token) { token_ = token; }
  void set_tree_page_size(size_t n) { page_size_ = n; }
  // The next CDN download of the file with this content is cut after `bytes` bytes (once).
  void cut_next_download(const std::string& content, size_t bytes);
  // The next `n` API requests answer 503.
  void fail_next_api_requests(int n) { failures_left_ = n; }
  void set_cdn_delay_ms(int ms) { cdn_delay_ms_ = ms; }

  // Observations.
  int cdn_downloads(const std::string& content) const;  // GETs of that blob on the CDN
  std::vector<std::string> cdn_authorization_headers() const;
  std::vector<std::string> cdn_range_headers() const;
  int tree_requests() const { return tree_requests_; }
  int api_requests() const { return api_requests_; }

  static std::string etag_of(const std::string& content);  // 64 hex digits
  // The standard test repos: moai-test/tiny-text (card with configs "plain" (default) and "lines"),
  // moai-test/tiny-chat (JSONL messages, splits from file names), moai-test/gated,
  // moai-test/script-only, moai-test/parquet-only (script + refs/convert/parquet), and the legacy
  // name "tinytext" -> moai-test/tiny-text. Token for the gated repo: "hf_test_token".
  void add_standard_repos();

 private:
  struct Handlers;
  std::unique_ptr<httplib::Server> hub_;
  std::unique_ptr<httplib::Server> cdn_;
  std::thread hub_thread_, cdn_thread_;
  int hub_port_ = 0, cdn_port_ = 0;
  mutable std::mutex mutex_;
  std::map<std::string, DoubleRepo> repos_;
  std::map<std::string, std::string> legacy_;
  std::map<std::string, std::string> blobs_;  // etag -> content (CDN)
  std::map<std::string, size_t> cuts_;        // etag -> bytes before the cut
  std::map<std::string, int> cdn_gets_;
  std::vector<std::string> cdn_auth_, cdn_ranges_;
  std::string token_;
  size_t page_size_ = 2;
  std::atomic<int> failures_left_{0};
  std::atomic<int> cdn_delay_ms_{0};
  std::atomic<int> tree_requests_{0};
  std::atomic<int> api_requests_{0};
};

}  // namespace moai::testing
