// The Hub double (hub_double.h).
#include "hub_double.h"

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "moai/core/hash.h"

namespace moai::testing {
namespace {

using nlohmann::json;

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

void error(httplib::Response& res, int status, const std::string& code, const std::string& msg) {
  res.status = status;
  if (!code.empty()) res.set_header("X-Error-Code", code);
  res.set_content(json{{"error", msg}}.dump(), "application/json");
}

std::string git_like_oid(const std::string& content) {
  return hash_bytes_hex("blob " + content).substr(0, 32) + "00000000";
}

}  // namespace

std::string HubDouble::etag_of(const std::string& content) {
  return hash_bytes_hex(content) + hash_bytes_hex("lfs" + content);
}

struct HubDouble::Handlers {
  HubDouble& d;

  // Splits "/api/datasets/<rest>" or "/datasets/<rest>" into repo and tail; "" when unknown.
  // A legacy name answers a redirect to the canonical path (relative, as the Hub does).
  bool route(const httplib::Request& req, httplib::Response& res, const std::string& prefix,
             std::string& repo, std::string& tail) {
    std::string rest = req.path.substr(prefix.size());
    size_t slash = rest.find('/');
    std::string first = rest.substr(0, slash);
    std::lock_guard<std::mutex> lock(d.mutex_);
    auto legacy = d.legacy_.find(first);
    if (legacy != d.legacy_.end()) {
      std::string target = prefix + legacy->second + rest.substr(first.size());
      if (!req.params.empty()) {
        target += "?";
        for (const auto& [k, v] : req.params) target += k + "=" + v + "&";
        target.pop_back();
      }
      res.status = 307;
      res.set_header("Location", target);
      return false;
    }
    size_t second = slash == std::string::npos ? std::string::npos : rest.find('/', slash + 1);
    repo = rest.substr(0, second);
    tail = second == std::string::npos ? "" : rest.substr(second + 1);
    auto it = d.repos_.find(repo);
    if (it == d.repos_.end()) {  // as the Hub: 401 without a token, 404 with one
      error(res, req.has_header("Authorization") ? 404 : 401, "RepoNotFound",
            "Repository not found");
      return false;
    }
    if (it->second.gated && req.get_header_value("Authorization") != "Bearer " + d.token_) {
      error(res, 401, "GatedRepo", "Access to this dataset is restricted");
      return false;
    }
    return true;
  }

  // Files of a revision; false when the revision is unknown.
  bool files_at(const DoubleRepo& repo, const std::string& rev,
                const std::map<std::string, DoubleFile>*& files, std::string& commit) {
    if (rev == "main" || rev == repo.commit) {
      files = &repo.files;
      commit = repo.commit;
      return true;
    }
    if (!repo.parquet_commit.empty() &&
        (rev == "refs/convert/parquet" || rev == repo.parquet_commit)) {
      files = &repo.parquet_files;
      commit = repo.parquet_commit;
      return true;
    }
    return false;
  }

  void api(const httplib::Request& req, httplib::Response& res) {
    ++d.api_requests_;
    if (d.failures_left_ > 0) {
      --d.failures_left_;
      error(res, 503, "", "try again");
      return;
    }
    std::string repo_name, tail;
    if (!route(req, res, "/api/datasets/", repo_name, tail)) return;
    std::lock_guard<std::mutex> lock(d.mutex_);
    const DoubleRepo& repo = d.repos_.at(repo_name);
    const std::map<std::string, DoubleFile>* files = nullptr;
    std::string commit;
    if (starts_with(tail, "revision/")) {
      if (!files_at(repo, tail.substr(9), files, commit)) {
        return error(res, 404, "RevisionNotFound", "Invalid rev id");
      }
      json siblings = json::array();
      for (const auto& [path, file] : *files) siblings.push_back({{"rfilename", path}});
      res.set_content(json{{"id", repo_name}, {"sha", commit}, {"siblings", siblings}}.dump(),
                      "application/json");
    } else if (starts_with(tail, "tree/")) {
      ++d.tree_requests_;
      tree(req, res, repo, repo_name, tail.substr(5));
    } else if (tail == "parquet") {
      if (repo.parquet_commit.empty()) return error(res, 404, "", "no parquet export");
      json listing = json::object();
      for (const auto& [path, file] : repo.parquet_files) {
        size_t a = path.find('/'), b = path.find('/', a + 1);
        listing[path.substr(0, a)][path.substr(a + 1, b - a - 1)].push_back(
            d.endpoint() + "/api/datasets/" + repo_name + "/parquet/" + path);
      }
      res.set_content(listing.dump(), "application/json");
    } else {
      error(res, 404, "", "unknown endpoint");
    }
  }

  // /tree/<rev>[/<path>]?recursive=true&cursor=N: one page, and a Link header to the next.
  void tree(const httplib::Request& req, httplib::Response& res, const DoubleRepo& repo,
            const std::string& repo_name, const std::string& rev_and_path) {
    const std::map<std::string, DoubleFile>* files = nullptr;
    std::string commit;
    std::string rev = rev_and_path;
    if (!files_at(repo, rev, files, commit)) return error(res, 404, "RevisionNotFound", "bad rev");
    if (req.get_param_value("recursive") != "true") return error(res, 400, "", "want recursive");
    json entries = json::array();
    for (const auto& [path, file] : *files) {
      json entry = {{"type", "file"},
                    {"oid", git_like_oid(file.content)},
                    {"size", file.large ? 134 : file.content.size()},
                    {"path", path}};
      if (file.large) {
        entry["lfs"] = {
            {"oid", etag_of(file.content)}, {"size", file.content.size()}, {"pointerSize", 134}};
      }
      entries.push_back(entry);
    }
    size_t cursor = req.has_param("cursor") ? std::stoul(req.get_param_value("cursor")) : 0;
    json page = json::array();
    for (size_t i = cursor; i < entries.size() && i < cursor + d.page_size_; ++i) {
      page.push_back(entries[i]);
    }
    if (cursor + d.page_size_ < entries.size()) {
      res.set_header("Link", "<" + d.endpoint() + "/api/datasets/" + repo_name + "/tree/" + rev +
                                 "?recursive=true&expand=false&cursor=" +
                                 std::to_string(cursor + d.page_size_) + ">; rel=\"next\"");
    }
    res.set_content(page.dump(), "application/json");
  }

  // /datasets/<repo>/resolve/<rev>/<path>
  void resolve(const httplib::Request& req, httplib::Response& res) {
    std::string repo_name, tail;
    if (!route(req, res, "/datasets/", repo_name, tail)) return;
    std::lock_guard<std::mutex> lock(d.mutex_);
    const DoubleRepo& repo = d.repos_.at(repo_name);
    if (!starts_with(tail, "resolve/")) return error(res, 404, "", "unknown endpoint");
    tail = tail.substr(8);
    // The revision is one segment (a commit, "main") or refs/convert/parquet.
    std::string rev = starts_with(tail, "refs/convert/parquet/") ? "refs/convert/parquet"
                                                                 : tail.substr(0, tail.find('/'));
    std::string path = tail.substr(rev.size() + 1);
    const std::map<std::string, DoubleFile>* files = nullptr;
    std::string commit;
    if (!files_at(repo, rev, files, commit)) return error(res, 404, "RevisionNotFound", "bad rev");
    auto it = files->find(path);
    if (it == files->end()) return error(res, 404, "EntryNotFound", "Entry not found");
    const DoubleFile& file = it->second;
    res.set_header("X-Repo-Commit", commit);
    if (file.large) {
      const std::string etag = etag_of(file.content);
      d.blobs_[etag] = file.content;
      res.status = 302;
      res.set_header("Location", d.cdn_origin() + "/blobs/" + etag + "?response-disposition=x");
      res.set_header("X-Linked-Etag", "\"" + etag + "\"");
      res.set_header("X-Linked-Size", std::to_string(file.content.size()));
      res.set_header("ETag", "\"" + git_like_oid(file.content) + "\"");
      return;
    }
    res.set_header("ETag", "\"" + git_like_oid(file.content) + "\"");
    res.set_content(file.content, "application/octet-stream");
  }

  // CDN: /blobs/<etag>; Range handled by httplib (206 + Content-Range).
  void cdn(const httplib::Request& req, httplib::Response& res) {
    const std::string etag = req.path.substr(7);
    std::string content;
    size_t cut = 0;
    {
      std::lock_guard<std::mutex> lock(d.mutex_);
      d.cdn_auth_.push_back(req.get_header_value("Authorization"));
      d.cdn_ranges_.push_back(req.get_header_value("Range"));
      auto it = d.blobs_.find(etag);
      if (it == d.blobs_.end()) return error(res, 404, "", "no such blob");
      content = it->second;
      ++d.cdn_gets_[etag];
      auto c = d.cuts_.find(etag);
      if (c != d.cuts_.end()) {
        cut = c->second;
        d.cuts_.erase(c);
      }
    }
    if (d.cdn_delay_ms_ > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(d.cdn_delay_ms_.load()));
    }
    auto body = std::make_shared<std::string>(content);
    res.set_content_provider(body->size(), "application/octet-stream",
                             [body, cut](size_t offset, size_t length, httplib::DataSink& sink) {
                               if (cut > 0) {  // send the bytes before the cut, then drop
                                 if (cut > offset) sink.write(body->data() + offset, cut - offset);
                                 return false;
                               }
                               sink.write(body->data() + offset, length);
                               return true;
                             });
  }
};

HubDouble::HubDouble()
    : hub_(std::make_unique<httplib::Server>()), cdn_(std::make_unique<httplib::Server>()) {
  auto handlers = std::make_shared<Handlers>(Handlers{*this});
  hub_->Get(R"(/api/datasets/.*)",
            [handlers](const httplib::Request& q, httplib::Response& r) { handlers->api(q, r); });
  hub_->Get(R"(/datasets/.*)", [handlers](const httplib::Request& q, httplib::Response& r) {
    handlers->resolve(q, r);
  });
  cdn_->Get(R"(/blobs/.*)",
            [handlers](const httplib::Request& q, httplib::Response& r) { handlers->cdn(q, r); });
  hub_port_ = hub_->bind_to_any_port("127.0.0.1");
  cdn_port_ = cdn_->bind_to_any_port("127.0.0.1");
  hub_thread_ = std::thread([this] { hub_->listen_after_bind(); });
  cdn_thread_ = std::thread([this] { cdn_->listen_after_bind(); });
  while (!hub_->is_running() || !cdn_->is_running()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

HubDouble::~HubDouble() {
  hub_->stop();
  cdn_->stop();
  hub_thread_.join();
  cdn_thread_.join();
}

std::string HubDouble::endpoint() const {
  return "http://127.0.0.1:" + std::to_string(hub_port_);
}

std::string HubDouble::cdn_origin() const {
  return "http://127.0.0.1:" + std::to_string(cdn_port_);
}

void HubDouble::add_repo(const std::string& name, DoubleRepo repo) {
  std::lock_guard<std::mutex> lock(mutex_);
  repos_[name] = std::move(repo);
}

void HubDouble::add_legacy_name(const std::string& legacy, const std::string& canonical) {
  std::lock_guard<std::mutex> lock(mutex_);
  legacy_[legacy] = canonical;
}

void HubDouble::cut_next_download(const std::string& content, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  cuts_[etag_of(content)] = bytes;
}

int HubDouble::cdn_downloads(const std::string& content) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = cdn_gets_.find(etag_of(content));
  return it == cdn_gets_.end() ? 0 : it->second;
}

std::vector<std::string> HubDouble::cdn_authorization_headers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cdn_auth_;
}

std::vector<std::string> HubDouble::cdn_range_headers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cdn_ranges_;
}

void HubDouble::add_standard_repos() {
  auto jsonl = [](const std::string& prefix, int n) {
    std::string out;
    for (int i = 0; i < n; ++i)
      out += json{{"text", prefix + " " + std::to_string(i)}}.dump() + "\n";
    return out;
  };
  DoubleRepo text;
  text.commit = "1111111111111111111111111111111111111111";
  text.files["README.md"] = {
      "---\nlicense: mit\nconfigs:\n- config_name: plain\n  data_files:\n  - split: train\n"
      "    path: plain/train-*.jsonl\n  - split: validation\n    path: plain/validation.jsonl\n"
      "  default: true\n- config_name: lines\n  data_files: lines/*.txt\n---\n# tiny text\n"};
  text.files["plain/train-00000-of-00002.jsonl"] = {jsonl("plain train a", 6)};
  text.files["plain/train-00001-of-00002.jsonl"] = {jsonl("plain train b", 6), true};
  text.files["plain/validation.jsonl"] = {jsonl("plain validation", 3)};
  text.files["lines/part-0.txt"] = {"first block of lines\n\nsecond block of lines\n", true};
  text.files[".gitattributes"] = {"*.jsonl filter=lfs\n"};
  add_repo("moai-test/tiny-text", text);
  add_legacy_name("tinytext", "moai-test/tiny-text");

  DoubleRepo chat;
  chat.commit = "2222222222222222222222222222222222222222";
  auto conversation = [](const std::string& q, const std::string& a) {
    return json{{"messages",
                 {{{"role", "user"}, {"content", q}}, {{"role", "assistant"}, {"content", a}}}}}
               .dump() +
           "\n";
  };
  std::string train, test;
  for (int i = 0; i < 8; ++i) {
    train += conversation("question " + std::to_string(i), "answer " + std::to_string(i));
  }
  test += conversation("test question", "test answer");
  chat.files["data/train.jsonl"] = {train, true};
  chat.files["data/test.jsonl"] = {test};
  add_repo("moai-test/tiny-chat", chat);

  DoubleRepo gated;
  gated.commit = "3333333333333333333333333333333333333333";
  gated.gated = true;
  gated.files["data/train.jsonl"] = {jsonl("gated", 2)};
  add_repo("moai-test/gated", gated);
  set_token("hf_test_token");

  DoubleRepo script;
  script.commit = "4444444444444444444444444444444444444444";
  script.files["script-only.py"] = {"import datasets\n"};
  script.files["README.md"] = {"# a script dataset\n"};
  add_repo("moai-test/script-only", script);

  DoubleRepo parquet = script;
  parquet.commit = "5555555555555555555555555555555555555555";
  parquet.parquet_commit = "6666666666666666666666666666666666666666";
  parquet.parquet_files["default/train/0000.parquet"] = {"PAR1 not really parquet PAR1", true};
  parquet.parquet_files["default/test/0000.parquet"] = {"PAR1 test PAR1"};
  add_repo("moai-test/parquet-only", parquet);
}

}  // namespace moai::testing
