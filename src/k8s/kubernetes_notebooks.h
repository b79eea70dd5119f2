// KubernetesNotebooks: puts a notebook (notebook_objects.h) on a Spark cluster the
// KubernetesClusterBackend made, owned by the cluster's parent, waits until its pod is ready,
// and lists the notebooks of a namespace.
//
// Create: GET the cluster's parent ConfigMap (NotFound / FailedPrecondition when it is missing
// or being deleted: its uid is what the children are owned by), POST the Secret with the two
// tokens (a Secret of that name that exists is AlreadyExists: never overwritten), server-side
// apply the NetworkPolicy and the Jupyter Service, POST the pod, then WATCH the pod until its
// Ready condition is True. A pod that can never be ready (PermanentPodFailure: a missing claim,
// an image that cannot be pulled, ...) or that ended (Succeeded/Failed) ends the wait with
// FailedPrecondition and the cause; the ready timeout with DeadlineExceeded and why the pod is
// not ready (ExplainNotReady); the stop token with Cancelled. Nothing is rolled back here: every
// object is owned by the parent, so the caller deletes the cluster (`notebook::` does, through
// the spark_cluster type so that the cluster's record follows), and the garbage collector the
// rest.
//
// Requests: 1 GET (parent) + 1 POST (Secret) + 2 applies + 1 POST (pod) + 1 list + 1 watch;
// a not-ready diagnosis adds 2 lists. RBAC beyond the cluster backend's: pods create and get
// (notebook::StartKubernetesNotebook adds services get for the node port); secrets create,
// services and networkpolicies create/patch, pods list/watch are granted already
// (deploy/base/rbac.yaml, proven by tests/integration/k8s/rbac_test.cc).
//
// Thread safety: as KubeClient (thread-safe); each call keeps its own state.
#pragma once

#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "k8s/client.h"
#include "k8s/notebook_objects.h"

namespace sp::k8s {

// A notebook as the API server shows it (never its tokens).
struct KubeNotebook {
  std::string name;     // the notebook's name (annotation)
  std::string cluster;  // its cluster's name (annotation)
  std::string namespace_name;
  std::string pod;
  std::string service;    // the Jupyter Service
  std::string secret;     // holds the tokens (keys kJupyterTokenKey, kConnectTokenKey)
  std::string phase;      // the pod's: Pending, Running, Succeeded, Failed
  bool ready = false;     // the pod's Ready condition
  bool deleting = false;  // the pod has a deletionTimestamp
  std::string url;        // JupyterServiceUrl: inside the cluster, no token
  std::optional<Time> created;
};

class KubernetesNotebooks {
 public:
  // `client` must outlive this.
  explicit KubernetesNotebooks(KubeClient* client, int watch_timeout_seconds = 300);

  // See the header comment. InvalidArgument for a bad spec (nothing sent).
  Result<KubeNotebook> Create(const NotebookSpec& spec, const std::string& jupyter_token,
                              const std::string& connect_token, Millis ready_timeout,
                              std::stop_token stop);

  // Every notebook pod (managed-by=sparkplane, component=notebook) of the namespace, by name.
  Result<std::vector<KubeNotebook>> List(const std::string& namespace_name);

 private:
  Status WaitReady(const NotebookSpec& spec, Millis timeout, std::stop_token stop);

  KubeClient* client_;
  int watch_timeout_seconds_;
};

// The notebook a pod object describes (List's rows).
KubeNotebook NotebookFromPod(const nlohmann::json& pod);
// Whether the pod's Ready condition is True.
bool PodReady(const nlohmann::json& pod);

}  // namespace sp::k8s
