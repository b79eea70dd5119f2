// libcurl exchanges for the Kubernetes client; see http_transport.h.
#include "k8s/internal/http_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>

namespace sp::k8s::internal {

namespace {

// Lists of every object in a big cluster can be large; a runaway body is cut here.
constexpr size_t kMaxBody = size_t{512} << 20;

// Once per process; curl_global_init is not thread-safe, a function-local static is.
bool EnsureCurlInitialized() {
  static const bool ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  return ok;
}

struct Exchange {
  CURL* curl = nullptr;
  const HttpRequest* request = nullptr;
  HttpResult* result = nullptr;
  bool aborted = false;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  std::string_view line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    ex->result->retry_after.reset();  // a new response (after a 100 Continue, say)
    return size * n;
  }
  static constexpr std::string_view kRetryAfter = "retry-after:";
  if (line.size() > kRetryAfter.size()) {
    bool match = true;
    for (size_t i = 0; i < kRetryAfter.size() && match; ++i) {
      match = std::tolower(static_cast<unsigned char>(line[i])) == kRetryAfter[i];
    }
    if (match) {
      std::string value(line.substr(kRetryAfter.size()));
      value.erase(std::remove_if(value.begin(), value.end(),
                                 [](unsigned char c) { return std::isspace(c); }),
                  value.end());
      // Seconds only; the HTTP-date form is not used by the API server.
      if (!value.empty() && std::all_of(value.begin(), value.end(), ::isdigit) &&
          value.size() < 7) {
        ex->result->retry_after = Millis(std::stol(value) * 1000);
      }
    }
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  size_t bytes = size * n;
  long status = 0;
  curl_easy_getinfo(ex->curl, CURLINFO_RESPONSE_CODE, &status);
  if (ex->request->on_data && status == 200) {
    if (!ex->request->on_data(std::string_view(data, bytes))) {
      ex->aborted = true;
      return 0;  // CURLE_WRITE_ERROR
    }
    return bytes;
  }
  if (ex->result->body.size() + bytes > kMaxBody) return 0;
  ex->result->body.append(data, bytes);
  return bytes;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* ex = static_cast<Exchange*>(user);
  if (ex->request->cancelled && ex->request->cancelled()) {
    ex->aborted = true;
    return 1;  // CURLE_ABORTED_BY_CALLBACK
  }
  return 0;
}

TransportError Classify(CURLcode code) {
  switch (code) {
    case CURLE_OK:
      return TransportError::kNone;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
      return TransportError::kTls;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:  // also a handshake cut short by a restarting server
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return TransportError::kUnreachable;
    default:
      return TransportError::kOther;
  }
}

void SetBlob(CURL* c, CURLoption option, const std::string& data) {
  curl_blob blob;
  blob.data = const_cast<char*>(data.data());
  blob.len = data.size();
  blob.flags = CURL_BLOB_COPY;
  curl_easy_setopt(c, option, &blob);
}

}  // namespace

HttpTransport::HttpTransport(TlsTrust trust, std::string user_agent)
    : trust_(std::move(trust)), user_agent_(std::move(user_agent)) {}

HttpTransport::~HttpTransport() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpTransport::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void HttpTransport::Release(void* handle) {
  curl_easy_reset(static_cast<CURL*>(handle));  // keeps the connection cache
  std::lock_guard<std::mutex> lock(mu_);
  if (idle_.size() < 16) {
    idle_.push_back(handle);
    return;
  }
  curl_easy_cleanup(static_cast<CURL*>(handle));
}

HttpResult HttpTransport::Perform(const HttpRequest& request, const AuthMaterial& auth) {
  HttpResult result;
  if (!EnsureCurlInitialized()) {
    result.error = TransportError::kOther;
    result.curl_message = "curl_global_init failed";
    return result;
  }
  std::unique_ptr<void, std::function<void(void*)>> handle(Acquire(),
                                                           [this](void* h) { Release(h); });
  CURL* c = static_cast<CURL*>(handle.get());
  if (c == nullptr) {
    result.error = TransportError::kOther;
    result.curl_message = "curl_easy_init failed";
    return result;
  }
  Exchange ex{c, &request, &result, false};
  char error[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM in a threaded server
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(request.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, user_agent_.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &ex);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &ex);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &ex);

  // TLS trust.
  if (trust_.insecure_skip_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  } else if (!trust_.ca_data.empty()) {
    SetBlob(c, CURLOPT_CAINFO_BLOB, trust_.ca_data);
    curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);  // the cluster CA only, not the system's too
  } else if (!trust_.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, trust_.ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);
  }
  // Client certificate.
  if (!auth.client_cert_pem.empty()) {
    SetBlob(c, CURLOPT_SSLCERT_BLOB, auth.client_cert_pem);
    SetBlob(c, CURLOPT_SSLKEY_BLOB, auth.client_key_pem);
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  } else if (!auth.client_cert_file.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, auth.client_cert_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, auth.client_key_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  }

  // Headers; the Authorization value lives only in this list and is freed with it.
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  if (!auth.token.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + auth.token).c_str());
  }
  if (!request.content_type.empty()) {
    headers = curl_slist_append(headers, ("Content-Type: " + request.content_type).c_str());
  }
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

  if (request.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (!request.content_type.empty() || request.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }

  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &result.status);
  result.curl_code = rc;
  if (rc != CURLE_OK) {
    result.error = ex.aborted ? TransportError::kAborted : Classify(rc);
    result.curl_message = error[0] != '\0' ? error : curl_easy_strerror(rc);
    while (!result.curl_message.empty() && result.curl_message.back() == '\n') {
      result.curl_message.pop_back();
    }
  }
  return result;
}

}  // namespace sp::k8s::internal
