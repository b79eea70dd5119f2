// libcurl GET + nlohmann::json parsing of the standalone master's /json/; see master_client.h.
#include "spark/master_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "spark/internal/json_fields.h"

namespace sp::spark {
namespace {

using internal::GetInt;
using internal::GetString;
using nlohmann::json;

constexpr size_t kMaxBody = 16 << 20;  // a master with thousands of apps is still far below

// Once per process; curl_global_init is not thread-safe, a function-local static is.
bool EnsureCurlInitialized() {
  static const bool ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  return ok;
}

size_t AppendBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* body = static_cast<std::string*>(user);
  size_t n = size * nmemb;
  if (body->size() + n > kMaxBody) return 0;  // makes curl fail with CURLE_WRITE_ERROR
  body->append(data, n);
  return n;
}

MasterApp ParseApp(const json& a) {
  MasterApp app;
  app.id = GetString(a, "id");
  app.name = GetString(a, "name");
  app.state = GetString(a, "state");
  app.user = GetString(a, "user");
  app.cores = static_cast<int>(GetInt(a, "cores"));
  app.memory_per_executor_mb = GetInt(a, "memoryperexecutor");
  app.start_time_ms = GetInt(a, "starttime");
  app.duration_ms = GetInt(a, "duration");
  app.submit_date = GetString(a, "submitdate");
  return app;
}

std::vector<MasterApp> ParseApps(const json& j, const char* key) {
  std::vector<MasterApp> apps;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return apps;
  for (const json& a : *it) {
    if (a.is_object()) apps.push_back(ParseApp(a));
  }
  return apps;
}

}  // namespace

Result<MasterStatus> ParseMasterStatus(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return FailedPreconditionError("master /json/ is not a JSON object (got " +
                                   std::to_string(body.size()) + " bytes starting '" +
                                   std::string(body.substr(0, 40)) + "')");
  }
  MasterStatus s;
  s.url = GetString(j, "url");
  s.status = GetString(j, "status");
  if (s.url.empty()) return FailedPreconditionError("master /json/ has no string field 'url'");
  if (s.status.empty()) {
    return FailedPreconditionError("master /json/ has no string field 'status'");
  }
  s.alive_workers = static_cast<int>(GetInt(j, "aliveworkers"));
  s.cores = static_cast<int>(GetInt(j, "cores"));
  s.cores_used = static_cast<int>(GetInt(j, "coresused"));
  s.memory_mb = GetInt(j, "memory");
  s.memory_used_mb = GetInt(j, "memoryused");
  if (auto it = j.find("workers"); it != j.end() && it->is_array()) {
    for (const json& w : *it) {
      if (!w.is_object()) continue;
      MasterWorker worker;
      worker.id = GetString(w, "id");
      worker.host = GetString(w, "host");
      worker.port = static_cast<int>(GetInt(w, "port"));
      worker.web_ui_address = GetString(w, "webuiaddress");
      worker.cores = static_cast<int>(GetInt(w, "cores"));
      worker.cores_used = static_cast<int>(GetInt(w, "coresused"));
      worker.cores_free = static_cast<int>(GetInt(w, "coresfree"));
      worker.memory_mb = GetInt(w, "memory");
      worker.memory_free_mb = GetInt(w, "memoryfree");
      worker.state = GetString(w, "state");
      worker.last_heartbeat_ms = GetInt(w, "lastheartbeat");
      s.workers.push_back(std::move(worker));
    }
  }
  s.active_apps = ParseApps(j, "activeapps");
  s.completed_apps = ParseApps(j, "completedapps");
  return s;
}

Result<std::string> HttpGet(const std::string& url, Millis timeout) {
  if (!EnsureCurlInitialized()) return InternalError("curl_global_init failed");
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return InternalError("curl_easy_init failed");
  std::string body;
  char error[CURL_ERROR_SIZE] = {0};
  long total_ms = std::max<long>(1, static_cast<long>(timeout.count()));
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM in a threaded server
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");  // loopback and cluster-internal addresses only
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, std::min<long>(total_ms, 1000L));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total_ms);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &AppendBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    return UnavailableError("GET " + url + ": " + (error[0] ? error : curl_easy_strerror(rc)));
  }
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  if (code != 200) return UnavailableError("GET " + url + ": HTTP " + std::to_string(code));
  return body;
}

Result<MasterStatus> FetchMasterStatus(const std::string& ui_url, Millis timeout) {
  std::string base = ui_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  std::string url = base + "/json/";
  ASSIGN_OR_RETURN(std::string body, HttpGet(url, timeout));
  Result<MasterStatus> status = ParseMasterStatus(body);
  if (!status.ok()) return status.status().With(url);
  return status;
}

}  // namespace sp::spark
