// KubeClient::Watch: streaming, resuming and relisting; see client.h.
//
// One watch request at a time: GET COLLECTION?watch=1&resourceVersion=RV&allowWatchBookmarks=true
// &timeoutSeconds=N. The body is newline-delimited JSON events, parsed as chunks arrive. After
// each event RV moves to the object's metadata.resourceVersion (bookmarks keep it fresh when
// nothing we watch changes). When the stream ends — server-side timeout, a dropped connection,
// a restarting server — the watch resumes from RV; when RV has left the server's watch cache
// (410 Gone / "Expired", as every version does after an API server restart) it lists again,
// hands the list to the handler as kRelisted and watches from the list's version.
#include <string>
#include <string_view>

#include "k8s/client.h"
#include "k8s/internal/http_transport.h"

namespace sp::k8s {

namespace {

using nlohmann::json;

std::optional<WatchEventType> ParseEventType(const std::string& type) {
  if (type == "ADDED") return WatchEventType::kAdded;
  if (type == "MODIFIED") return WatchEventType::kModified;
  if (type == "DELETED") return WatchEventType::kDeleted;
  if (type == "BOOKMARK") return WatchEventType::kBookmark;
  return std::nullopt;
}

}  // namespace

// The state of one Watch call across its requests.
class KubeClient::WatchSession {
 public:
  WatchSession(KubeClient* client, const ResourceRef& ref, const WatchOptions& options,
               const WatchHandler& handler)
      : client_(client), options_(options), handler_(handler), rv_(options.resource_version) {
    ref_ = ref;
    ref_.name.clear();
  }

  Status Run() {
    bool need_list = rv_.empty();
    int failures = 0;
    bool refreshed = false;
    for (;;) {
      if (Cancelled()) return CancelledError("watch of " + ref_.Describe() + " cancelled");
      if (need_list) {
        Result<WatchControl> listed = Relist();
        if (!listed.ok()) {
          StatusCode code = listed.status().code();
          if (code != StatusCode::kUnavailable && code != StatusCode::kAborted) {
            return listed.status().With("watch of " + ref_.Describe());
          }
          RETURN_IF_ERROR(Failed(&failures, listed.status(), std::nullopt));
          continue;
        }
        if (*listed == WatchControl::kStop) return OkStatus();
        need_list = false;
        failures = 0;
      }

      Stream stream;
      internal::HttpResult r = Open(&stream);
      if (stream.stop) return OkStatus();
      if (stream.gone || r.status == 410) {
        Log("resourceVersion " + rv_ + " expired (410); listing again");
        ++client_->relists_;
        need_list = true;
        continue;
      }
      if (r.error == internal::TransportError::kAborted && Cancelled()) {
        return CancelledError("watch of " + ref_.Describe() + " cancelled");
      }
      if (stream.events > 0) {
        failures = 0;
        refreshed = false;
      }
      if (r.error == internal::TransportError::kNone && r.status == 200 && stream.error.ok()) {
        // The server ended the stream (timeoutSeconds, or shutting down). Resume at once if it
        // delivered something; an empty stream is treated as a failure so a server that keeps
        // closing at once is not hammered.
        if (stream.events > 0) continue;
        RETURN_IF_ERROR(Failed(&failures, UnavailableError("the watch stream ended with no events"),
                               std::nullopt));
        continue;
      }
      if (!stream.error.ok()) {  // an ERROR event other than 410, a malformed line, no auth
        StatusCode code = stream.error.code();
        if (code != StatusCode::kUnavailable && code != StatusCode::kAborted) {
          return client_->Fail(stream.error);
        }
        RETURN_IF_ERROR(Failed(&failures, stream.error, std::nullopt));
        continue;
      }
      Call call = WatchCall();
      if (r.error == internal::TransportError::kTls ||
          r.error == internal::TransportError::kOther) {
        return client_->Fail(client_->TransportFailure(call, r, 1));
      }
      if (r.error != internal::TransportError::kNone) {  // unreachable / reset / timed out
        RETURN_IF_ERROR(Failed(&failures, client_->TransportFailure(call, r, 1), std::nullopt));
        continue;
      }
      if (r.status == 401 && !refreshed && client_->credentials_.Refreshable()) {
        client_->credentials_.Invalidate();
        refreshed = true;
        continue;
      }
      if (r.status == 429 || r.status >= 500) {
        RETURN_IF_ERROR(Failed(
            &failures, ApiErrorToStatus(client_->Context(call), r.status, r.body), r.retry_after));
        continue;
      }
      return client_->Fail(ApiErrorToStatus(client_->Context(call), r.status, r.body));
    }
  }

 private:
  struct Stream {
    std::string pending;  // an incomplete line
    int events = 0;
    bool stop = false;  // the handler asked to stop
    bool gone = false;  // an ERROR event with code 410
    Status error;       // an ERROR event (not 410) or a malformed line
  };

  bool Cancelled() const { return options_.cancel != nullptr && options_.cancel->cancelled(); }

  void Log(const std::string& message) const {
    if (client_->options_.logger != nullptr) {
      client_->options_.logger->Info("k8s", "watch of " + ref_.Describe() + ": " + message);
    }
  }

  // Counts a failure; gives up after max_consecutive_failures, else waits before the retry.
  Status Failed(int* failures, const Status& why, std::optional<Millis> retry_after) {
    ++*failures;
    if (options_.max_consecutive_failures > 0 && *failures >= options_.max_consecutive_failures) {
      return client_->Fail(Status(why.code(), why.message() + " (watch gave up after " +
                                                  std::to_string(*failures) +
                                                  " failures in a row)"));
    }
    Millis wait = retry_after ? std::min(*retry_after, client_->options_.retry.max_retry_after)
                              : client_->Backoff(*failures);
    Log(why.message() + "; reconnecting in " + std::to_string(wait.count()) + " ms");
    client_->Sleep(wait, options_.cancel);
    return OkStatus();
  }

  Result<WatchControl> Relist() {
    ListOptions list_options;
    list_options.label_selector = options_.label_selector;
    list_options.field_selector = options_.field_selector;
    list_options.limit = 500;
    ASSIGN_OR_RETURN(ObjectList list, client_->ListAll(ref_, list_options));
    rv_ = list.resource_version;
    WatchEvent event;
    event.type = WatchEventType::kRelisted;
    event.items = std::move(list.items);
    event.resource_version = rv_;
    return handler_(event);
  }

  Call WatchCall() const {
    Call call;
    call.verb = Verb::kWatch;
    call.ref = ref_;
    call.method = "GET";
    call.path_and_query =
        ref_.CollectionPath() + Query()
                                    .Add("watch", "1")
                                    .Add("resourceVersion", rv_)
                                    .Add("allowWatchBookmarks", "true")
                                    .Add("timeoutSeconds", std::to_string(options_.timeout_seconds))
                                    .Add("labelSelector", options_.label_selector)
                                    .Add("fieldSelector", options_.field_selector)
                                    .Encode();
    return call;
  }

  internal::HttpResult Open(Stream* stream) {
    Call call = WatchCall();
    if (client_->options_.inject_fault) {
      Status injected = client_->options_.inject_fault(call.verb, call.ref);
      if (!injected.ok()) {
        stream->error = injected;
        internal::HttpResult r;
        r.status = 200;
        return r;
      }
    }
    Result<AuthMaterial> auth = client_->credentials_.Get();
    if (!auth.ok()) {
      stream->error = auth.status();
      internal::HttpResult r;
      r.status = 200;
      return r;
    }
    internal::HttpRequest request;
    request.method = "GET";
    request.url = client_->config_.server + call.path_and_query;
    // The server ends the stream after timeoutSeconds; the margin covers a slow final flush.
    request.timeout = Millis(int64_t{options_.timeout_seconds} * 1000 + 30'000);
    request.connect_timeout = client_->options_.connect_timeout;
    request.on_data = [this, stream](std::string_view chunk) { return OnData(stream, chunk); };
    request.cancelled = [this] { return Cancelled(); };
    client_->CountRequest(Verb::kWatch);
    return client_->transport_->Perform(request, *auth);
  }

  // Splits the stream into lines; false stops the transfer.
  bool OnData(Stream* stream, std::string_view chunk) {
    stream->pending.append(chunk);
    size_t start = 0;
    for (;;) {
      size_t nl = stream->pending.find('\n', start);
      if (nl == std::string::npos) break;
      std::string_view line(stream->pending.data() + start, nl - start);
      start = nl + 1;
      if (!line.empty() && !OnLine(stream, line)) return false;
    }
    stream->pending.erase(0, start);
    return true;
  }

  bool OnLine(Stream* stream, std::string_view line) {
    json event = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (event.is_discarded() || !event.is_object() || !event.contains("type") ||
        !event["type"].is_string()) {
      stream->error = UnavailableError("the watch stream carried a line that is not an event");
      return false;
    }
    std::string type = event["type"].get<std::string>();
    json object = event.contains("object") ? std::move(event["object"]) : json::object();
    if (type == "ERROR") {
      std::optional<ApiStatus> status = ApiStatusFromJson(object);
      if (status && status->code == 410) {
        stream->gone = true;
      } else {
        long code = status && status->code > 0 ? status->code : 500;
        stream->error =
            ApiErrorToStatus(client_->Context(WatchCall()), code,
                             object.dump(-1, ' ', false, json::error_handler_t::replace));
      }
      return false;
    }
    std::optional<WatchEventType> event_type = ParseEventType(type);
    if (!event_type) return true;  // a type from a newer server: skip it
    ++stream->events;
    if (object.is_object() && object.contains("metadata") && object["metadata"].is_object()) {
      auto rv = object["metadata"].find("resourceVersion");
      if (rv != object["metadata"].end() && rv->is_string()) rv_ = rv->get<std::string>();
    }
    WatchEvent out;
    out.type = *event_type;
    out.object = std::move(object);
    out.resource_version = rv_;
    if (handler_(out) == WatchControl::kStop) {
      stream->stop = true;
      return false;
    }
    return true;
  }

  KubeClient* client_;
  ResourceRef ref_;
  const WatchOptions& options_;
  const WatchHandler& handler_;
  std::string rv_;
};

Status KubeClient::Watch(const ResourceRef& ref, const WatchOptions& options,
                         const WatchHandler& handler) {
  return WatchSession(this, ref, options, handler).Run();
}

}  // namespace sp::k8s
