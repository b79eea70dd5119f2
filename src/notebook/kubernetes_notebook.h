// Notebooks on the Kubernetes backend: a Spark cluster made by the spark_cluster task type (an
// ad-hoc try with backend kubernetes, as `cluster create --backend kubernetes` makes one, so
// its record, lifetime annotations and sweep are the cluster's), and on it the notebook's pod,
// Service, Secret and NetworkPolicy, owned by the cluster's parent (k8s/notebook_objects.h,
// k8s/kubernetes_notebooks.h).
//
// Unlike a local notebook, nothing here stays in the foreground: the objects live in the
// cluster, and so does their lifetime. The notebook's max age is the cluster's deadline; its
// idle timeout is Jupyter's own (kernels culled, then the server exits, then Connect stops and
// the pod ends), after which the cluster, idle, is deleted by `cluster sweep` at its idle
// timeout (ready_timeout + 1 minute, so that a slow start is never taken for idleness).
// Stopping a notebook deletes its cluster; the garbage collector removes the rest.
//
// Start: the cluster first (its ready wait), then the notebook's objects and the wait for the
// pod's Ready condition (bounded by the ready timeout). Any failure or a stop request after the
// cluster exists deletes the cluster (its parent, in the foreground, so everything it owns goes
// with it) before Start returns: nothing is left half-made.
//
// Thread safety: functions of one thread; the objects they use are their own.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "k8s/kubernetes_notebooks.h"
#include "notebook/notebook.h"
#include "operators/registry.h"
#include "operators/task_type.h"

namespace sp::notebook {

struct KubeNotebookRequest {
  // The cluster and lifetime, as for a local notebook (root_dir does not apply: the notebooks
  // live in the pod); its ready_timeout bounds each of the cluster's and the pod's waits.
  NotebookRequest cluster;
  std::string notebook_image = k8s::kDefaultNotebookImage;
  bool jupyter_node_port = false;
};

// What Start made; the token is for the user who started it (never stored elsewhere than the
// notebook's Secret).
struct StartedKubeNotebook {
  k8s::KubeNotebook notebook;
  std::string master_url;
  std::string jupyter_token;
  int node_port = 0;  // the Jupyter Service's node port (jupyter_node_port), else 0
};

// `progress` gets progress lines; `wait_stop(ms)` waits up to ms for a stop request (Ctrl-C).
// AlreadyExists when the notebook's cluster exists. On any error after the cluster was made,
// the cluster is deleted first and the message says how that went.
Result<StartedKubeNotebook> StartKubernetesNotebook(
    const operators::Services* services, operators::TaskTypeRegistry* registry,
    const KubeNotebookRequest& request, const std::function<bool(Millis)>& wait_stop,
    const std::function<void(const std::string&)>& progress);

// Deletes the notebook's cluster (and with it everything the notebook is made of), waiting
// until it is gone. NotFound when no such notebook runs in the namespace.
Status StopKubernetesNotebook(const operators::Services* services,
                              operators::TaskTypeRegistry* registry, const std::string& name,
                              const std::function<void(const std::string&)>& progress);

// The notebooks in the configured namespace.
Result<std::vector<k8s::KubeNotebook>> ListKubernetesNotebooks(const operators::Services* services);

// The cluster a notebook runs on: "notebook-<name>" (local and Kubernetes alike).
std::string NotebookClusterName(const std::string& notebook_name);

}  // namespace sp::notebook
