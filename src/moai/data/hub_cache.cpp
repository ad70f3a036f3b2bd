// huggingface_hub cache layout (hub_cache.h).
#include "moai/data/hub_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "moai/core/error.h"
#include "moai/core/file_util.h"

namespace moai::data::hub {
namespace fs = std::filesystem;
namespace {

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

bool env_true(const char* name) {
  std::string value = env_or(name, "");
  std::transform(value.begin(), value.end(), value.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  return value == "1" || value == "ON" || value == "YES" || value == "TRUE";
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// "<pid>-<n>": unique per process and call.
std::string unique_suffix() {
  static std::atomic<uint64_t> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

}  // namespace

HubEnv HubEnv::from_environment() {
  HubEnv env;
  env.endpoint = env_or("HF_ENDPOINT", env.endpoint);
  while (!env.endpoint.empty() && env.endpoint.back() == '/') env.endpoint.pop_back();
  const std::string home = env_or("HOME", "/root");
  const std::string hf_home =
      env_or("HF_HOME", env_or("XDG_CACHE_HOME", home + "/.cache") + "/huggingface");
  env.cache_dir = env_or("HF_HUB_CACHE", env_or("HUGGINGFACE_HUB_CACHE", hf_home + "/hub"));
  env.token = env_or("HF_TOKEN", env_or("HUGGING_FACE_HUB_TOKEN", ""));
  if (env.token.empty()) {
    std::ifstream in(env_or("HF_TOKEN_PATH", hf_home + "/token"));
    std::string line;
    if (in && std::getline(in, line)) env.token = trim(line);
  }
  env.offline = env_true("HF_HUB_OFFLINE") || env_true("HF_DATASETS_OFFLINE");
  std::string base = env_or("MOAI_HUB_RETRY_BASE_MS", "");
  if (!base.empty()) env.retry_base_ms = std::atoi(base.c_str());
  return env;
}

std::string repo_folder_name(const std::string& repo_id) {
  std::string out = "datasets--";
  for (char c : repo_id) {
    if (c == '/') {
      out += "--";
    } else {
      out += c;
    }
  }
  return out;
}

std::string normalize_etag(const std::string& etag) {
  std::string e = trim(etag);
  if (e.rfind("W/", 0) == 0) e = e.substr(2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return e;
}

bool is_commit_hash(const std::string& revision) {
  return revision.size() == 40 &&
         std::all_of(revision.begin(), revision.end(),
                     [](unsigned char c) { return std::isdigit(c) || (c >= 'a' && c <= 'f'); });
}

HubCache::HubCache(const std::string& cache_dir, const std::string& repo_id)
    : repo_dir_((fs::path(cache_dir) / repo_folder_name(repo_id)).string()),
      locks_dir_((fs::path(cache_dir) / ".locks" / repo_folder_name(repo_id)).string()) {}

std::string HubCache::blob_path(const std::string& etag) const {
  return (fs::path(repo_dir_) / "blobs" / etag).string();
}

std::string HubCache::lock_path(const std::string& etag) const {
  return (fs::path(locks_dir_) / (etag + ".lock")).string();
}

std::string HubCache::snapshot_dir(const std::string& commit) const {
  return (fs::path(repo_dir_) / "snapshots" / commit).string();
}

std::string HubCache::snapshot_path(const std::string& commit, const std::string& path) const {
  return (fs::path(snapshot_dir(commit)) / path).string();
}

std::optional<std::string> HubCache::cached_commit(const std::string& revision) const {
  if (is_commit_hash(revision)) return revision;
  std::ifstream in(fs::path(repo_dir_) / "refs" / revision);
  std::string commit;
  if (!in || !std::getline(in, commit)) return std::nullopt;
  commit = trim(commit);
  if (commit.empty()) return std::nullopt;
  return commit;
}

void HubCache::write_ref(const std::string& revision, const std::string& commit) const {
  if (revision == commit) return;
  fs::path ref = fs::path(repo_dir_) / "refs" / revision;
  std::error_code ec;
  fs::create_directories(ref.parent_path(), ec);
  if (cached_commit(revision) == commit) return;
  // A unique temporary name: threads and processes may write the same ref at once.
  const std::string tmp = ref.string() + ".tmp-" + unique_suffix();
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << commit;
    if (!out) throw_io_error(tmp, "cannot write");
  }
  fs::rename(tmp, ref, ec);
  if (ec) throw_io_error(ref.string(), "cannot rename into place: " + ec.message());
}

void HubCache::link_snapshot(const std::string& commit, const std::string& path,
                             const std::string& etag) const {
  fs::path link = snapshot_path(commit, path);
  std::error_code ec;
  fs::create_directories(link.parent_path(), ec);
  if (ec) throw_io_error(link.parent_path().string(), "cannot create directory: " + ec.message());
  // Lexical, as Python's os.path.relpath: "../../blobs/<etag>" (one more "../" per directory
  // level).
  fs::path target = fs::absolute(blob_path(etag))
                        .lexically_normal()
                        .lexically_relative(fs::absolute(link.parent_path()).lexically_normal());
  if (fs::is_symlink(link, ec) && fs::read_symlink(link, ec) == target) return;
  // Atomic replace: a temporary link (unique per process and call) renamed over the old one.
  fs::path tmp = link.string() + ".tmp-" + unique_suffix();
  fs::remove(tmp, ec);
  fs::create_symlink(target, tmp, ec);
  if (ec) throw_io_error(link.string(), "cannot create symlink: " + ec.message());
  fs::rename(tmp, link, ec);
  if (ec) throw_io_error(link.string(), "cannot rename symlink into place: " + ec.message());
}

std::vector<std::string> HubCache::snapshot_files(const std::string& commit) const {
  std::vector<std::string> files;
  fs::path root = snapshot_dir(commit);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return files;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (fs::is_regular_file(it->path(), ec)) {
      files.push_back(it->path().lexically_relative(root).generic_string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

FileLock::FileLock(const std::string& path) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_io_error(path, "cannot open lock file");
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) {
      ::close(fd_);
      throw_io_error(path, "cannot lock");
    }
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

}  // namespace moai::data::hub
