// HttpTransport: one HTTP(S) exchange with the API server over libcurl, buffered or streamed.
//
// Easy handles are pooled (taken per request, reset and returned), so connections and TLS
// sessions are reused across requests without sharing a handle between threads. TLS trust is
// fixed per transport; the client certificate and bearer token come with each request (an exec
// plugin may rotate them).
//
// curl_global_init runs once through a function-local static.
// Thread safety: Perform() may be called from any number of threads at once.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "k8s/credentials.h"

namespace sp::k8s::internal {

struct TlsTrust {
  std::string ca_file;
  std::string ca_data;  // PEM
  bool insecure_skip_verify = false;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::string content_type;  // empty: no body
  std::string body;
  Millis timeout{30'000};  // whole exchange
  Millis connect_timeout{5'000};
  // Streaming: a 200 answer's body is handed over as it arrives instead of being collected;
  // returning false aborts the transfer. Bodies of other answers are still collected.
  std::function<bool(std::string_view)> on_data;
  // Polled at least once a second; returning true aborts the transfer.
  std::function<bool()> cancelled;
};

enum class TransportError {
  kNone,         // an HTTP answer arrived (any status)
  kTls,          // certificate verification, CA file or client certificate problems
  kUnreachable,  // connect / resolve failures, resets, timeouts: retry with backoff
  kAborted,      // the request's on_data or cancelled asked to stop
  kOther,
};

struct HttpResult {
  TransportError error = TransportError::kNone;
  int curl_code = 0;
  std::string curl_message;  // curl's description of the failure
  long status = 0;
  std::string body;
  std::optional<Millis> retry_after;  // from a Retry-After header in seconds
};

class HttpTransport {
 public:
  HttpTransport(TlsTrust trust, std::string user_agent);
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  HttpResult Perform(const HttpRequest& request, const AuthMaterial& auth);

 private:
  void* Acquire();  // a CURL*
  void Release(void* handle);

  const TlsTrust trust_;
  const std::string user_agent_;
  std::mutex mu_;
  std::vector<void*> idle_;  // guarded by mu_
};

}  // namespace sp::k8s::internal
