// libcurl client with hand-followed redirects (hub_http.h).
#include "moai/data/hub_http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "moai/core/error.h"

namespace moai::data::hub {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  HttpResponse* response;
  const BodySink* sink;
  bool body_wanted = true;  // false for a redirect's body
  long status = 0;          // of the response being received
  bool aborted = false;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response (after a 100, say). A redirect's or an error's body is not the file: only a
    // successful final response goes to the sink.
    t->response->headers.clear();
    size_t sp = line.find(' ');
    long code = sp == std::string::npos ? 0 : std::atol(line.c_str() + sp + 1);
    t->status = code;
    t->body_wanted = t->sink == nullptr || (code >= 200 && code < 300);
  }
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string value = line.substr(colon + 1);
    size_t b = value.find_first_not_of(" \t");
    size_t e = value.find_last_not_of(" \t\r\n");
    t->response->headers[name] = b == std::string::npos ? "" : value.substr(b, e - b + 1);
  }
  return size * count;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  if (!t->body_wanted) {
    if (t->sink != nullptr && t->response->body.size() < 4096) t->response->body.append(data, n);
    return n;
  }
  if (t->sink != nullptr) {
    if (!(*t->sink)(t->status, data, n)) {
      t->aborted = true;
      return 0;
    }
  } else {
    t->response->body.append(data, n);
  }
  return n;
}

bool is_redirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

using CurlHeaders = std::unique_ptr<curl_slist, void (*)(curl_slist*)>;

// Headers and options of one request on handle `h` (the returned list must outlive the transfer).
CurlHeaders configure(CURL* h, const HttpRequest& request, const std::string& url, bool send_token,
                      Transfer& transfer, std::string& range) {
  curl_slist* headers = nullptr;
  if (send_token && !request.token.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + request.token).c_str());
  }
  headers = curl_slist_append(headers, "Accept-Encoding: identity");
  headers = curl_slist_append(headers, "User-Agent: moai/0.1; hf_hub-compatible");
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, request.connect_timeout_s);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, request.stall_timeout_s);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);
  if (request.method == "HEAD") curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  if (request.range_start >= 0) {
    range = std::to_string(request.range_start) + "-";
    curl_easy_setopt(h, CURLOPT_RANGE, range.c_str());
  }
  return CurlHeaders(headers, curl_slist_free_all);
}

// One request without following redirects; `location` receives the absolute redirect target.
void perform_once(const HttpRequest& request, const std::string& url, bool send_token,
                  const BodySink* sink, HttpResponse& response, std::string& location) {
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw InternalError("curl_easy_init failed");
  CURL* h = curl.get();
  Transfer transfer{&response, sink};
  response = HttpResponse{};
  response.url = url;
  std::string range;
  CurlHeaders headers = configure(h, request, url, send_token, transfer, range);
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  response.status = status;
  if (rc != CURLE_OK && !(transfer.aborted && rc == CURLE_WRITE_ERROR)) {
    response.error = curl_easy_strerror(rc);
    response.host_unknown = rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY;
  } else if (transfer.aborted) {
    response.error = "aborted by the receiver";
  }
  char* target = nullptr;
  location.clear();
  if (is_redirect(status) && curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &target) == CURLE_OK &&
      target != nullptr) {
    location = target;
  }
}

}  // namespace

std::string HttpResponse::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

std::string url_origin(const std::string& url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return url;
  std::string scheme = url.substr(0, scheme_end);
  size_t host_begin = scheme_end + 3;
  size_t host_end = url.find_first_of("/?#", host_begin);
  std::string host = url.substr(
      host_begin, host_end == std::string::npos ? std::string::npos : host_end - host_begin);
  size_t at = host.rfind('@');
  if (at != std::string::npos) host = host.substr(at + 1);
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (host.find(':') == std::string::npos) host += scheme == "https" ? ":443" : ":80";
  return scheme + "://" + host;
}

std::string url_encode_path(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

HttpResponse http_request(const HttpRequest& request, const BodySink* sink) {
  global_init();
  const std::string origin = url_origin(request.url);
  std::string url = request.url;
  bool send_token = true;
  HttpResponse response;
  for (int hop = 0; hop < 10; ++hop) {
    std::string location;
    perform_once(request, url, send_token, sink, response, location);
    if (response.transport_failed() || !is_redirect(response.status) || location.empty()) {
      return response;
    }
    bool same_origin = url_origin(location) == origin;
    if (!same_origin && request.redirects == Redirects::kSameOrigin) return response;
    if (!same_origin) send_token = false;  // never hand the token to the CDN
    url = location;
  }
  response.error = "too many redirects from " + request.url;
  return response;
}

}  // namespace moai::data::hub
