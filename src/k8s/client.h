// KubeClient: the Kubernetes API as Sparkplane uses it — create, get, list, server-side apply,
// patch, delete and watch of objects addressed by ResourceRef, as JSON.
//
// Requests go over HTTPS (libcurl) with the KubeConfig's CA, client certificate and/or bearer
// token (CredentialProvider: token files re-read, exec plugins cached; one retry after a 401
// when the credentials can be refreshed). Each request has a timeout and is retried with
// exponential backoff and jitter on 429 (honouring Retry-After), 5xx and connection failures,
// up to RetryPolicy::max_attempts; never on other 4xx. Failures become Status values with
// messages for users (api_error.h): TLS problems name the server and the CA's source;
// unreachable servers are Unavailable naming the URL.
//
// Watch streams events to a handler, resumes from the last seen resourceVersion after a
// disconnect or a server-side timeout, and on 410 Gone (the version is no longer in the server's
// watch cache, e.g. after an API server restart) lists again and delivers a kRelisted event with
// the full current state, so the caller can reconcile what it missed.
//
// Thread safety: a KubeClient may be used from any number of threads at once. Each request
// takes its own curl easy handle from a pool (no handle is shared between threads); statistics
// are atomic; a Watch blocks its calling thread until it ends.
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "k8s/api_error.h"
#include "k8s/credentials.h"
#include "k8s/kube_config.h"
#include "k8s/resource.h"

namespace sp::k8s {

namespace internal {
class HttpTransport;
struct HttpRequest;
struct HttpResult;
}  // namespace internal

struct RetryPolicy {
  int max_attempts = 5;  // tries of one request in all (1: no retry)
  Millis initial_backoff{200};
  Millis max_backoff{5'000};
  Millis max_retry_after{30'000};  // a longer Retry-After from the server is capped to this
};

struct KubeClientOptions {
  std::string field_manager = "sparkplane";
  std::string user_agent = "sparkplane/0.1";
  Millis request_timeout{30'000};
  Millis connect_timeout{5'000};
  RetryPolicy retry;
  CredentialProvider::Options credentials;
  // Waits between retries and watch reconnects. Default: a real wait that Cancel() of the
  // watch's WatchCancel interrupts. Unit tests pass one that records instead of sleeping.
  std::function<void(Millis)> sleep;
  // Fault injection for the callers' tests: called before every HTTP request; a non-OK result
  // fails that request as if the server had answered with it (no retry).
  std::function<Status(Verb, const ResourceRef&)> inject_fault;
  Logger* logger = nullptr;  // retries and watch reconnects at info level; may be null
};

// HTTP requests sent, by verb (retries included), for benchmarks' requests-per-lifecycle.
struct KubeRequestStats {
  std::array<uint64_t, kVerbCount> by_verb{};
  uint64_t retries = 0;   // requests that were repeats of a failed attempt
  uint64_t failures = 0;  // calls that returned an error
  uint64_t relists = 0;   // 410 Gone recoveries in watches

  uint64_t Count(Verb verb) const { return by_verb[static_cast<int>(verb)]; }
  uint64_t Total() const;
  std::string ToString() const;  // "get=3 list=1 create=4 patch=2 delete=1 (retries=0)"
};

struct ListOptions {
  std::string label_selector;  // "app=spark,cluster in (a,b)"
  std::string field_selector;  // "metadata.name=x"
  int64_t limit = 0;           // 0: no limit
  std::string continue_token;
  std::string resource_version;  // "" : most recent (a consistent read)
};

struct ObjectList {
  std::vector<nlohmann::json> items;
  std::string resource_version;  // of the list: watch from here
  std::string continue_token;    // non-empty: more pages
};

enum class PatchType { kMerge, kStrategicMerge, kJson };
enum class ApplyConflicts { kFail, kForce };
enum class Propagation { kBackground, kForeground, kOrphan };

struct DeleteOptions {
  Propagation propagation = Propagation::kBackground;
  std::optional<int64_t> grace_period_seconds;
  // preconditions.uid: delete only the object of this UID, not one made since under the same
  // name (a mismatch is a 409, Aborted).
  std::string precondition_uid;
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kRelisted };
const char* WatchEventTypeName(WatchEventType type);

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  nlohmann::json object;              // the object (a bookmark carries only metadata)
  std::vector<nlohmann::json> items;  // kRelisted: every matching object that exists now
  std::string resource_version;       // the watch position after this event
};

enum class WatchControl { kContinue, kStop };
using WatchHandler = std::function<WatchControl(const WatchEvent&)>;

// Ends a Watch from another thread: Cancel() aborts the open stream (within about a second)
// and any backoff wait. Watch then returns Cancelled.
class WatchCancel {
 public:
  void Cancel();
  bool cancelled() const { return cancelled_.load(); }
  // Waits up to `d`; false if cancelled before or during the wait.
  bool WaitFor(Millis d) const;

 private:
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
};

struct WatchOptions {
  // "" : list first (delivered as a kRelisted event), then watch from the list's version.
  std::string resource_version;
  std::string label_selector;
  std::string field_selector;
  // Each watch request ends on the server after this long and is resumed transparently.
  int timeout_seconds = 300;
  // Reconnects in a row that may fail before Watch gives up with Unavailable; 0: never.
  int max_consecutive_failures = 0;
  const WatchCancel* cancel = nullptr;
};

class KubeClient {
 public:
  // `clock` must outlive the client (token-file and exec-credential expiry).
  KubeClient(KubeConfig config, const Clock& clock, KubeClientOptions options = {});
  ~KubeClient();
  KubeClient(const KubeClient&) = delete;
  KubeClient& operator=(const KubeClient&) = delete;

  const KubeConfig& config() const { return config_; }
  // The namespace of the kubeconfig context (or the override), for refs built by callers.
  const std::string& default_namespace() const { return config_.default_namespace; }

  // POST to the collection of `ref` (its name is ignored). apiVersion and kind are filled in
  // from the type when absent. AlreadyExists when the name is taken.
  Result<nlohmann::json> Create(const ResourceRef& ref, nlohmann::json object);
  Result<nlohmann::json> Get(const ResourceRef& ref);
  // One page of the collection of `ref`.
  Result<ObjectList> List(const ResourceRef& ref, const ListOptions& options = {});
  // Every page (following continue tokens); `options.limit` is the page size.
  Result<ObjectList> ListAll(const ResourceRef& ref, const ListOptions& options = {});
  // Server-side apply as the field manager (options.field_manager): the object is sent as
  // application/apply-patch+yaml. apiVersion, kind and metadata.name are filled in from `ref`.
  // Aborted on a field-ownership conflict unless ApplyConflicts::kForce. `dry_run` sends
  // dryRun=All: the server checks and admits the object and answers with what it would store,
  // storing nothing.
  Result<nlohmann::json> ServerSideApply(const ResourceRef& ref, nlohmann::json object,
                                         ApplyConflicts conflicts = ApplyConflicts::kFail,
                                         bool dry_run = false);
  Result<nlohmann::json> Patch(const ResourceRef& ref, PatchType type, const nlohmann::json& patch);
  // Patch of the status subresource (what controllers do; tests use it to fake one).
  Result<nlohmann::json> PatchStatus(const ResourceRef& ref, PatchType type,
                                     const nlohmann::json& patch);
  // True if the object existed (deletion started), false if it was already gone. A 404 after
  // an attempt that failed in transit counts as existed (that attempt most likely deleted it).
  Result<bool> Delete(const ResourceRef& ref, const DeleteOptions& options = {});
  // Streams events of the collection of `ref` until the handler returns kStop (OK), the
  // cancel fires (Cancelled), or an error that retrying cannot fix (the mapped Status).
  Status Watch(const ResourceRef& ref, const WatchOptions& options, const WatchHandler& handler);
  // GET /version: {"major":"1","minor":"37","gitVersion":"v1.37.2",...}. Counted as a get.
  Result<nlohmann::json> ServerVersion();

  KubeRequestStats Stats() const;
  void ResetStats();

 private:
  struct Call {
    Verb verb = Verb::kGet;
    ResourceRef ref;  // for messages and fault injection
    std::string subresource;
    std::string method;
    std::string path_and_query;
    std::string content_type;
    std::string body;
  };
  struct Response {
    long status = 0;
    std::string body;
    bool maybe_applied = false;  // an earlier, failed attempt of this write may have taken effect
  };
  class WatchSession;

  // Sends `call` with retries; returns the 2xx answer, or the mapped error. 404 answers are
  // returned (not mapped) when `allow_not_found`.
  Result<Response> Send(const Call& call, bool allow_not_found = false);
  Result<nlohmann::json> SendForObject(const Call& call);
  Status TransportFailure(const Call& call, const internal::HttpResult& result, int attempts) const;
  Millis Backoff(int attempt);
  void Sleep(Millis d, const WatchCancel* cancel);
  void CountRequest(Verb verb);
  RequestContext Context(const Call& call) const;
  Status Fail(Status status);

  const KubeConfig config_;
  const KubeClientOptions options_;
  CredentialProvider credentials_;
  std::unique_ptr<internal::HttpTransport> transport_;

  std::array<std::atomic<uint64_t>, kVerbCount> requests_{};
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> relists_{0};

  std::mutex rng_mu_;
  std::minstd_rand rng_;  // guarded by rng_mu_; jitter only
};

}  // namespace sp::k8s
