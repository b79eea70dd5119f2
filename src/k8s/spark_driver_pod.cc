// Driver pods of native cluster-mode tries; see spark_driver_pod.h.
#include "k8s/spark_driver_pod.h"

#include <algorithm>
#include <utility>

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

}  // namespace

DriverPodKey DriverPodKey::ForTry(std::string namespace_name, const std::string& dag_id,
                                  int64_t run_key, const std::string& task_id, int try_number) {
  DriverPodKey key;
  key.namespace_name = std::move(namespace_name);
  key.labels[kManagedByLabel] = kManagedByValue;
  if (std::string dag = LabelValue(dag_id); !dag.empty()) key.labels[kDagLabel] = dag;
  key.labels[kRunLabel] = std::to_string(run_key);
  if (std::string task = LabelValue(task_id); !task.empty()) key.labels[kTaskLabel] = task;
  key.labels[kTryLabel] = std::to_string(try_number);
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
    const json* found = pod_annotations != nullptr ? Find(*pod_annotations, k.c_str()) : nullptr;
    if (found != nullptr && (!found->is_string() || found->get<std::string>() != v)) return false;
  }
  return true;
}

json DriverPodKey::ToJson() const {
  return json{{"namespace", namespace_name}, {"labels", labels}, {"annotations", annotations}};
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
  if (key.labels.empty()) return InvalidArgumentError("driver_pod.labels is empty");
  return key;
}

std::string DriverPodState::Describe() const {
  std::string out = phase.empty() ? "no phase reported" : phase;
  std::string detail;
  if (exit_code) detail = "exit code " + std::to_string(*exit_code);
  if (!reason.empty()) detail += (detail.empty() ? "" : ", ") + reason;
  if (phase == "Failed" && !detail.empty()) out += " (" + detail + ")";
  return out;
}

DriverPodState ReadDriverPodState(const json& pod) {
  DriverPodState state;
  const json& meta = Metadata(pod);
  state.name = Text(meta, "name");
  if (const json* labels = Find(meta, "labels")) {
    if (std::string app = Text(*labels, kSparkAppSelectorLabel); !app.empty()) state.app_id = app;
  }
  const json* status = Find(pod, "status");
  if (status == nullptr) return state;
  state.phase = Text(*status, "phase");
  state.reason = Text(*status, "reason");
  state.message = Text(*status, "message");
  const json* containers = Find(*status, "containerStatuses");
  const json* terminated = nullptr;
  if (containers != nullptr && containers->is_array()) {
    for (const json& c : *containers) {
      const json* state_of = Find(c, "state");
      const json* t = state_of != nullptr ? Find(*state_of, "terminated") : nullptr;
      if (t == nullptr || !t->is_object()) continue;
      if (Text(c, "name") == kSparkDriverContainer) {
        terminated = t;
        break;
      }
      if (terminated == nullptr) terminated = t;
    }
  }
  if (terminated != nullptr) {
    if (const json* code = Find(*terminated, "exitCode");
        code != nullptr && code->is_number_integer())
      state.exit_code = code->get<int>();
    if (std::string r = Text(*terminated, "reason"); !r.empty()) state.reason = r;
    if (std::string m = Text(*terminated, "message"); !m.empty()) state.message = m;
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
    result.state = ReadDriverPodState(pod);
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
    Result<bool> gone = client.Delete(Ref(kPods, key.namespace_name, name), options);
    if (!gone.ok()) return gone.status();
    if (*gone) deleted.push_back(name);
  }
  return deleted;
}

}  // namespace sp::k8s
