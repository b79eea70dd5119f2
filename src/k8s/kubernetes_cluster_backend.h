// KubernetesClusterBackend: creates, scales and deletes Spark standalone clusters as Kubernetes
// objects (spark_cluster_objects.h) and waits, by watching, until Kubernetes says they are
// ready or gone.
//
// Create: first GET the event-log claim (spec.history_pvc): missing, being deleted or Lost is
// FailedPrecondition naming the claim and `sparkplane deploy storage`, before anything exists.
// Then POST the parent ConfigMap (an existing parent that is being deleted is waited for;
// one that is not is AlreadyExists), report the handle with the parent's uid (`on_parent` makes
// it durable before anything else exists), then server-side apply the children, each owned by
// the parent: the auth Secret (authenticate), the NetworkPolicy, the master Service (and the
// NodePort UI Service), the master and worker Deployments. Then WATCH the two Deployments
// (label selector sparkplane.io/cluster=<base>) until both have rolled out: readiness probes on
// the web UI ports make "available" mean Spark answers. The cluster's pods are watched
// meanwhile: one that can never be ready (PermanentPodFailure: a missing claim, a node
// selector no node matches, an image that cannot be pulled) ends the wait at once with
// FailedPrecondition and its cause. Any failure after the parent exists —
// an apply refused, the ready timeout, a cancel (stop_token), a Deployment deleted meanwhile —
// deletes the parent (foreground) and waits until it is gone, so nothing is left half-made. A
// not-ready error says why (cluster_readiness.h: unschedulable pods, image pulls, crash loops,
// failing probes, Warning events).
// Scale: a merge patch of the worker Deployment's replicas, then of the parent's recorded spec
// (data cluster.json, guarded by its resourceVersion), then the same watch. A scale that does not
// finish in time is not undone; the error says why. Delete: DELETE the parent with
// propagationPolicy Foreground, then WATCH it until it is gone (the garbage collector removes every
// dependent first: Deployments, ReplicaSets, pods, Services, the Secret, the NetworkPolicy).
// Idempotent; false when there was nothing. Watches reconnect transparently and relist after 410
// (KubeClient::Watch); a relist is folded in like any event, so readiness survives API server
// restarts.
//
// Requests (KubeClient::Stats) of one create → ready → delete lifecycle: create 1 GET (the
// claim) + 1 POST (the parent) + 4 applies (NetworkPolicy, master Service, two Deployments; +1
// with ui_node_port, +1 POST with authenticate) + 2 lists + 2 watches (Deployments, pods); delete 1
// DELETE + 1 list + 1 watch (more watch requests only when a watch is resumed). A not-ready
// diagnosis adds 2 lists.
//
// List: the parents with their lifetime annotations (the orphan reaper, `cluster sweep`);
// MarkBusy: the sweep's idle mark on a parent.
//
// RBAC (the namespace only; deploy/base/rbac.yaml, proven by tests/integration/k8s/
// rbac_test.cc): configmaps create/get/list/watch/patch/delete (the parent; delete in the
// foreground, the garbage collector deletes the children); configmaps/finalizers update (the
// children's blockOwnerDeletion, under OwnerReferencesPermissionEnforcement); secrets
// create/get (authenticate; never list or watch); services, networkpolicies, deployments
// create/patch (server-side apply needs create for a new object; scale patches deployments);
// deployments list/watch; pods list/watch (a pod that can never be ready ends the wait);
// services and events list (diagnostics); persistentvolumeclaims get (the event-log claim's
// pre-flight check).
//
// Thread safety: a backend may be used from several threads at once (KubeClient is
// thread-safe; each call keeps its own state). Calls block; run them off the scheduler's loop.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "k8s/client.h"
#include "k8s/spark_cluster_objects.h"

namespace sp::k8s {

// What the store keeps about a Kubernetes cluster (ClusterRecord::handle); never a secret.
struct KubeClusterHandle {
  std::string name;            // the cluster's name in Sparkplane
  std::string namespace_name;  //
  std::string parent;          // the parent ConfigMap
  std::string parent_uid;      // "" until the parent exists
  std::string master_url;      // spark://sparkplane-<base>-master.<ns>.svc:7077
  std::string ui_url;          // http://...:8080
  std::string app_id_prefix;   // app ids are "<prefix>-YYYYMMDDHHMMSS-NNNN"
  std::string image;
  int workers = 0;
  bool authenticate = false;
  std::string auth_secret;  // the Secret's name when authenticate
  int ui_node_port = 0;     // the UI's node port once known (0: none)

  nlohmann::json ToJson() const;
  // InvalidArgument naming the missing field.
  static Result<KubeClusterHandle> FromJson(const nlohmann::json& j);
};

struct KubeClusterTimeouts {
  Millis ready{120'000};
  Millis deleted{120'000};
};

struct KubeClusterBackendOptions {
  // Each watch request ends on the server after this long and is resumed (KubeClient::Watch);
  // tests make it short to exercise reconnects.
  int watch_timeout_seconds = 300;
  Logger* logger = nullptr;  // progress at info level; may be null
};

// A parent ConfigMap found in the namespace (what the orphan reaper compares to the store).
struct ManagedCluster {
  std::string name;  // the cluster's name (annotation), else the ConfigMap's
  std::string parent;
  std::string uid;
  std::string dag_id;
  int64_t run_key = 0;
  bool deleting = false;  // has a deletionTimestamp
  // The parent's lifetime annotations (SparkClusterSpec::deadline, idle_timeout); an annotation
  // that does not parse counts as absent.
  std::optional<Time> deadline;
  Millis idle_timeout{0};
  std::optional<Time> last_busy;  // kLastBusyAnnotation (written by the sweep)
  std::string ui_url;             // the master's web UI in the cluster's network (MasterUiUrl)
};

class KubernetesClusterBackend {
 public:
  // `client` must outlive the backend.
  explicit KubernetesClusterBackend(KubeClient* client, KubeClusterBackendOptions options = {});

  // The handle a create will have, before any request (objects' names, URLs).
  static KubeClusterHandle PlannedHandle(const SparkClusterSpec& spec);

  // See the header comment. InvalidArgument for a bad spec (nothing sent); AlreadyExists when
  // the parent exists and is not being deleted; DeadlineExceeded (not ready in time, with the
  // reasons), Cancelled (stop), or the API's error — in those cases after the rollback, whose
  // outcome the message tells.
  Result<KubeClusterHandle> Create(
      const SparkClusterSpec& spec, Millis ready_timeout, std::stop_token stop,
      const std::function<Status(const KubeClusterHandle&)>& on_parent);

  // Sets the worker count and waits for the rollout. NotFound when the cluster's worker
  // Deployment does not exist.
  Result<KubeClusterHandle> Scale(KubeClusterHandle handle, int workers, Millis timeout,
                                  std::stop_token stop);

  // Deletes the cluster whose parent is `parent` in `namespace_name` and waits until it is gone.
  // True if it existed. DeadlineExceeded naming what is left.
  Result<bool> Delete(const std::string& namespace_name, const std::string& parent, Millis timeout);

  // Every parent ConfigMap (managed-by=sparkplane, component=spark-cluster) in the namespace.
  Result<std::vector<ManagedCluster>> ListClusters(const std::string& namespace_name);

  // Sets the parent's kLastBusyAnnotation to `at` (a merge patch). NotFound when the parent is
  // gone.
  Status MarkBusy(const std::string& namespace_name, const std::string& parent, Time at);

  // The shared secret of an authenticating cluster (for the driver). Never logged.
  Result<std::string> ReadAuthSecret(const KubeClusterHandle& handle);

 private:
  // Watches the Deployments of `names` until they have rolled out, `timeout` passes or `stop`.
  Status WaitRolledOut(const std::string& namespace_name, const SparkClusterNames& names,
                       Millis timeout, std::stop_token stop);
  // FailedPrecondition naming the fix when the event-log claim is missing, being deleted or
  // Lost; OK when it exists or may not be read (the pods' scheduling then tells).
  Status CheckEventLogClaim(const std::string& namespace_name, const std::string& claim);
  // Sets "workers" in the parent's recorded spec (data cluster.json).
  Status RecordWorkers(const KubeClusterHandle& handle, int workers);
  // Watches the parent until it is gone.
  Status WaitGone(const std::string& namespace_name, const std::string& parent, Millis timeout);
  // "; worker pod ... is not scheduled ..." (best effort: "" when the lists fail).
  std::string Diagnose(const std::string& namespace_name, const SparkClusterNames& names);
  // Deletes after a failed create or a cancel; returns `failure` with the rollback's outcome.
  Status RollBack(const std::string& namespace_name, const std::string& parent, Status failure);
  void Info(const std::string& message) const;

  KubeClient* client_;
  KubeClusterBackendOptions options_;
};

// How Sparkplane's configuration names a Kubernetes API server (kube_config.h's settings).
struct KubeConnection {
  std::string kubeconfig;      // path, kInClusterKubeconfig, or "" (kubectl's order)
  std::string context;         // "" : the kubeconfig's current-context
  std::string namespace_name;  // "" : the context's namespace, or the service account's
};

// A client for `connection`; its default_namespace() is the namespace clusters live in.
Result<std::unique_ptr<KubeClient>> ConnectKube(const KubeConnection& connection,
                                                const Clock& clock, Logger* logger);

// 32 random bytes (getrandom) as 64 hex digits: a cluster's shared secret.
Result<std::string> NewSharedSecret();

}  // namespace sp::k8s
