#pragma once
// A small HTTP client for the Hugging Face Hub (libcurl). Redirects are followed by hand so that
// the access token is sent only to the origin it was meant for: a redirect to another scheme, host
// or port (the Hub's CDN for large files) drops the Authorization header. Retries are the caller's
// business (hub_client.h); one call is one request chain.
#include <cstdint>
#include <functional>
#include <map>
#include <string>

namespace moai::data::hub {

enum class Redirects {
  kAll,         // follow every redirect (dropping the token when the origin changes)
  kSameOrigin,  // follow only redirects within the origin (HEAD on /resolve/: the 302 to the CDN
                // carries X-Linked-Etag / X-Linked-Size and is returned as is)
};

struct HttpRequest {
  std::string method = "GET";  // GET or HEAD
  std::string url;
  std::string token;         // sent as "Authorization: Bearer <token>" to the first origin only
  int64_t range_start = -1;  // >= 0: "Range: bytes=<range_start>-"
  Redirects redirects = Redirects::kAll;
  long connect_timeout_s = 15;
  long stall_timeout_s = 60;  // abort when less than 1 byte/s arrives for this long
};

struct HttpResponse {
  long status = 0;            // 0: no HTTP answer (see error)
  std::string error;          // transport error (connection refused, cut body, ...)
  bool host_unknown = false;  // the name did not resolve: no network, or a wrong HF_ENDPOINT
  std::map<std::string, std::string> headers;  // of the final response, lower-case names
  std::string body;                            // when no sink was given
  std::string url;                             // of the final response
  bool transport_failed() const { return status == 0 || !error.empty(); }
  std::string header(const std::string& lower_name) const;
};

// Receives the body of a successful (2xx) final response in pieces, with its status (200, or 206
// for a Range answer); return false to abort.
using BodySink = std::function<bool(long status, const char* data, size_t size)>;

// Performs the request chain; never throws for HTTP statuses or transport errors (see
// HttpResponse).
HttpResponse http_request(const HttpRequest& request, const BodySink* sink = nullptr);

// "scheme://host:port" of a URL (the port made explicit), for the same-origin check.
std::string url_origin(const std::string& url);

// Percent-encodes a path, keeping '/' (file paths in /resolve/ and /tree/ URLs).
std::string url_encode_path(const std::string& path);

}  // namespace moai::data::hub
