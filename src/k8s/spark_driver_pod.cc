// Driver pods of native cluster-mode tries; see spark_driver_pod.h.
#include "k8s/spark_driver_pod.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <system_error>
#include <utility>

#include "common/random_hex.h"
#include "k8s/spark_cluster_objects.h"

namespace sp::k8s {

namespace {

using nlohmann::json;

const json* Find(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string Text(const json& j, const char* key) {
  const json* v = Find(j, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

const json& Metadata(const json& pod) {
  static const json kEmpty = json::object();
  const json* m = Find(pod, "metadata");
  return m != nullptr && m->is_object() ? *m : kEmpty;
}

std::string PodName(const json& pod) {
  return Text(Metadata(pod), "name");
}

// The newest of the pods (creationTimestamp is RFC 3339 UTC, so text order is time order).
const json* Newest(const std::vector<const json*>& pods) {
  const json* best = nullptr;
  for (const json* pod : pods) {
    if (best == nullptr ||
        Text(Metadata(*pod), "creationTimestamp") > Text(Metadata(*best), "creationTimestamp")) {
      best = pod;
    }
  }
  return best;
}

Result<std::map<std::string, std::string>> StringMap(const json& j, const char* field) {
  std::map<std::string, std::string> out;
  const json* m = Find(j, field);
  if (m == nullptr) return out;
  if (!m->is_object())
    return InvalidArgumentError(std::string("driver_pod.") + field +
                                " is not an object of strings");
  for (const auto& [k, v] : m->items()) {
    if (!v.is_string()) {
      return InvalidArgumentError(std::string("driver_pod.") + field + "." + k +
                                  " is not a string");
    }
    out[k] = v.get<std::string>();
  }
  return out;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct ApiServerParts {
  std::string scheme, host, port;
};

// The parts of NormalizeApiServer's result (which it always has).
ApiServerParts Split(const std::string& normalized) {
  ApiServerParts parts;
  size_t scheme_end = normalized.find("://");
  if (scheme_end == std::string::npos) return parts;
  parts.scheme = normalized.substr(0, scheme_end);
  std::string rest = normalized.substr(scheme_end + 3);
  size_t colon = rest.rfind(':');
  if (colon == std::string::npos || rest.find(']', colon) != std::string::npos) return parts;
  parts.host = rest.substr(0, colon);
  parts.port = rest.substr(colon + 1);
  return parts;
}

}  // namespace

Result<std::string> NewSubmissionId() {
  return RandomHex(16);
}

std::string NormalizeApiServer(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("k8s://", 0) == 0) rest = rest.substr(6);
  std::string scheme = "https";
  if (size_t sep = rest.find("://"); sep != std::string::npos) {
    scheme = Lower(rest.substr(0, sep));
    rest = rest.substr(sep + 3);
  }
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  std::string host = rest, port;
  if (!rest.empty() && rest[0] == '[') {  // [IPv6]:port
    size_t close = rest.find(']');
    if (close == std::string::npos) return "";
    host = rest.substr(0, close + 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port = rest.substr(close + 2);
  } else if (size_t colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  host = Lower(host);
  if (host.empty() || (scheme != "https" && scheme != "http")) return "";
  if (port.empty()) port = scheme == "https" ? "443" : "80";
  return scheme + "://" + host + ":" + port;
}

bool SameApiServer(const std::string& saved, const std::string& server, bool in_cluster) {
  std::string a = NormalizeApiServer(saved);
  std::string b = NormalizeApiServer(server);
  if (a.empty() || b.empty()) return false;
  if (a == b) return true;
  if (!in_cluster) return false;
  ApiServerParts mine = Split(a);
  ApiServerParts theirs = Split(b);
  static const char* const kServiceNames[] = {"kubernetes", "kubernetes.default",
                                              "kubernetes.default.svc",
                                              "kubernetes.default.svc.cluster.local"};
  bool service_name = std::find(std::begin(kServiceNames), std::end(kServiceNames), mine.host) !=
                      std::end(kServiceNames);
  return service_name && mine.scheme == theirs.scheme && mine.port == theirs.port;
}

DriverPodKey DriverPodKey::ForTry(const std::string& dag_id, int64_t run_key,
                                  const std::string& task_id, int try_number,
                                  const std::string& submission_id) {
  DriverPodKey key;
  key.labels[kManagedByLabel] = kManagedByValue;
  if (std::string dag = LabelValue(dag_id); !dag.empty()) key.labels[kDagLabel] = dag;
  key.labels[kRunLabel] = std::to_string(run_key);
  if (std::string task = LabelValue(task_id); !task.empty()) key.labels[kTaskLabel] = task;
  key.labels[kTryLabel] = std::to_string(try_number);
  key.labels[kSubmissionLabel] = submission_id;
  key.annotations[kDagIdAnnotation] = dag_id;
  key.annotations[kTaskIdAnnotation] = task_id;
  return key;
}

std::string DriverPodKey::DriverSelector() const {
  std::string out;
  for (const auto& [k, v] : labels) out += (out.empty() ? "" : ",") + k + "=" + v;
  return out + (out.empty() ? "" : ",") + kSparkRoleLabel + "=driver";
}

bool DriverPodKey::Matches(const json& pod) const {
  const json& meta = Metadata(pod);
  const json* pod_labels = Find(meta, "labels");
  for (const auto& [k, v] : labels) {
    if (pod_labels == nullptr || Text(*pod_labels, k.c_str()) != v) return false;
  }
  const json* pod_annotations = Find(meta, "annotations");
  for (const auto& [k, v] : annotations) {
    // A pod without the annotations was not made for this try (spark-submit sets them all).
    if (pod_annotations == nullptr || Text(*pod_annotations, k.c_str()) != v) return false;
  }
  return true;
}

json DriverPodKey::ToJson() const {
  return json{{"namespace", namespace_name},
              {"api_server", api_server},
              {"driver_container", driver_container},
              {"labels", labels},
              {"annotations", annotations}};
}

Result<DriverPodKey> DriverPodKey::FromJson(const json& j) {
  if (!j.is_object()) return InvalidArgumentError("driver_pod is not an object");
  DriverPodKey key;
  key.namespace_name = Text(j, "namespace");
  if (key.namespace_name.empty()) return InvalidArgumentError("driver_pod.namespace is missing");
  Result<std::map<std::string, std::string>> labels = StringMap(j, "labels");
  if (!labels.ok()) return labels.status();
  Result<std::map<std::string, std::string>> annotations = StringMap(j, "annotations");
  if (!annotations.ok()) return annotations.status();
  key.labels = *std::move(labels);
  key.annotations = *std::move(annotations);
  key.api_server = Text(j, "api_server");
  if (key.api_server.empty()) return InvalidArgumentError("driver_pod.api_server is missing");
  key.driver_container = Text(j, "driver_container");
  if (key.driver_container.empty()) {
    return InvalidArgumentError("driver_pod.driver_container is missing");
  }
  auto submission = key.labels.find(kSubmissionLabel);
  if (submission == key.labels.end() || submission->second.empty()) {
    return InvalidArgumentError(std::string("driver_pod.labels has no ") + kSubmissionLabel);
  }
  for (const char* annotation : {kDagIdAnnotation, kTaskIdAnnotation}) {
    if (key.annotations.count(annotation) == 0) {
      return InvalidArgumentError(std::string("driver_pod.annotations has no ") + annotation);
    }
  }
  return key;
}

std::string DriverPodState::Describe() const {
  std::string out = phase.empty() ? "no phase reported" : phase;
  std::string detail;
  if (exit_code) detail = "exit code " + std::to_string(*exit_code);
  if (!reason.empty()) detail += (detail.empty() ? "" : ", ") + reason;
  if (!pod_reason.empty() && pod_reason != reason) {
    detail += (detail.empty() ? "" : ", ") + pod_reason;
  }
  if (phase == "Failed" && !detail.empty()) out += " (" + detail + ")";
  return out;
}

DriverPodState ReadDriverPodState(const json& pod, const std::string& driver_container) {
  DriverPodState state;
  const json& meta = Metadata(pod);
  state.name = Text(meta, "name");
  if (const json* labels = Find(meta, "labels")) {
    if (std::string app = Text(*labels, kSparkAppSelectorLabel); !app.empty()) state.app_id = app;
  }
  const json* status = Find(pod, "status");
  if (status == nullptr) return state;
  state.phase = Text(*status, "phase");
  state.pod_reason = Text(*status, "reason");
  state.pod_message = Text(*status, "message");
  const json* containers = Find(*status, "containerStatuses");
  const json* terminated = nullptr;
  if (containers != nullptr && containers->is_array()) {
    for (const json& c : *containers) {
      const json* state_of = Find(c, "state");
      const json* t = state_of != nullptr ? Find(*state_of, "terminated") : nullptr;
      if (t == nullptr || !t->is_object() || Text(c, "name") != driver_container) continue;
      terminated = t;
      break;
    }
  }
  if (terminated != nullptr) {
    if (const json* code = Find(*terminated, "exitCode");
        code != nullptr && code->is_number_integer())
      state.exit_code = code->get<int>();
    state.reason = Text(*terminated, "reason");
    state.message = Text(*terminated, "message");
  }
  return state;
}

Result<DriverPodWatchResult> WatchDriverPod(
    KubeClient& client, const DriverPodKey& key, const WatchCancel* cancel,
    const std::function<void(const DriverPodState&)>& on_found) {
  DriverPodWatchResult result;
  std::string name;  // the pod followed, once found
  bool done = false;
  // Takes the state of the followed pod; true when the watch can end.
  auto see = [&](const json& pod) {
    result.state = ReadDriverPodState(pod, key.driver_container);
    if (result.state.ended()) {
      result.end = DriverPodEnd::kEnded;
      done = true;
    }
    return done;
  };
  WatchOptions options;
  options.label_selector = key.DriverSelector();
  options.cancel = cancel;
  Status watched =
      client.Watch(Ref(kPods, key.namespace_name), options, [&](const WatchEvent& event) {
        if (event.type == WatchEventType::kRelisted) {
          std::vector<const json*> candidates;
          for (const json& pod : event.items) {
            if (key.Matches(pod) && (name.empty() || PodName(pod) == name)) {
              candidates.push_back(&pod);
            }
          }
          if (candidates.empty()) {
            // Not there when the watch began (spark-submit died before making it), or deleted
            // while the watch was away.
            result.end = name.empty() ? DriverPodEnd::kNeverFound : DriverPodEnd::kDeleted;
            return WatchControl::kStop;
          }
          const json* pod = Newest(candidates);
          bool first = name.empty();
          name = PodName(*pod);
          bool end = see(*pod);
          if (first && on_found) on_found(result.state);
          return end ? WatchControl::kStop : WatchControl::kContinue;
        }
        if (event.type == WatchEventType::kBookmark || !key.Matches(event.object)) {
          return WatchControl::kContinue;
        }
        if (name.empty() || PodName(event.object) != name) return WatchControl::kContinue;
        if (event.type == WatchEventType::kDeleted) {
          if (!see(event.object)) result.end = DriverPodEnd::kDeleted;
          return WatchControl::kStop;
        }
        return see(event.object) ? WatchControl::kStop : WatchControl::kContinue;
      });
  if (!watched.ok()) return watched;
  return result;
}

Result<std::vector<std::string>> DeleteDriverPods(KubeClient& client, const DriverPodKey& key,
                                                  std::optional<int64_t> grace_seconds) {
  ListOptions list;
  list.label_selector = key.DriverSelector();
  Result<ObjectList> pods = client.ListAll(Ref(kPods, key.namespace_name), list);
  if (!pods.ok()) return pods.status();
  DeleteOptions options;
  options.grace_period_seconds = grace_seconds;
  std::vector<std::string> deleted;
  for (const json& pod : pods->items) {
    if (!key.Matches(pod)) continue;
    std::string name = PodName(pod);
    options.precondition_uid = Text(Metadata(pod), "uid");
    Result<bool> gone = client.Delete(Ref(kPods, key.namespace_name, name), options);
    if (!gone.ok()) return gone.status();
    if (*gone) deleted.push_back(name);
  }
  return deleted;
}

}  // namespace sp::k8s
