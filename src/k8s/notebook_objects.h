// The Kubernetes objects of one notebook on a Sparkplane Spark cluster, as JSON manifests: pure
// builders, like spark_cluster_objects.h, whose cluster they join.
//
// One notebook is, in the cluster's namespace, owned by the cluster's parent ConfigMap (so
// deleting the parent, `notebook stop` or the sweep, garbage-collects it with the cluster):
//   Secret        sparkplane-<base>-notebook  the Jupyter token and the Spark Connect token
//                                             (immutable); containers read them through
//                                             secretKeyRef env vars, so neither token is in any
//                                             pod spec, command line or annotation
//   Pod           sparkplane-<base>-notebook  two containers sharing the pod's network:
//                   spark-connect (spark image): spark-submit of SparkConnectServer against
//                     spark://<master service>:7077, gRPC bound to 127.0.0.1:15002, the driver
//                     on the pod IP with fixed ports 7078 (driver) and 7079 (block manager) for
//                     the executors; it stops once JupyterLab has stopped (see below)
//                   jupyter (notebook image): JupyterLab on 0.0.0.0:8888, kernels with
//                     SPARK_REMOTE=sc://localhost:15002 and the Connect token
//   Service       sparkplane-<base>-jupyter   8888 (port name http), ClusterIP, or NodePort
//                                             when asked (jupyter_node_port)
//   NetworkPolicy sparkplane-<base>-notebook  ingress to the notebook pod: 8888 from every pod
//                                             of the namespace (from anywhere with a NodePort:
//                                             the token guards it), 7078-7079 from the
//                                             cluster's pods (executors reach their driver)
// <base> is the cluster's (SparkClusterNames::For(cluster)). Labels: the cluster's
// (managed-by, sparkplane.io/cluster=<base>: the cluster's NetworkPolicy then admits the pod to
// the master, and its pods to the driver), app.kubernetes.io/name=sparkplane-notebook,
// app.kubernetes.io/component=notebook, sparkplane.io/notebook=<name>.
//
// Why one pod with both servers and Connect on loopback: the Python Connect client sends a
// token without TLS only to `localhost` (anything else makes it try TLS, which the server does
// not offer, and hang), so the kernels must reach Connect on localhost; and a gRPC port bound to
// 127.0.0.1 is reachable from no other pod whatever the network plugin enforces. The same
// holds for `kubectl port-forward` (it connects inside the pod), the way to reach Connect from
// a laptop.
//
// Why a bare Pod (restartPolicy Never) and not a Deployment: the notebook's idle timeout.
// Jupyter culls idle kernels and exits after idle_timeout without activity (as the local
// notebook does); the Connect container then stops Spark Connect, the pod ends, the cluster has
// no application left, and the cluster's own idle timeout (the parent's annotation, enforced by
// `sparkplane cluster sweep`) deletes everything. A Deployment would restart Jupyter forever.
//
// Hardening as the cluster's pods: no service-account token, no service links, no privilege
// escalation, no capabilities, read-only root filesystems; writable: /tmp of each container
// (emptyDir, 1Gi), Jupyter's home (/home/jovyan, emptyDir, notebook_scratch) where the
// notebooks live, and the event-log volume (Connect's event logs).
//
// Thread safety: pure functions over values.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "k8s/spark_cluster_objects.h"

namespace sp::k8s {

// The docker-stacks image with JupyterLab and PySpark (its Spark Connect client needs grpcio,
// which the image has) of the default Spark image's version.
inline constexpr char kDefaultNotebookImage[] = "quay.io/jupyter/pyspark-notebook:spark-4.0.1";
inline constexpr char kNotebookLabel[] = "sparkplane.io/notebook";
inline constexpr char kNotebookNameLabelValue[] = "sparkplane-notebook";
inline constexpr char kNotebookComponent[] = "notebook";
inline constexpr char kNotebookAnnotation[] = "sparkplane.io/notebook-name";
inline constexpr char kJupyterTokenKey[] = "jupyter-token";
inline constexpr char kConnectTokenKey[] = "connect-token";
inline constexpr int kJupyterPort = 8888;
inline constexpr int kConnectPort = 15002;
inline constexpr int kNotebookDriverPort = 7078;
inline constexpr int kNotebookBlockManagerPort = 7079;
inline constexpr int64_t kJupyterUid = 1000;  // jovyan of the docker-stacks images
inline constexpr int64_t kJupyterGid = 100;
inline constexpr char kJupyterHome[] = "/home/jovyan";
inline constexpr char kDefaultNotebookScratch[] = "10Gi";

struct NotebookSpec {
  std::string name;     // the notebook's name (notebook::ValidateNotebookName)
  std::string cluster;  // the cluster's name in Sparkplane
  std::string namespace_name;
  std::string spark_image = kDefaultSparkImage;
  std::string notebook_image = kDefaultNotebookImage;
  std::string image_pull_policy = "IfNotPresent";
  std::string history_pvc = kDefaultHistoryPvc;            // "" : no event log
  std::string driver_memory = "1g";                        // the Connect driver's heap
  std::string notebook_scratch = kDefaultNotebookScratch;  // sizeLimit of Jupyter's home
  Millis idle_timeout{0};                                  // 0: Jupyter never stops by itself
  bool jupyter_node_port = false;
};

struct NotebookNames {
  std::string pod;              // sparkplane-<base>-notebook
  std::string secret;           // sparkplane-<base>-notebook
  std::string network_policy;   // sparkplane-<base>-notebook
  std::string jupyter_service;  // sparkplane-<base>-jupyter
  static NotebookNames For(std::string_view cluster_name);
};

// InvalidArgument naming the field: empty name, cluster or namespace, a bad image, a bad
// driver_memory or notebook_scratch.
Status ValidateNotebookSpec(const NotebookSpec& spec);

// "sparkplane.io/notebook" label selector of every notebook pod Sparkplane made.
std::string NotebookPodSelector();
// http://sparkplane-<base>-jupyter.<ns>.svc:8888/lab (no token).
std::string JupyterServiceUrl(const NotebookSpec& spec);

// The objects; `owner` is OwnerReference(parent, uid) of the cluster's parent.
nlohmann::json BuildNotebookSecret(const NotebookSpec& spec, const nlohmann::json& owner,
                                   const std::string& jupyter_token,
                                   const std::string& connect_token);
nlohmann::json BuildNotebookPod(const NotebookSpec& spec, const nlohmann::json& owner);
nlohmann::json BuildJupyterService(const NotebookSpec& spec, const nlohmann::json& owner);
nlohmann::json BuildNotebookNetworkPolicy(const NotebookSpec& spec, const nlohmann::json& owner);

}  // namespace sp::k8s
