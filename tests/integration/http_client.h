// A small HTTP client for the integration tests (libcurl): one exchange over loopback, as a
// browser or a script makes it, with the status, body, headers and cookies of the reply.
#pragma once

#include <curl/curl.h>

#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
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
};

// Appends to the body; ends the exchange once the body holds `until` (when set).
inline size_t Append(char* p, size_t size, size_t n, void* out) {
  auto* sink = static_cast<Sink*>(out);
  sink->body->append(p, size * n);
  if (!sink->until->empty() && sink->body->find(*sink->until) != std::string::npos) return 0;
  return size * n;
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
// does the body's first `until` when one is given.
inline Reply Http(const std::string& method, const std::string& url, const std::string& body = "",
                  std::vector<std::string> headers = {}, long timeout_ms = 10000,
                  const std::string& until = "") {
  CURL* c = curl_easy_init();
  Reply r;
  http_client_internal::Sink sink{&r.body, &until};
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
