#pragma once
// Hub API and downloads for one dataset repo, on the endpoints huggingface_hub uses under
// HF_ENDPOINT: /api/datasets/{repo}/revision/{rev}, /api/datasets/{repo}/tree/{rev}/{path}
// (paginated by the Link header), /api/datasets/{repo}/parquet,
// /datasets/{repo}/resolve/{rev}/{path}. Downloads land in the shared cache (hub_cache.h): HEAD for
// X-Repo-Commit, X-Linked-Etag/ETag and X-Linked-Size; the 302 to the CDN is fetched without the
// token; a partial blobs/<etag>.incomplete resumes with Range; 5xx and transport errors retry with
// exponential backoff; one process per blob downloads (flock) while the others wait and reuse it.
// Offline (HF_HUB_OFFLINE): the cache only. Errors: 401/403 (gated or private) and 404 are
// InputErrors naming the repo and file.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "moai/data/hub_cache.h"
#include "moai/data/hub_files.h"
#include "moai/data/hub_http.h"

namespace moai::data::hub {

class HubClient {
 public:
  HubClient(HubEnv env, std::string repo_id, std::string revision = "main");

  const std::string& repo_id() const { return repo_id_; }
  const std::string& revision() const { return revision_; }
  const HubEnv& env() const { return env_; }
  const HubCache& cache() const { return cache_; }
  // True offline, or once the Hub proved unreachable and the cached revision was used: listings
  // then come from the cached snapshot and downloads from the cache.
  bool cache_only() const { return env_.offline || unreachable_; }

  // The commit `revision` points to (API, or the cache when offline); recorded in refs/.
  std::string commit();
  // Every file of the repo at `revision` (recursive, all pages); offline: the cached snapshot's.
  std::vector<RepoFile> list_files();
  // Whether the repo has the file (from list_files).
  bool has_file(const std::string& path);
  // Downloads one file (or finds it in the cache) and returns its snapshot path.
  std::string download(const std::string& path, bool show_progress = true);
  // The Parquet conversion: config -> split names, from /api/datasets/{repo}/parquet. Empty when
  // the Hub has none (404) or offline.
  std::vector<std::pair<std::string, std::vector<std::string>>> parquet_configs();
  // A client for the Parquet conversion branch of the same repo.
  HubClient parquet_branch() const;

 private:
  std::string api_url(const std::string& tail) const;
  HttpResponse get_with_retries(const HttpRequest& request, const std::string& what);
  [[noreturn]] void fail(const HttpResponse& response, const std::string& what) const;
  std::string download_blob(const std::string& path, const std::string& url,
                            const std::string& etag, uint64_t size, bool show_progress);

  HubEnv env_;
  std::string repo_id_;
  std::string revision_;
  HubCache cache_;
  std::optional<std::string> commit_;
  bool unreachable_ = false;
  std::optional<std::vector<RepoFile>> files_;
};

// The Hub's API answers, parsed (public for the fuzz target `hub_api`). InputError naming `where`
// for an answer that is not what the API documents.
// GET /revision/{rev}: the commit sha.
std::string parse_revision_answer(const std::string& body, const std::string& where);
// GET /tree/{rev}?recursive=true: one page; its files (type "file", LFS size when present)
// appended.
void parse_tree_page(const std::string& body, const std::string& where,
                     std::vector<RepoFile>& files);
// GET /parquet: config -> split names (empty when the answer is not an object).
std::vector<std::pair<std::string, std::vector<std::string>>> parse_parquet_listing(
    const std::string& body, const std::string& where);
// The URL of rel="next" in a Link header, or "".
std::string next_link(const std::string& link);

// "wikitext" or "owner/name": the characters a Hub repo id may hold.
bool is_valid_repo_id(const std::string& name);

}  // namespace moai::data::hub
