// KubernetesNotebooks; see kubernetes_notebooks.h.
#include "k8s/kubernetes_notebooks.h"

#include <algorithm>
#include <cstdio>

#include "k8s/cluster_readiness.h"
#include "k8s/internal/text.h"
#include "k8s/internal/watch_deadline.h"

namespace sp::k8s {

namespace {

using nlohmann::json;

std::string Seconds(Millis d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

std::string Str(const json& j, const json::json_pointer& p) {
  const json& v = j.value(p, json());
  return v.is_string() ? v.get<std::string>() : "";
}

}  // namespace

bool PodReady(const json& pod) {
  for (const json& c : pod.value("/status/conditions"_json_pointer, json::array())) {
    if (c.is_object() && c.value("type", "") == "Ready") return c.value("status", "") == "True";
  }
  return false;
}

KubeNotebook NotebookFromPod(const json& pod) {
  KubeNotebook n;
  n.name = Str(pod, json::json_pointer("/metadata/annotations/sparkplane.io~1notebook-name"));
  n.cluster = Str(pod, json::json_pointer("/metadata/annotations/sparkplane.io~1cluster-name"));
  n.namespace_name = Str(pod, "/metadata/namespace"_json_pointer);
  n.pod = Str(pod, "/metadata/name"_json_pointer);
  if (n.name.empty()) n.name = n.pod;
  NotebookNames names = NotebookNames::For(n.cluster);
  n.service = names.jupyter_service;
  n.secret = names.secret;
  n.phase = Str(pod, "/status/phase"_json_pointer);
  if (n.phase.empty()) n.phase = "Pending";
  n.ready = PodReady(pod);
  n.deleting = !Str(pod, "/metadata/deletionTimestamp"_json_pointer).empty();
  NotebookSpec spec;
  spec.cluster = n.cluster;
  spec.namespace_name = n.namespace_name;
  n.url = JupyterServiceUrl(spec);
  n.created = internal::ParseRfc3339(Str(pod, "/metadata/creationTimestamp"_json_pointer));
  return n;
}

KubernetesNotebooks::KubernetesNotebooks(KubeClient* client, int watch_timeout_seconds)
    : client_(client), watch_timeout_seconds_(watch_timeout_seconds) {}

Result<KubeNotebook> KubernetesNotebooks::Create(const NotebookSpec& spec,
                                                 const std::string& jupyter_token,
                                                 const std::string& connect_token,
                                                 Millis ready_timeout, std::stop_token stop) {
  RETURN_IF_ERROR(ValidateNotebookSpec(spec));
  if (jupyter_token.empty() || connect_token.empty()) {
    return InvalidArgumentError("a notebook needs both of its tokens");
  }
  const std::string& ns = spec.namespace_name;
  const std::string parent = SparkClusterNames::For(spec.cluster).parent;
  Result<json> got = client_->Get(Ref(kConfigMaps, ns, parent));
  if (!got.ok()) {
    return got.status().With("the notebook's cluster '" + spec.cluster + "' (configmap " + parent +
                             " in namespace " + ns + ")");
  }
  if (!Str(*got, "/metadata/deletionTimestamp"_json_pointer).empty()) {
    return FailedPreconditionError("cluster '" + spec.cluster + "' (configmap " + parent +
                                   ") is being deleted");
  }
  const json owner = OwnerReference(parent, Str(*got, "/metadata/uid"_json_pointer));
  NotebookNames names = NotebookNames::For(spec.cluster);

  Result<json> secret = client_->Create(
      Ref(kSecrets, ns), BuildNotebookSecret(spec, owner, jupyter_token, connect_token));
  if (!secret.ok()) return secret.status().With("creating secret " + names.secret);
  Result<json> policy = client_->ServerSideApply(Ref(kNetworkPolicies, ns, names.network_policy),
                                                 BuildNotebookNetworkPolicy(spec, owner));
  if (!policy.ok()) return policy.status().With("applying networkpolicy " + names.network_policy);
  Result<json> service = client_->ServerSideApply(Ref(kServices, ns, names.jupyter_service),
                                                  BuildJupyterService(spec, owner));
  if (!service.ok()) return service.status().With("applying service " + names.jupyter_service);
  Result<json> pod = client_->Create(Ref(kPods, ns), BuildNotebookPod(spec, owner));
  if (!pod.ok()) return pod.status().With("creating pod " + names.pod);

  RETURN_IF_ERROR(WaitReady(spec, ready_timeout, stop));
  Result<json> now = client_->Get(Ref(kPods, ns, names.pod));
  return NotebookFromPod(now.ok() ? *now : *pod);
}

Status KubernetesNotebooks::WaitReady(const NotebookSpec& spec, Millis timeout,
                                      std::stop_token stop) {
  const std::string& ns = spec.namespace_name;
  const std::string pod_name = NotebookNames::For(spec.cluster).pod;
  bool ready = false, deleted = false;
  std::string hopeless;
  json last;
  auto check = [&](const json& pod) {
    last = pod;
    if (PodReady(pod)) {
      ready = true;
      return true;
    }
    const std::string phase = Str(pod, "/status/phase"_json_pointer);
    if (phase == "Succeeded" || phase == "Failed") {
      hopeless = "pod " + pod_name + " ended (" + phase + ") before it was ready";
      return true;
    }
    hopeless = PermanentPodFailure(pod);
    return !hopeless.empty();
  };
  WatchOptions options;
  options.field_selector = "metadata.name=" + pod_name;
  options.timeout_seconds = watch_timeout_seconds_;
  internal::WatchOutcome outcome = internal::WatchWithDeadline(
      client_, Ref(kPods, ns), options, timeout, stop, [&](const WatchEvent& event) {
        bool end = false;
        if (event.type == WatchEventType::kRelisted) {
          if (event.items.empty() && !last.is_null()) deleted = true;
          for (const json& pod : event.items) end = check(pod) || end;
        } else if (event.type == WatchEventType::kAdded ||
                   event.type == WatchEventType::kModified) {
          end = check(event.object);
        } else if (event.type == WatchEventType::kDeleted) {
          deleted = true;
        }
        return end || deleted ? WatchControl::kStop : WatchControl::kContinue;
      });
  if (ready) return OkStatus();
  if (deleted) {
    return AbortedError("pod " + pod_name + " in namespace " + ns +
                        " was deleted while Sparkplane waited for it to be ready");
  }
  if (!hopeless.empty()) {
    return FailedPreconditionError("the notebook cannot become ready: " + hopeless);
  }
  if (outcome.stopped) return CancelledError("cancelled while waiting for the notebook pod");
  if (outcome.timed_out) {
    ListOptions events_options;
    events_options.field_selector = "type=Warning";
    Result<ObjectList> events = client_->List(Ref(kEvents, ns), events_options);
    std::string why =
        ExplainNotReady(last.is_null() ? std::vector<json>{} : std::vector<json>{last},
                        events.ok() ? events->items : std::vector<json>{}, pod_name);
    return DeadlineExceededError("the notebook pod " + pod_name + " was not ready after " +
                                 Seconds(timeout) + (why.empty() ? "" : ": " + why));
  }
  return outcome.status.ok() ? InternalError("the watch of the notebook pod ended early")
                             : outcome.status.With("waiting for the notebook pod to be ready");
}

Result<std::vector<KubeNotebook>> KubernetesNotebooks::List(const std::string& namespace_name) {
  ListOptions options;
  options.label_selector = NotebookPodSelector();
  ASSIGN_OR_RETURN(ObjectList pods, client_->ListAll(Ref(kPods, namespace_name), options));
  std::vector<KubeNotebook> out;
  for (const json& pod : pods.items) out.push_back(NotebookFromPod(pod));
  std::sort(out.begin(), out.end(),
            [](const KubeNotebook& a, const KubeNotebook& b) { return a.name < b.name; });
  return out;
}

}  // namespace sp::k8s
