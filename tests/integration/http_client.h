// A small HTTP client for the integration tests (libcurl): one exchange over loopback, as a
// browser or a script makes it, with the status, body, headers and cookies of the reply.
#pragma once

#include <curl/curl.h>

#include <cctype>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace sp::testing {

struct Reply {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::vector<std::string> set_cookies;        // every Set-Cookie line
  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, false); }
};

namespace http_client_internal {

struct Sink {
  std::string* body;
  const std::string* until;
  long linger_ms;
  std::optional<std::chrono::steady_clock::time_point> found;  // when `until` came
  bool Done() const {
    return found &&
           std::chrono::steady_clock::now() - *found >= std::chrono::milliseconds(linger_ms);
  }
};

// Appends to the body; ends the exchange `linger_ms` after the body holds `until` (when set).
inline size_t Append(char* p, size_t size, size_t n, void* out) {
  auto* sink = static_cast<Sink*>(out);
  sink->body->append(p, size * n);
  if (!sink->found && !sink->until->empty() &&
      sink->body->find(*sink->until) != std::string::npos) {
    sink->found = std::chrono::steady_clock::now();
  }
  return sink->Done() ? 0 : size * n;
}

// Called at least once a second while the exchange lasts: ends a lingering one that fell quiet.
inline int Progress(void* out, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Sink*>(out)->Done() ? 1 : 0;
}

inline size_t Header(char* p, size_t size, size_t n, void* out) {
  std::string line(p, size * n);
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    auto* reply = static_cast<Reply*>(out);
    reply->headers[name] = value;
    if (name == "set-cookie") reply->set_cookies.push_back(value);
  }
  return size * n;
}

}  // namespace http_client_internal

// One HTTP exchange. `timeout_ms` ends event streams (the status and headers are kept), and so
// does the body's first `until` when one is given, `linger_ms` after it came (what follows it
// within that time is kept too).
inline Reply Http(const std::string& method, const std::string& url, const std::string& body = "",
                  std::vector<std::string> headers = {}, long timeout_ms = 10000,
                  const std::string& until = "", long linger_ms = 0) {
  CURL* c = curl_easy_init();
  Reply r;
  http_client_internal::Sink sink{&r.body, &until, linger_ms, std::nullopt};
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "POST" || method == "PATCH") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    headers.push_back("Content-Type: application/json");
  }
  curl_slist* list = nullptr;
  for (const auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, http_client_internal::Append);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, http_client_internal::Progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &sink);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, http_client_internal::Header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(c);
  return r;
}

}  // namespace sp::testing
