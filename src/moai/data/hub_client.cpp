// Hub API and cached downloads (hub_client.h).
#include "moai/data/hub_client.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include <unistd.h>

#include "moai/core/error.h"
#include "moai/core/file_util.h"
#include "moai/core/json_util.h"
#include "moai/core/log.h"
#include "moai/core/progress.h"

namespace moai::data::hub {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string encode_component(const std::string& s) {
  std::string out;
  for (char c : url_encode_path(s)) {
    if (c == '/') {
      out += "%2F";
    } else {
      out += c;
    }
  }
  return out;
}

// 5xx, 429 and transport errors are worth another try; an unknown host name (no network) is not.
bool retryable(const HttpResponse& r) {
  if (r.host_unknown) return false;
  return r.transport_failed() || r.status >= 500 || r.status == 429;
}

void sleep_backoff(const HubEnv& env, int attempt) {
  std::this_thread::sleep_for(
      std::chrono::milliseconds(static_cast<int64_t>(env.retry_base_ms) << std::min(attempt, 6)));
}

uint64_t file_size_or_zero(const std::string& path) {
  std::error_code ec;
  uint64_t size = fs::file_size(path, ec);
  return ec ? 0 : size;
}

void check_free_space(const std::string& where, const std::string& dir, uint64_t size,
                      uint64_t have) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  const auto space = fs::space(dir, ec);
  if (!ec && size > have && space.available < size - have) {
    throw_input_error(where, "not enough free space in " + dir + ": need " +
                                 format_bytes(static_cast<double>(size - have)) + ", " +
                                 format_bytes(static_cast<double>(space.available)) +
                                 " available (set HF_HUB_CACHE elsewhere)");
  }
}

// One GET of `get.url` into `partial`, resuming at byte `have` with Range (a server that answers
// 200 instead restarts the file). Never throws for HTTP or transport errors.
HttpResponse fetch_into(HttpRequest get, const std::string& partial, uint64_t have,
                        ProgressBar* progress) {
  std::unique_ptr<FILE, int (*)(FILE*)> out(std::fopen(partial.c_str(), have ? "r+b" : "wb"),
                                            std::fclose);
  if (!out) throw_io_error(partial, "cannot open for writing");
  std::fseek(out.get(), static_cast<long>(have), SEEK_SET);
  if (progress) progress->set(have);
  get.range_start = have > 0 ? static_cast<int64_t>(have) : -1;
  bool restart = have > 0;
  BodySink sink = [&](long status, const char* data, size_t n) {
    if (status == 200 && restart) {  // the server ignored Range: start over
      restart = false;
      std::fflush(out.get());
      if (::ftruncate(fileno(out.get()), 0) != 0) return false;
      std::fseek(out.get(), 0, SEEK_SET);
      if (progress) progress->set(0);
    }
    restart = false;
    if (std::fwrite(data, 1, n, out.get()) != n) return false;
    if (progress) progress->add(n);
    return true;
  };
  HttpResponse r = http_request(get, &sink);
  if (std::fflush(out.get()) != 0 && r.error.empty()) r.error = "cannot write " + partial;
  return r;
}

json parse_json(const std::string& body, const std::string& what) {
  try {
    return json::parse(body);
  } catch (const json::exception& e) {
    throw_input_error(what, std::string("the Hub answered with invalid JSON: ") + e.what());
  }
}

}  // namespace

// The URL of rel="next" in a Link header, or "".
std::string next_link(const std::string& link) {
  size_t pos = 0;
  while (pos < link.size()) {
    size_t open = link.find('<', pos);
    size_t close = link.find('>', open);
    if (open == std::string::npos || close == std::string::npos) return "";
    size_t end = link.find(',', close);
    std::string params = link.substr(close + 1, end == std::string::npos ? end : end - close - 1);
    if (params.find("rel=\"next\"") != std::string::npos ||
        params.find("rel=next") != std::string::npos) {
      return link.substr(open + 1, close - open - 1);
    }
    if (end == std::string::npos) return "";
    pos = end + 1;
  }
  return "";
}

std::string parse_revision_answer(const std::string& body, const std::string& where) {
  const json info = parse_json(body, where);
  if (!info.is_object() || !info.contains("sha") || !info["sha"].is_string()) {
    throw_input_error(where, "the Hub's revision answer has no \"sha\"");
  }
  return info["sha"].get<std::string>();
}

void parse_tree_page(const std::string& body, const std::string& where,
                     std::vector<RepoFile>& files) {
  const json page = parse_json(body, where + ": file listing");
  if (!page.is_array()) throw_input_error(where, "the Hub's file listing is not a list");
  try {
    for (const json& entry : page) {
      if (entry.value("type", "") != "file") continue;
      RepoFile file{entry.value("path", ""), json_integer_or<uint64_t>(entry, "size", where, 0)};
      if (entry.contains("lfs") && entry["lfs"].is_object()) {
        file.size = json_integer_or<uint64_t>(entry["lfs"], "size", where, file.size);
      }
      files.push_back(std::move(file));
    }
  } catch (const json::exception& e) {
    throw_input_error(where, std::string("unexpected file listing from the Hub: ") + e.what());
  }
}

std::vector<std::pair<std::string, std::vector<std::string>>> parse_parquet_listing(
    const std::string& body, const std::string& where) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  const json listing = parse_json(body, where + ": Parquet listing");
  if (!listing.is_object()) return out;
  for (const auto& [config, splits] : listing.items()) {
    std::vector<std::string> names;
    if (splits.is_object()) {
      for (const auto& split : splits.items()) names.push_back(split.key());
    }
    out.emplace_back(config, names);
  }
  return out;
}

bool is_valid_repo_id(const std::string& name) {
  if (name.empty() || name.size() > 96 || std::count(name.begin(), name.end(), '/') > 1) {
    return false;
  }
  if (name.front() == '/' || name.back() == '/' || name.find("..") != std::string::npos ||
      name.find("--") != std::string::npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.';
  });
}

HubClient::HubClient(HubEnv env, std::string repo_id, std::string revision)
    : env_(std::move(env)),
      repo_id_(std::move(repo_id)),
      revision_(std::move(revision)),
      cache_(env_.cache_dir, repo_id_) {
  if (!is_valid_repo_id(repo_id_)) {
    throw_input_error("--dataset", "\"" + repo_id_ +
                                       "\" is neither a local path nor a Hub dataset name "
                                       "(owner/name)");
  }
}

HubClient HubClient::parquet_branch() const {
  return HubClient(env_, repo_id_, "refs/convert/parquet");
}

std::string HubClient::api_url(const std::string& tail) const {
  return env_.endpoint + "/api/datasets/" + repo_id_ + "/" + tail;
}

HttpResponse HubClient::get_with_retries(const HttpRequest& request, const std::string& what) {
  HttpResponse r;
  for (int attempt = 0;; ++attempt) {
    r = http_request(request);
    if (!retryable(r) || attempt >= env_.max_retries) return r;
    MOAI_WARN(what << ": " << (r.transport_failed() ? r.error : "HTTP " + std::to_string(r.status))
                   << "; retrying (" << attempt + 1 << "/" << env_.max_retries << ")");
    sleep_backoff(env_, attempt);
  }
}

void HubClient::fail(const HttpResponse& r, const std::string& what) const {
  const std::string where = repo_id_ + (what.empty() ? "" : ": " + what);
  if (r.transport_failed()) {
    throw_input_error(where, "cannot reach " + env_.endpoint + " (" + r.error +
                                 "); check the network or HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to "
                                 "use the cache only");
  }
  if ((r.status == 401 || r.status == 404) && r.header("x-error-code") == "RepoNotFound") {
    // The Hub answers 401 for a repo it will not confirm without a token: missing or private.
    throw_input_error(where, "no such dataset on " + env_.endpoint + " (HTTP " +
                                 std::to_string(r.status) +
                                 "), or a private one (set HF_TOKEN); and no local file or "
                                 "directory has that name");
  }
  if (r.status == 401 || r.status == 403) {
    throw_input_error(
        where, "access denied (HTTP " + std::to_string(r.status) +
                   "): the dataset is gated or "
                   "private; " +
                   (env_.token.empty()
                        ? "accept its terms on the Hub, then set HF_TOKEN (or write the token to "
                          "$HF_HOME/token)"
                        : "the token from HF_TOKEN / the token file has no access; accept the "
                          "dataset's terms on the Hub with that account"));
  }
  if (r.status == 404) {
    const std::string code = r.header("x-error-code");
    if (code == "RevisionNotFound") {
      throw_input_error(where, "revision \"" + revision_ + "\" not found (HTTP 404)");
    }
    if (code == "EntryNotFound") {
      throw_input_error(where, "no such file at revision " + revision_ + " (HTTP 404)");
    }
    throw_input_error(where, "not found on " + env_.endpoint +
                                 " (HTTP 404): no such dataset, or a private one (set HF_TOKEN); "
                                 "and no local file or directory has that name");
  }
  throw_input_error(
      where, "HTTP " + std::to_string(r.status) + " from " + r.url + ": " + r.body.substr(0, 200));
}

std::string HubClient::commit() {
  if (commit_) return *commit_;
  auto cached = cache_.cached_commit(revision_);
  if (env_.offline) {
    if (!cached) {
      throw_input_error(repo_id_, "HF_HUB_OFFLINE is set and revision \"" + revision_ +
                                      "\" is not in the cache (" + cache_.repo_dir() +
                                      "); run once with network access");
    }
    return *(commit_ = cached);
  }
  HttpRequest request;
  request.url = api_url("revision/" + encode_component(revision_));
  request.token = env_.token;
  HttpResponse r = get_with_retries(request, repo_id_);
  if (r.transport_failed() && cached) {
    MOAI_WARN(repo_id_ << ": the Hub is unreachable (" << r.error
                       << "); using the cached revision");
    unreachable_ = true;
    return *(commit_ = cached);
  }
  if (r.status != 200) fail(r, "revision " + revision_);
  commit_ = parse_revision_answer(r.body, repo_id_);
  cache_.write_ref(revision_, *commit_);
  return *commit_;
}

std::vector<RepoFile> HubClient::list_files() {
  if (files_) return *files_;
  const std::string sha = commit();
  std::vector<RepoFile> files;
  if (cache_only()) {
    for (const std::string& path : cache_.snapshot_files(sha)) {
      files.push_back({path, file_size_or_zero(cache_.snapshot_path(sha, path))});
    }
    return *(files_ = files);
  }
  HttpRequest request;
  request.url = api_url("tree/" + sha + "?recursive=true&expand=false");
  request.token = env_.token;
  while (!request.url.empty()) {
    HttpResponse r = get_with_retries(request, repo_id_);
    if (r.status != 200) fail(r, "file listing");
    parse_tree_page(r.body, repo_id_, files);
    std::string next = next_link(r.header("link"));
    if (!next.empty() && next[0] == '/') next = env_.endpoint + next;
    request.url = next;
  }
  std::sort(files.begin(), files.end(),
            [](const RepoFile& a, const RepoFile& b) { return a.path < b.path; });
  return *(files_ = files);
}

bool HubClient::has_file(const std::string& path) {
  for (const RepoFile& file : list_files()) {
    if (file.path == path) return true;
  }
  return false;
}

std::vector<std::pair<std::string, std::vector<std::string>>> HubClient::parquet_configs() {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  if (env_.offline) return out;
  HttpRequest request;
  request.url = api_url("parquet");
  request.token = env_.token;
  HttpResponse r = get_with_retries(request, repo_id_);
  if (r.status == 404) return out;
  if (r.status != 200) fail(r, "Parquet conversion listing");
  return parse_parquet_listing(r.body, repo_id_);
}

std::string HubClient::download(const std::string& path, bool show_progress) {
  const std::string sha = commit();
  std::string snapshot = cache_.snapshot_path(sha, path);
  if (cache_only()) {
    if (!file_exists(snapshot)) {
      throw_input_error(
          repo_id_ + ": " + path,
          std::string(env_.offline ? "HF_HUB_OFFLINE is set" : "the Hub is unreachable") +
              " and the file is not in the cache (" + snapshot + "); run once with network access");
    }
    return snapshot;
  }
  HttpRequest head;
  head.method = "HEAD";
  head.url =
      env_.endpoint + "/datasets/" + repo_id_ + "/resolve/" + sha + "/" + url_encode_path(path);
  head.token = env_.token;
  head.redirects = Redirects::kSameOrigin;
  HttpResponse r = get_with_retries(head, repo_id_ + ": " + path);
  if (r.transport_failed() && file_exists(snapshot)) {
    MOAI_WARN(repo_id_ << ": " << path << ": the Hub is unreachable; using the cached file");
    return snapshot;
  }
  if (r.status >= 400 || r.transport_failed()) fail(r, path);
  const std::string etag = normalize_etag(
      r.header("x-linked-etag").empty() ? r.header("etag") : r.header("x-linked-etag"));
  if (etag.empty()) throw_input_error(repo_id_ + ": " + path, "the Hub sent no ETag");
  const std::string size_text =
      r.header("x-linked-size").empty() ? r.header("content-length") : r.header("x-linked-size");
  uint64_t size = 0;
  if (!size_text.empty() &&
      std::from_chars(size_text.data(), size_text.data() + size_text.size(), size).ec !=
          std::errc()) {
    throw_input_error(repo_id_ + ": " + path, "the Hub sent a bad file size \"" + size_text + "\"");
  }
  std::string url = head.url;
  if (r.status >= 300 && !r.header("location").empty()) {
    url = r.header("location");
    if (url[0] == '/') url = env_.endpoint + url;
  }
  std::string blob = cache_.blob_path(etag);
  if (!file_exists(blob)) download_blob(path, url, etag, size, show_progress);
  cache_.link_snapshot(sha, path, etag);
  return snapshot;
}

std::string HubClient::download_blob(const std::string& path, const std::string& url,
                                     const std::string& etag, uint64_t size, bool show_progress) {
  std::string blob = cache_.blob_path(etag);
  const std::string where = repo_id_ + ": " + path;
  FileLock lock(cache_.lock_path(etag));
  if (file_exists(blob)) return blob;  // another process finished it while we waited
  const std::string partial = blob + ".incomplete";
  uint64_t have = file_size_or_zero(partial);
  if (size > 0 && have > size) have = 0;
  check_free_space(where, fs::path(blob).parent_path().string(), size, have);
  std::optional<ProgressBar> progress;
  if (show_progress) progress.emplace("download " + path, size, "B");
  HttpRequest get;
  get.url = url;
  // The token goes to the Hub only, never to the CDN a large file redirects to.
  if (url_origin(url) == url_origin(env_.endpoint)) get.token = env_.token;
  for (int attempt = 0; size == 0 || have != size; ++attempt) {
    HttpResponse r = fetch_into(get, partial, have, progress ? &*progress : nullptr);
    have = file_size_or_zero(partial);
    if (r.status == 416 && size > 0 && have == size) break;
    if (!r.transport_failed() && (r.status == 200 || r.status == 206)) {
      if (size == 0 || have == size) break;
      r.error = "short body";  // cut without a transport error: retry from where it stopped
    }
    if (r.status == 416) have = 0;  // the partial file is no prefix of the blob: start over
    if (!retryable(r) && r.status != 416 && r.error != "short body") fail(r, path);
    const std::string why = r.error.empty() ? "HTTP " + std::to_string(r.status) : r.error;
    if (attempt >= env_.max_retries) {
      throw_input_error(where, "download failed after " + std::to_string(attempt + 1) +
                                   " attempts (" + why + "); run again to resume from " +
                                   format_bytes(static_cast<double>(have)));
    }
    MOAI_WARN(where << ": download interrupted at " << format_bytes(static_cast<double>(have))
                    << " (" << why << "); resuming");
    sleep_backoff(env_, attempt);
  }
  if (progress) progress->finish();
  if (size > 0 && file_size_or_zero(partial) != size) {
    throw_input_error(where, "downloaded size differs from the Hub's X-Linked-Size");
  }
  rename_atomic(partial, blob);
  return blob;
}

}  // namespace moai::data::hub
