// KubeClient requests, retries and error mapping; Watch lives in watch.cc. See client.h.
#include "k8s/client.h"

#include <algorithm>
#include <thread>

#include "k8s/internal/http_transport.h"

namespace sp::k8s {

namespace {

using nlohmann::json;

// GET /version is not a resource; this names it in messages ("get version").
constexpr ResourceType kVersionEndpoint{"v1", "version", "Version", Scope::kCluster};

const char* PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
  }
  return "application/merge-patch+json";
}

const char* PropagationName(Propagation p) {
  switch (p) {
    case Propagation::kBackground:
      return "Background";
    case Propagation::kForeground:
      return "Foreground";
    case Propagation::kOrphan:
      return "Orphan";
  }
  return "Background";
}

std::string StringAt(const json& object, const char* outer, const char* inner) {
  auto o = object.find(outer);
  if (o == object.end() || !o->is_object()) return "";
  auto i = o->find(inner);
  return i != o->end() && i->is_string() ? i->get<std::string>() : "";
}

// Fills apiVersion and kind from the type when the caller left them out.
void FillTypeMeta(const ResourceType& type, json* object) {
  if (!object->is_object()) return;
  if (!object->contains("apiVersion")) (*object)["apiVersion"] = std::string(type.api_version);
  if (!object->contains("kind")) (*object)["kind"] = std::string(type.kind);
}

// A caller's mistake in addressing, caught before a request: a namespaced type needs a
// namespace (only list and watch may span all namespaces), single-object verbs need a name.
Status CheckRef(const char* verb, const ResourceRef& ref, bool needs_name) {
  if (ref.type.namespaced() && ref.namespace_name.empty()) {
    return InvalidArgumentError(std::string(verb) + " " + ref.type.QualifiedName() +
                                ": no namespace given (KubeClient::default_namespace() is the "
                                "kubeconfig's)");
  }
  if (needs_name && ref.name.empty()) {
    return InvalidArgumentError(std::string(verb) + " " + ref.Describe() +
                                ": no object name given");
  }
  return OkStatus();
}

// JSON text of a caller's object; invalid UTF-8 in its strings is replaced, not thrown about.
std::string Dump(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

uint64_t KubeRequestStats::Total() const {
  uint64_t total = 0;
  for (uint64_t n : by_verb) total += n;
  return total;
}

std::string KubeRequestStats::ToString() const {
  std::string out;
  for (int v = 0; v < kVerbCount; ++v) {
    if (by_verb[v] == 0) continue;
    if (!out.empty()) out += " ";
    out += std::string(VerbName(static_cast<Verb>(v))) + "=" + std::to_string(by_verb[v]);
  }
  if (out.empty()) out = "none";
  out += " (retries=" + std::to_string(retries) + ", failures=" + std::to_string(failures) +
         ", relists=" + std::to_string(relists) + ")";
  return out;
}

const char* WatchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kBookmark:
      return "BOOKMARK";
    case WatchEventType::kRelisted:
      return "RELISTED";
  }
  return "?";
}

void WatchCancel::Cancel() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

bool WatchCancel::WaitFor(Millis d) const {
  std::unique_lock<std::mutex> lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return cancelled_.load(); });
}

KubeClient::KubeClient(KubeConfig config, const Clock& clock, KubeClientOptions options)
    : config_(std::move(config)),
      options_(std::move(options)),
      credentials_(config_, clock, options_.credentials),
      transport_(std::make_unique<internal::HttpTransport>(
          internal::TlsTrust{config_.ca_file, config_.ca_data, config_.insecure_skip_tls_verify},
          options_.user_agent)),
      rng_(std::random_device{}()) {}

KubeClient::~KubeClient() = default;

KubeRequestStats KubeClient::Stats() const {
  KubeRequestStats stats;
  for (int v = 0; v < kVerbCount; ++v) stats.by_verb[v] = requests_[v].load();
  stats.retries = retries_.load();
  stats.failures = failures_.load();
  stats.relists = relists_.load();
  return stats;
}

void KubeClient::ResetStats() {
  for (auto& n : requests_) n = 0;
  retries_ = 0;
  failures_ = 0;
  relists_ = 0;
}

void KubeClient::CountRequest(Verb verb) {
  ++requests_[static_cast<int>(verb)];
}

Status KubeClient::Fail(Status status) {
  ++failures_;
  return status;
}

RequestContext KubeClient::Context(const Call& call) const {
  return RequestContext{call.verb, call.ref, call.subresource, config_.server,
                        config_.CredentialSource()};
}

Millis KubeClient::Backoff(int attempt) {
  int64_t base = options_.retry.initial_backoff.count();
  for (int i = 1; i < attempt && base < options_.retry.max_backoff.count(); ++i) base *= 2;
  base = std::min<int64_t>(base, options_.retry.max_backoff.count());
  if (base <= 1) return Millis(base);
  // "Equal jitter": half fixed, half random, so concurrent clients spread out but still back off.
  std::lock_guard<std::mutex> lock(rng_mu_);
  std::uniform_int_distribution<int64_t> jitter(0, base / 2);
  return Millis(base - base / 2 + jitter(rng_));
}

void KubeClient::Sleep(Millis d, const WatchCancel* cancel) {
  if (options_.sleep) {
    options_.sleep(d);
  } else if (cancel != nullptr) {
    cancel->WaitFor(d);
  } else {
    std::this_thread::sleep_for(d);
  }
}

Status KubeClient::TransportFailure(const Call& call, const internal::HttpResult& r,
                                    int attempts) const {
  const std::string& server = config_.server;
  const std::string what = std::string(VerbName(call.verb)) + " " + call.ref.Describe();
  switch (r.error) {
    case internal::TransportError::kTls: {
      std::string detail = " (" + r.curl_message + ")";
      if (r.curl_message.find("subject name") != std::string::npos ||
          r.curl_message.find("host name") != std::string::npos) {
        return FailedPreconditionError("TLS verification of " + server +
                                       " failed: the server's certificate is not valid for this "
                                       "host name" +
                                       detail);
      }
      if (r.curl_message.find("certificate file") != std::string::npos ||
          r.curl_message.find("private key") != std::string::npos ||
          r.curl_message.find("client cert") != std::string::npos ||
          r.curl_message.find("unable to use") != std::string::npos) {
        return FailedPreconditionError("TLS with " + server +
                                       " failed: the client certificate "
                                       "or key of " +
                                       config_.CredentialSource() + " cannot be used" + detail);
      }
      if (r.curl_message.find("CA") != std::string::npos &&
          r.curl_message.find("error setting certificate") != std::string::npos) {
        return FailedPreconditionError("TLS verification of " + server + " failed: the CA in " +
                                       config_.CaSource() + " cannot be read as PEM" + detail);
      }
      return FailedPreconditionError("TLS verification of " + server + " failed: the CA in " +
                                     config_.CaSource() +
                                     " does not match the server's certificate" + detail);
    }
    case internal::TransportError::kUnreachable: {
      std::string tries = attempts > 1 ? " (" + std::to_string(attempts) + " attempts)" : "";
      if (r.curl_code == 28) {  // CURLE_OPERATION_TIMEDOUT
        return UnavailableError(what + ": the Kubernetes API server at " + server +
                                " did not answer in time: " + r.curl_message + tries);
      }
      return UnavailableError(what + ": cannot reach the Kubernetes API server at " + server +
                              ": " + r.curl_message + tries);
    }
    case internal::TransportError::kAborted:
      return CancelledError(what + ": cancelled");
    case internal::TransportError::kOther:
    case internal::TransportError::kNone:
      break;
  }
  return InternalError(what + ": request to " + server + " failed: " + r.curl_message);
}

Result<KubeClient::Response> KubeClient::Send(const Call& call, bool allow_not_found) {
  if (options_.inject_fault) {
    Status injected = options_.inject_fault(call.verb, call.ref);
    if (!injected.ok()) return Fail(injected);
  }
  const int max_attempts = std::max(1, options_.retry.max_attempts);
  bool refreshed = false;
  bool maybe_applied = false;  // a failed attempt of a write may have reached the server
  for (int attempt = 1;; ++attempt) {
    Result<AuthMaterial> auth = credentials_.Get();
    if (!auth.ok()) return Fail(auth.status());
    internal::HttpRequest request;
    request.method = call.method;
    request.url = config_.server + call.path_and_query;
    request.content_type = call.content_type;
    request.body = call.body;
    request.timeout = options_.request_timeout;
    request.connect_timeout = options_.connect_timeout;
    CountRequest(call.verb);
    if (attempt > 1) ++retries_;
    internal::HttpResult r = transport_->Perform(request, *auth);

    if (r.error != internal::TransportError::kNone) {
      if (r.error == internal::TransportError::kUnreachable && attempt < max_attempts) {
        maybe_applied |= call.method != "GET" && r.curl_code != 7;  // 7: connection refused
        Millis wait = Backoff(attempt);
        if (options_.logger != nullptr) {
          options_.logger->Info("k8s", std::string(VerbName(call.verb)) + " " +
                                           call.ref.Describe() + ": " + r.curl_message +
                                           "; retrying in " + std::to_string(wait.count()) + " ms");
        }
        Sleep(wait, nullptr);
        continue;
      }
      return Fail(TransportFailure(call, r, attempt));
    }
    if ((r.status >= 200 && r.status < 300) || (r.status == 404 && allow_not_found)) {
      return Response{r.status, std::move(r.body), maybe_applied};
    }
    if (r.status == 401 && !refreshed && credentials_.Refreshable()) {
      credentials_.Invalidate();  // an expired exec credential or a rotated token file
      refreshed = true;
      --attempt;
      continue;
    }
    bool retryable = r.status == 429 || (r.status >= 500 && r.status != 501);
    if (retryable && attempt < max_attempts) {
      maybe_applied |= r.status != 429 && call.method != "GET";
      Millis wait = r.retry_after ? std::min(*r.retry_after, options_.retry.max_retry_after)
                                  : Backoff(attempt);
      if (options_.logger != nullptr) {
        options_.logger->Info("k8s", std::string(VerbName(call.verb)) + " " + call.ref.Describe() +
                                         ": HTTP " + std::to_string(r.status) + "; retrying in " +
                                         std::to_string(wait.count()) + " ms");
      }
      Sleep(wait, nullptr);
      continue;
    }
    Status status = ApiErrorToStatus(Context(call), r.status, r.body);
    if (retryable) {
      status =
          Status(status.code(), status.message() + " (" + std::to_string(attempt) + " attempts)");
    }
    if (status.code() == StatusCode::kAlreadyExists && maybe_applied) {
      status = Status(status.code(), status.message() +
                                         " (an earlier attempt of this request failed in transit "
                                         "and may have created it)");
    }
    return Fail(status);
  }
}

Result<json> KubeClient::SendForObject(const Call& call) {
  ASSIGN_OR_RETURN(Response response, Send(call));
  json object = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) {
    return Fail(InternalError(std::string(VerbName(call.verb)) + " " + call.ref.Describe() +
                              ": the API server " + config_.server +
                              " answered with a body that is not JSON"));
  }
  return object;
}

Result<json> KubeClient::Create(const ResourceRef& ref, json object) {
  if (Status bad = CheckRef("create", ref, /*needs_name=*/false); !bad.ok()) return Fail(bad);
  if (!object.is_object()) {
    return Fail(InvalidArgumentError("create " + ref.type.QualifiedName() +
                                     ": the object must be a JSON object"));
  }
  FillTypeMeta(ref.type, &object);
  Call call;
  call.verb = Verb::kCreate;
  call.ref = ref;
  call.ref.name = StringAt(object, "metadata", "name");
  call.method = "POST";
  call.path_and_query =
      ref.CollectionPath() + Query().Add("fieldManager", options_.field_manager).Encode();
  call.content_type = "application/json";
  call.body = Dump(object);
  return SendForObject(call);
}

Result<json> KubeClient::Get(const ResourceRef& ref) {
  if (Status bad = CheckRef("get", ref, /*needs_name=*/true); !bad.ok()) return Fail(bad);
  Call call;
  call.verb = Verb::kGet;
  call.ref = ref;
  call.method = "GET";
  call.path_and_query = ref.Path();
  return SendForObject(call);
}

Result<ObjectList> KubeClient::List(const ResourceRef& ref, const ListOptions& options) {
  Call call;
  call.verb = Verb::kList;
  call.ref = ref;
  call.ref.name.clear();
  call.method = "GET";
  Query query;
  query.Add("labelSelector", options.label_selector)
      .Add("fieldSelector", options.field_selector)
      .Add("limit", options.limit > 0 ? std::to_string(options.limit) : "")
      .Add("continue", options.continue_token)
      .Add("resourceVersion", options.resource_version);
  call.path_and_query = ref.CollectionPath() + query.Encode();
  ASSIGN_OR_RETURN(json list, SendForObject(call));
  ObjectList result;
  result.resource_version = StringAt(list, "metadata", "resourceVersion");
  result.continue_token = StringAt(list, "metadata", "continue");
  if (auto items = list.find("items"); items != list.end() && items->is_array()) {
    result.items.reserve(items->size());
    for (json& item : *items) {
      // Items of a list carry no apiVersion/kind; give them back so they stand alone.
      FillTypeMeta(ref.type, &item);
      result.items.push_back(std::move(item));
    }
  }
  return result;
}

Result<ObjectList> KubeClient::ListAll(const ResourceRef& ref, const ListOptions& options) {
  ListOptions page = options;
  ObjectList all;
  for (;;) {
    ASSIGN_OR_RETURN(ObjectList part, List(ref, page));
    if (all.resource_version.empty()) all.resource_version = part.resource_version;
    for (json& item : part.items) all.items.push_back(std::move(item));
    if (part.continue_token.empty()) break;
    page.continue_token = part.continue_token;
  }
  return all;
}

Result<json> KubeClient::ServerSideApply(const ResourceRef& ref, json object,
                                         ApplyConflicts conflicts, bool dry_run) {
  if (Status bad = CheckRef("apply", ref, /*needs_name=*/true); !bad.ok()) return Fail(bad);
  if (!object.is_object()) {
    return Fail(
        InvalidArgumentError("apply " + ref.Describe() + ": the object must be a JSON object"));
  }
  FillTypeMeta(ref.type, &object);
  json& metadata = object["metadata"];
  if (!metadata.is_object()) metadata = json::object();
  if (!metadata.contains("name")) metadata["name"] = ref.name;
  if (ref.type.namespaced() && !metadata.contains("namespace") && !ref.namespace_name.empty()) {
    metadata["namespace"] = ref.namespace_name;
  }
  Call call;
  call.verb = Verb::kPatch;
  call.ref = ref;
  call.method = "PATCH";
  call.path_and_query =
      ref.Path() + Query()
                       .Add("fieldManager", options_.field_manager)
                       .Add("force", conflicts == ApplyConflicts::kForce ? "true" : "")
                       .Add("dryRun", dry_run ? "All" : "")
                       .Encode();
  call.content_type = "application/apply-patch+yaml";  // JSON is YAML
  call.body = Dump(object);
  return SendForObject(call);
}

Result<json> KubeClient::Patch(const ResourceRef& ref, PatchType type, const json& patch) {
  if (Status bad = CheckRef("patch", ref, /*needs_name=*/true); !bad.ok()) return Fail(bad);
  Call call;
  call.verb = Verb::kPatch;
  call.ref = ref;
  call.method = "PATCH";
  call.path_and_query = ref.Path() + Query().Add("fieldManager", options_.field_manager).Encode();
  call.content_type = PatchContentType(type);
  call.body = Dump(patch);
  return SendForObject(call);
}

Result<json> KubeClient::PatchStatus(const ResourceRef& ref, PatchType type, const json& patch) {
  if (Status bad = CheckRef("patch", ref, /*needs_name=*/true); !bad.ok()) return Fail(bad);
  Call call;
  call.verb = Verb::kPatch;
  call.ref = ref;
  call.subresource = "status";
  call.method = "PATCH";
  call.path_and_query =
      ref.Path() + "/status" + Query().Add("fieldManager", options_.field_manager).Encode();
  call.content_type = PatchContentType(type);
  call.body = Dump(patch);
  return SendForObject(call);
}

Result<bool> KubeClient::Delete(const ResourceRef& ref, const DeleteOptions& options) {
  if (Status bad = CheckRef("delete", ref, /*needs_name=*/true); !bad.ok()) return Fail(bad);
  json body = {{"apiVersion", "v1"},
               {"kind", "DeleteOptions"},
               {"propagationPolicy", PropagationName(options.propagation)}};
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  if (!options.precondition_uid.empty()) {
    body["preconditions"] = {{"uid", options.precondition_uid}};
  }
  Call call;
  call.verb = Verb::kDelete;
  call.ref = ref;
  call.method = "DELETE";
  call.path_and_query = ref.Path();
  call.content_type = "application/json";
  call.body = Dump(body);
  ASSIGN_OR_RETURN(Response response, Send(call, /*allow_not_found=*/true));
  // A 404 after an attempt that failed in transit most likely means that attempt deleted it.
  return response.status != 404 || response.maybe_applied;
}

Result<json> KubeClient::ServerVersion() {
  Call call;
  call.verb = Verb::kGet;
  call.ref = ClusterRef(kVersionEndpoint);
  call.method = "GET";
  call.path_and_query = "/version";
  return SendForObject(call);
}

}  // namespace sp::k8s
