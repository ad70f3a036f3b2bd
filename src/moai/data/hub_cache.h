#pragma once
// The huggingface_hub cache layout, shared with Python users (a cache filled by either is reused by
// the other):
//   <cache>/datasets--owner--name/blobs/<etag>             file contents, named by ETag
//   <cache>/datasets--owner--name/refs/<revision>          the commit a branch or tag pointed to
//   <cache>/datasets--owner--name/snapshots/<commit>/<path> relative symlink to ../../blobs/<etag>
//   <cache>/.locks/datasets--owner--name/<etag>.lock       flock'ed while a blob downloads
// A blob is downloaded to blobs/<etag>.incomplete (resumable) and renamed into place.
// Settings come from the environment as huggingface_hub reads them (HubEnv::from_environment).
#include <optional>
#include <string>
#include <vector>

namespace moai::data::hub {

struct HubEnv {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT, no trailing '/'
  std::string cache_dir;                            // HF_HUB_CACHE or $HF_HOME/hub
  std::string token;                                // HF_TOKEN or the token file
  bool offline = false;                             // HF_HUB_OFFLINE
  int max_retries = 5;                              // on 5xx / transport errors
  int retry_base_ms = 1000;  // backoff: base, 2 base, 4 base, ... (MOAI_HUB_RETRY_BASE_MS)

  static HubEnv from_environment();
};

// "datasets--owner--name" (huggingface_hub's repo_folder_name for repo_type "dataset").
std::string repo_folder_name(const std::string& repo_id);

// ETag header value as huggingface_hub stores it: quotes and a W/ prefix removed.
std::string normalize_etag(const std::string& etag);

bool is_commit_hash(const std::string& revision);

class HubCache {
 public:
  HubCache(const std::string& cache_dir, const std::string& repo_id);

  const std::string& repo_dir() const { return repo_dir_; }
  std::string blob_path(const std::string& etag) const;
  std::string lock_path(const std::string& etag) const;
  std::string snapshot_dir(const std::string& commit) const;
  std::string snapshot_path(const std::string& commit, const std::string& path) const;

  // The commit a revision resolves to in the cache: the revision itself when it is a commit hash,
  // else the content of refs/<revision>.
  std::optional<std::string> cached_commit(const std::string& revision) const;
  void write_ref(const std::string& revision, const std::string& commit) const;
  // snapshots/<commit>/<path> -> relative symlink to blobs/<etag> (replacing a stale one).
  void link_snapshot(const std::string& commit, const std::string& path,
                     const std::string& etag) const;
  // Relative paths of every file in snapshots/<commit> (sorted).
  std::vector<std::string> snapshot_files(const std::string& commit) const;

 private:
  std::string repo_dir_;
  std::string locks_dir_;
};

// An exclusive flock on a file (created if missing), released on destruction. Works between
// processes and between threads (each lock opens its own descriptor).
class FileLock {
 public:
  explicit FileLock(const std::string& path);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace moai::data::hub
