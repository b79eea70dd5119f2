// KubernetesClusterBackend; see kubernetes_cluster_backend.h.
#include "k8s/kubernetes_cluster_backend.h"

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <system_error>
#include <thread>

#include "common/random_hex.h"
#include "k8s/cluster_readiness.h"
#include "k8s/internal/text.h"
#include "k8s/internal/watch_deadline.h"
#include "k8s/kube_config.h"

namespace sp::k8s {

namespace {

using internal::WatchOutcome;
using internal::WatchWithDeadline;
using nlohmann::json;

// How long a rollback (the delete of a partial cluster) may take before the create gives up on
// it; the orphan reaper finishes what is left.
constexpr Millis kRollbackTimeout{120'000};
constexpr char kParentPrefix[] = "sparkplane-cluster-";

std::string Seconds(Millis d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

const json& At(const json& object, const char* key) {
  static const json* const kNull = new json();  // never destroyed; immutable
  if (!object.is_object()) return *kNull;
  auto it = object.find(key);
  return it == object.end() ? *kNull : *it;
}
std::string Str(const json& object, const char* key) {
  const json& v = At(object, key);
  return v.is_string() ? v.get<std::string>() : "";
}

int NodePortOf(const json& service) {
  const json& ports = At(At(service, "spec"), "ports");
  if (!ports.is_array()) return 0;
  for (const json& p : ports) {
    const json& n = At(p, "nodePort");
    if (n.is_number_integer()) return n.get<int>();
  }
  return 0;
}

}  // namespace

json KubeClusterHandle::ToJson() const {
  json j = {{"name", name},
            {"namespace", namespace_name},
            {"parent", parent},
            {"parent_uid", parent_uid},
            {"master_url", master_url},
            {"ui_url", ui_url},
            {"app_id_prefix", app_id_prefix},
            {"image", image},
            {"workers", workers},
            {"authenticate", authenticate}};
  if (authenticate) j["auth_secret"] = auth_secret;
  if (ui_node_port != 0) j["ui_node_port"] = ui_node_port;
  return j;
}

Result<KubeClusterHandle> KubeClusterHandle::FromJson(const json& j) {
  if (!j.is_object()) return InvalidArgumentError("a Kubernetes cluster handle must be an object");
  KubeClusterHandle h;
  h.name = Str(j, "name");
  h.namespace_name = Str(j, "namespace");
  h.parent = Str(j, "parent");
  for (const auto& [field, value] : {std::pair<const char*, const std::string*>{"name", &h.name},
                                     {"namespace", &h.namespace_name},
                                     {"parent", &h.parent}}) {
    if (value->empty()) {
      return InvalidArgumentError(std::string("the Kubernetes cluster handle has no '") + field +
                                  "'");
    }
  }
  h.parent_uid = Str(j, "parent_uid");
  h.master_url = Str(j, "master_url");
  h.ui_url = Str(j, "ui_url");
  h.app_id_prefix = Str(j, "app_id_prefix");
  h.image = Str(j, "image");
  h.auth_secret = Str(j, "auth_secret");
  if (const json& w = At(j, "workers"); w.is_number_integer()) h.workers = w.get<int>();
  if (const json& a = At(j, "authenticate"); a.is_boolean()) h.authenticate = a.get<bool>();
  if (const json& p = At(j, "ui_node_port"); p.is_number_integer()) h.ui_node_port = p.get<int>();
  return h;
}

KubernetesClusterBackend::KubernetesClusterBackend(KubeClient* client,
                                                   KubeClusterBackendOptions options)
    : client_(client), options_(options) {}

void KubernetesClusterBackend::Info(const std::string& message) const {
  if (options_.logger != nullptr) options_.logger->Info("k8s", message);
}

KubeClusterHandle KubernetesClusterBackend::PlannedHandle(const SparkClusterSpec& spec) {
  SparkClusterNames names = SparkClusterNames::For(spec.name);
  KubeClusterHandle h;
  h.name = spec.name;
  h.namespace_name = spec.namespace_name;
  h.parent = names.parent;
  h.master_url = MasterUrl(spec);
  h.ui_url = MasterUiUrl(spec);
  h.app_id_prefix = spec.app_id_prefix.empty() ? "app-" + names.base : spec.app_id_prefix;
  h.image = spec.image;
  h.workers = spec.workers;
  h.authenticate = spec.authenticate;
  if (spec.authenticate) h.auth_secret = names.auth_secret;
  return h;
}

Result<KubeClusterHandle> KubernetesClusterBackend::Create(
    const SparkClusterSpec& spec, Millis ready_timeout, std::stop_token stop,
    const std::function<Status(const KubeClusterHandle&)>& on_parent) {
  RETURN_IF_ERROR(ValidateSparkClusterSpec(spec));
  const SparkClusterNames names = SparkClusterNames::For(spec.name);
  const std::string& ns = spec.namespace_name;
  KubeClusterHandle handle = PlannedHandle(spec);
  SparkClusterSpec effective = spec;
  effective.app_id_prefix = handle.app_id_prefix;
  std::string secret;
  if (spec.authenticate) {
    ASSIGN_OR_RETURN(secret, NewSharedSecret());
  }
  if (stop.stop_requested()) return CancelledError("cancelled before anything was created");
  if (!spec.history_pvc.empty()) RETURN_IF_ERROR(CheckEventLogClaim(ns, spec.history_pvc));

  // The parent. A parent still being deleted (a failed or deleted cluster of the same name) is
  // waited for; any other is someone's live cluster.
  const ResourceRef parent_ref = Ref(kConfigMaps, ns, names.parent);
  Result<json> parent = client_->Create(parent_ref, BuildParentConfigMap(effective));
  if (!parent.ok() && parent.status().code() == StatusCode::kAlreadyExists) {
    Result<json> existing = client_->Get(parent_ref);
    if (existing.ok() && !At(At(*existing, "metadata"), "deletionTimestamp").is_null()) {
      Info("waiting for the previous " + parent_ref.Describe() + " to be deleted");
      RETURN_IF_ERROR(WaitGone(ns, names.parent, kRollbackTimeout));
      parent = client_->Create(parent_ref, BuildParentConfigMap(effective));
    } else if (existing.ok()) {
      const json& annotations = At(At(*existing, "metadata"), "annotations");
      const json& labels = At(At(*existing, "metadata"), "labels");
      std::string owner = Str(labels, kRunLabel).empty()
                              ? "an ad-hoc cluster"
                              : "created by run " + Str(labels, kRunLabel) + " of DAG '" +
                                    Str(annotations, kDagIdAnnotation) + "'";
      return AlreadyExistsError("Kubernetes already has a Spark cluster named '" + spec.name +
                                "': " + parent_ref.Describe() + " (" + owner +
                                "); delete it first or choose another name");
    }
  }
  if (!parent.ok()) return parent.status().With("creating Spark cluster '" + spec.name + "'");
  handle.parent_uid = Str(At(*parent, "metadata"), "uid");
  if (on_parent) {
    if (Status s = on_parent(handle); !s.ok()) return RollBack(ns, names.parent, s);
  }

  // The children, each owned by the parent.
  const json owner = OwnerReference(names.parent, handle.parent_uid);
  if (spec.authenticate) {
    // A plain create of an immutable Secret, once (never applied again).
    Result<json> created = client_->Create(Ref(kSecrets, ns, names.auth_secret),
                                           BuildAuthSecret(effective, owner, secret));
    if (!created.ok()) return RollBack(ns, names.parent, created.status());
  }
  std::vector<std::pair<ResourceRef, json>> children;
  children.push_back(
      {Ref(kNetworkPolicies, ns, names.network_policy), BuildNetworkPolicy(effective, owner)});
  children.push_back({Ref(kServices, ns, names.master), BuildMasterService(effective, owner)});
  if (std::optional<json> ui = BuildUiService(effective, owner)) {
    children.push_back({Ref(kServices, ns, names.ui_service), *ui});
  }
  children.push_back(
      {Ref(kDeployments, ns, names.master), BuildMasterDeployment(effective, owner)});
  children.push_back(
      {Ref(kDeployments, ns, names.worker), BuildWorkerDeployment(effective, owner)});
  for (auto& [ref, object] : children) {
    if (stop.stop_requested()) {
      return RollBack(ns, names.parent,
                      CancelledError("cancelled while creating Spark cluster '" + spec.name + "'"));
    }
    Result<json> applied = client_->ServerSideApply(ref, std::move(object), ApplyConflicts::kForce);
    if (!applied.ok()) return RollBack(ns, names.parent, applied.status());
    if (ref.name == names.ui_service) handle.ui_node_port = NodePortOf(*applied);
  }
  Info("created Spark cluster '" + spec.name + "' in namespace " + ns +
       "; waiting for its master and " + std::to_string(spec.workers) + " worker(s)");

  Status ready = WaitRolledOut(ns, names, ready_timeout, stop);
  if (!ready.ok()) return RollBack(ns, names.parent, ready);
  return handle;
}

Result<KubeClusterHandle> KubernetesClusterBackend::Scale(KubeClusterHandle handle, int workers,
                                                          Millis timeout, std::stop_token stop) {
  if (workers < 0) {
    return InvalidArgumentError("workers: expected an integer >= 0; got " +
                                std::to_string(workers));
  }
  const SparkClusterNames names = SparkClusterNames::For(handle.name);
  const ResourceRef worker = Ref(kDeployments, handle.namespace_name, names.worker);
  Result<json> patched =
      client_->Patch(worker, PatchType::kMerge, {{"spec", {{"replicas", workers}}}});
  if (!patched.ok()) {
    if (patched.status().code() == StatusCode::kNotFound) {
      return NotFoundError("Spark cluster '" + handle.name + "' has no " + worker.Describe() +
                           " (was it deleted?)");
    }
    return patched.status().With("scaling Spark cluster '" + handle.name + "'");
  }
  if (Status recorded = RecordWorkers(handle, workers); !recorded.ok()) {
    return recorded.With("Spark cluster '" + handle.name + "' was scaled to " +
                         std::to_string(workers) + " worker(s), but its parent configmap " +
                         handle.parent + " still records the old count");
  }
  RETURN_IF_ERROR(WaitRolledOut(handle.namespace_name, names, timeout, stop));
  handle.workers = workers;
  return handle;
}

Status KubernetesClusterBackend::CheckEventLogClaim(const std::string& namespace_name,
                                                    const std::string& claim) {
  const ResourceRef ref = Ref(kPersistentVolumeClaims, namespace_name, claim);
  Result<json> got = client_->Get(ref);
  const std::string what = "persistentvolumeclaim \"" + claim + "\" in namespace " +
                           namespace_name + " (the Spark event-log volume, spark_history_pvc)";
  if (!got.ok()) {
    if (got.status().code() == StatusCode::kNotFound) {
      return FailedPreconditionError(
          what +
          " does not exist, so no cluster was created: create it with `sparkplane deploy "
          "storage --namespace " +
          namespace_name +
          "`, or set spark_history_pvc: \"\" in sparkplane.yaml to create clusters without "
          "event logs (their applications then have no Spark history)");
    }
    if (got.status().code() == StatusCode::kPermissionDenied) {
      // A Role without `get` on claims: the pods' scheduling will tell instead.
      Info("cannot check " + what + ": " + got.status().message());
      return OkStatus();
    }
    return got.status().With("checking " + what);
  }
  if (!At(At(*got, "metadata"), "deletionTimestamp").is_null()) {
    return FailedPreconditionError(what + " is being deleted, so no cluster was created");
  }
  if (std::string phase = Str(At(*got, "status"), "phase"); phase == "Lost") {
    return FailedPreconditionError(what +
                                   " has lost its volume (phase Lost), so no cluster was "
                                   "created");
  }
  return OkStatus();
}

Status KubernetesClusterBackend::RecordWorkers(const KubeClusterHandle& handle, int workers) {
  const ResourceRef ref = Ref(kConfigMaps, handle.namespace_name, handle.parent);
  // Read-modify-write guarded by resourceVersion; a concurrent change is read again.
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(json parent, client_->Get(ref));
    json described = json::parse(Str(At(parent, "data"), kSpecKey), nullptr, false);
    if (!described.is_object()) described = json::object();
    described["workers"] = workers;
    json patch = {
        {"metadata", {{"resourceVersion", Str(At(parent, "metadata"), "resourceVersion")}}},
        {"data", {{kSpecKey, described.dump(2)}}}};
    Result<json> patched = client_->Patch(ref, PatchType::kMerge, patch);
    if (patched.ok()) return OkStatus();
    if (patched.status().code() != StatusCode::kAborted || attempt == 4) {
      return patched.status();
    }
  }
}

Result<bool> KubernetesClusterBackend::Delete(const std::string& namespace_name,
                                              const std::string& parent, Millis timeout) {
  DeleteOptions options;
  options.propagation = Propagation::kForeground;
  Result<bool> existed = client_->Delete(Ref(kConfigMaps, namespace_name, parent), options);
  if (!existed.ok()) return existed.status().With("deleting Spark cluster " + parent);
  if (!*existed) return false;
  RETURN_IF_ERROR(WaitGone(namespace_name, parent, timeout));
  return true;
}

Result<std::vector<ManagedCluster>> KubernetesClusterBackend::ListClusters(
    const std::string& namespace_name) {
  ListOptions options;
  options.label_selector = std::string(kManagedByLabel) + "=" + kManagedByValue + "," +
                           kComponentLabel + "=" + kParentComponent;
  options.limit = 500;
  ASSIGN_OR_RETURN(ObjectList list, client_->ListAll(Ref(kConfigMaps, namespace_name), options));
  std::vector<ManagedCluster> out;
  for (const json& item : list.items) {
    const json& metadata = At(item, "metadata");
    ManagedCluster c;
    c.parent = Str(metadata, "name");
    c.uid = Str(metadata, "uid");
    c.name = Str(At(metadata, "annotations"), kClusterNameAnnotation);
    if (c.name.empty()) c.name = c.parent;
    c.dag_id = Str(At(metadata, "annotations"), kDagIdAnnotation);
    std::string run = Str(At(metadata, "labels"), kRunLabel);
    bool digits = !run.empty() && run.size() <= 18 &&
                  run.find_first_not_of("0123456789") == std::string::npos;
    c.run_key = digits ? std::stoll(run) : 0;
    c.deleting = !At(metadata, "deletionTimestamp").is_null();
    const json& annotations = At(metadata, "annotations");
    c.deadline = internal::ParseRfc3339(Str(annotations, kDeadlineAnnotation));
    c.idle_timeout = ParseIdleTimeout(Str(annotations, kIdleTimeoutAnnotation)).value_or(Millis(0));
    c.last_busy = internal::ParseRfc3339(Str(annotations, kLastBusyAnnotation));
    SparkClusterSpec named;
    named.name = c.name;
    named.namespace_name = namespace_name;
    c.ui_url = MasterUiUrl(named);
    out.push_back(std::move(c));
  }
  return out;
}

Status KubernetesClusterBackend::MarkBusy(const std::string& namespace_name,
                                          const std::string& parent, Time at) {
  json patch = {{"metadata", {{"annotations", {{kLastBusyAnnotation, FormatTime(at)}}}}}};
  return client_->Patch(Ref(kConfigMaps, namespace_name, parent), PatchType::kMerge, patch)
      .status();
}

Result<std::string> KubernetesClusterBackend::ReadAuthSecret(const KubeClusterHandle& handle) {
  if (!handle.authenticate || handle.auth_secret.empty()) {
    return FailedPreconditionError("Spark cluster '" + handle.name + "' does not authenticate");
  }
  const ResourceRef ref = Ref(kSecrets, handle.namespace_name, handle.auth_secret);
  ASSIGN_OR_RETURN(json secret, client_->Get(ref));
  std::optional<std::string> value =
      internal::Base64Decode(Str(At(secret, "data"), kAuthSecretKey));
  if (!value || value->empty()) {
    return FailedPreconditionError(ref.Describe() + " has no key '" + kAuthSecretKey + "'");
  }
  return *value;
}

Status KubernetesClusterBackend::WaitRolledOut(const std::string& namespace_name,
                                               const SparkClusterNames& names, Millis timeout,
                                               std::stop_token stop) {
  // The caller's stop, or a pod that can never become ready, ends the wait.
  std::stop_source abort;
  std::stop_callback forward(stop, [&abort] { abort.request_stop(); });
  std::mutex mu;
  std::string hopeless;  // PermanentPodFailure of the first such pod
  WatchCancel pods_cancel;
  std::thread pods_watch;
  try {
    pods_watch = std::thread([&] {
      WatchOptions options;
      options.label_selector = ClusterSelector(names);
      options.timeout_seconds = options_.watch_timeout_seconds;
      options.cancel = &pods_cancel;
      auto check = [&](const json& pod) {
        std::string why = PermanentPodFailure(pod);
        if (why.empty()) return false;
        std::lock_guard<std::mutex> lock(mu);
        if (hopeless.empty()) hopeless = why;
        return true;
      };
      // Best effort: if this watch fails, the ready timeout still ends the wait.
      Status watched =
          client_->Watch(Ref(kPods, namespace_name), options, [&](const WatchEvent& event) {
            bool found = false;
            if (event.type == WatchEventType::kRelisted) {
              for (const json& pod : event.items) found = found || check(pod);
            } else if (event.type == WatchEventType::kAdded ||
                       event.type == WatchEventType::kModified) {
              found = check(event.object);
            }
            if (!found) return WatchControl::kContinue;
            abort.request_stop();
            return WatchControl::kStop;
          });
      if (!watched.ok() && watched.code() != StatusCode::kCancelled) {
        Info("cannot watch the Spark cluster's pods (" + watched.message() +
             "): pods that can never be ready are only found at the ready timeout");
      }
    });
  } catch (const std::system_error& e) {
    return UnavailableError(std::string("cannot start a thread to watch pods: ") + e.what());
  }

  DeploymentRollout rollout({names.master, names.worker});
  WatchOptions options;
  options.label_selector = ClusterSelector(names);
  options.timeout_seconds = options_.watch_timeout_seconds;
  WatchOutcome outcome =
      WatchWithDeadline(client_, Ref(kDeployments, namespace_name), options, timeout,
                        abort.get_token(), [&rollout](const WatchEvent& event) {
                          rollout.Apply(event);
                          bool end = rollout.Done() || !rollout.deleted().empty();
                          return end ? WatchControl::kStop : WatchControl::kContinue;
                        });
  pods_cancel.Cancel();
  pods_watch.join();
  if (rollout.Done()) return OkStatus();
  if (!rollout.deleted().empty()) {
    return AbortedError("deployment " + rollout.deleted() + " in namespace " + namespace_name +
                        " was deleted while Sparkplane waited for it to be ready");
  }
  if (outcome.stopped && !hopeless.empty()) {
    return FailedPreconditionError("the Spark cluster cannot become ready (" + rollout.Summary() +
                                   "): " + hopeless);
  }
  if (outcome.stopped) {
    return CancelledError("cancelled while waiting for the Spark cluster (" + rollout.Summary() +
                          ")");
  }
  if (outcome.timed_out) {
    std::string why = Diagnose(namespace_name, names);
    return DeadlineExceededError("the Spark cluster was not ready after " + Seconds(timeout) +
                                 " (" + rollout.Summary() + ")" + (why.empty() ? "" : ": " + why));
  }
  return outcome.status.ok()
             ? InternalError("the watch of the Spark cluster's deployments ended early")
             : outcome.status.With("waiting for the Spark cluster to be ready");
}

Status KubernetesClusterBackend::WaitGone(const std::string& namespace_name,
                                          const std::string& parent, Millis timeout) {
  bool gone = false;
  WatchOptions options;
  options.field_selector = "metadata.name=" + parent;
  options.timeout_seconds = options_.watch_timeout_seconds;
  WatchOutcome outcome =
      WatchWithDeadline(client_, Ref(kConfigMaps, namespace_name), options, timeout,
                        std::stop_token(), [&gone, &parent](const WatchEvent& event) {
                          if (event.type == WatchEventType::kRelisted) {
                            gone = event.items.empty();
                          } else if (event.type == WatchEventType::kDeleted &&
                                     Str(At(event.object, "metadata"), "name") == parent) {
                            gone = true;
                          }
                          return gone ? WatchControl::kStop : WatchControl::kContinue;
                        });
  if (gone) return OkStatus();
  if (outcome.timed_out) {
    std::string left;
    if (parent.rfind(kParentPrefix, 0) == 0) {
      ListOptions list;
      list.label_selector =
          std::string(kClusterLabel) + "=" + parent.substr(sizeof(kParentPrefix) - 1);
      for (const ResourceType* type : {&kDeployments, &kPods, &kServices}) {
        Result<ObjectList> objects = client_->List(Ref(*type, namespace_name), list);
        if (objects.ok() && !objects->items.empty()) {
          left += ", " + std::to_string(objects->items.size()) + " " + std::string(type->plural);
        }
      }
    }
    return DeadlineExceededError("configmap " + parent + " in namespace " + namespace_name +
                                 " and its dependents were not gone after " + Seconds(timeout) +
                                 " (still there: the configmap" + left +
                                 "); the garbage collector deletes them in the background");
  }
  return outcome.status.ok() ? InternalError("the watch of " + parent + " ended early")
                             : outcome.status.With("waiting for " + parent + " to be deleted");
}

std::string KubernetesClusterBackend::Diagnose(const std::string& namespace_name,
                                               const SparkClusterNames& names) {
  ListOptions pods_options;
  pods_options.label_selector = ClusterSelector(names);
  Result<ObjectList> pods = client_->List(Ref(kPods, namespace_name), pods_options);
  ListOptions events_options;
  events_options.field_selector = "type=Warning";
  Result<ObjectList> events = client_->List(Ref(kEvents, namespace_name), events_options);
  std::string why = ExplainNotReady(pods.ok() ? pods->items : std::vector<json>{},
                                    events.ok() ? events->items : std::vector<json>{},
                                    "sparkplane-" + names.base + "-");
  if (!pods.ok()) why += (why.empty() ? "" : "; ") + ("pods unknown: " + pods.status().message());
  return why;
}

Status KubernetesClusterBackend::RollBack(const std::string& namespace_name,
                                          const std::string& parent, Status failure) {
  Info("rolling back: deleting configmap " + parent + " and everything it owns (" +
       failure.message() + ")");
  Result<bool> deleted = Delete(namespace_name, parent, kRollbackTimeout);
  std::string outcome = deleted.ok() ? "; the partially created cluster was deleted"
                                     : "; deleting the partially created cluster failed (" +
                                           deleted.status().message() +
                                           "), the orphan reaper will try again";
  return Status(failure.code(), failure.message() + outcome);
}

Result<std::unique_ptr<KubeClient>> ConnectKube(const KubeConnection& connection,
                                                const Clock& clock, Logger* logger) {
  KubeConfigOptions options;
  options.context = connection.context;
  options.namespace_override = connection.namespace_name;
  ASSIGN_OR_RETURN(KubeConfig config, LoadKubeConfigSetting(connection.kubeconfig, options));
  KubeClientOptions client_options;
  client_options.logger = logger;
  return std::make_unique<KubeClient>(std::move(config), clock, std::move(client_options));
}

Result<std::string> NewSharedSecret() {
  return RandomHex(32);
}

}  // namespace sp::k8s
