// The Kubernetes objects of one Sparkplane Spark standalone cluster, as JSON manifests: pure
// builders, so what Sparkplane asks of Kubernetes is testable without an API server.
//
// One cluster is, in its namespace:
//   ConfigMap   sparkplane-cluster-<base>         the parent: holds the cluster's spec; every
//                                                 other object is owned by it (ownerReferences
//                                                 with controller and blockOwnerDeletion), so a
//                                                 foreground delete of it removes all of them
//   Deployment  sparkplane-<base>-master          1 replica (strategy Recreate: never two masters)
//   Service     sparkplane-<base>-master          ClusterIP: 7077 (spark), 8080 (ui)[, 6066 rest]
//   Service     sparkplane-<base>-ui              NodePort for 8080, only when asked (ui_node_port)
//   Deployment  sparkplane-<base>-worker          N replicas
//   Secret      sparkplane-<base>-auth            only with authenticate: the shared secret,
//                                                 mounted as a file (never an env var) and
//                                                 named by spark.authenticate.secret.file
//   NetworkPolicy sparkplane-<base>               ingress to the cluster's pods only from the
//                                                 cluster's own pods and the scheduler's pods
//                                                 (app.kubernetes.io/name=sparkplane-scheduler),
//                                                 and to the web UI port from the sweep's pods
//                                                 (app.kubernetes.io/name=sparkplane-sweep)
// <base> is a DNS-1035 label derived from the cluster name (SparkClusterNames::For). Labels on
// every object: app.kubernetes.io/managed-by=sparkplane, app.kubernetes.io/name=spark,
// app.kubernetes.io/component (spark-cluster | master | worker), sparkplane.io/cluster=<base>,
// and when known sparkplane.io/dag (label-safe DAG id) and sparkplane.io/run (run key); the
// exact cluster name and DAG id are annotations, and the parent's annotations carry the
// lifetime (kDeadlineAnnotation, kIdleTimeoutAnnotation).
//
// The daemons run `spark-class` of the image (apache/spark: SPARK_HOME /opt/spark, user 185)
// with --host $(POD_IP), readiness probes HTTP GET / on the web UI ports (master 8080, worker
// 8081) so an available replica means Spark is up, requests = limits from the cores and memory
// (worker pod memory = worker_memory + the daemon's heap + max(384Mi, 10%) JVM overhead), the
// event-log PVC mounted at kEventLogMountPath with spark.eventLog.dir pointing there, and the
// master's REST submission server off unless master_rest. Pods do not mount a service-account
// token and do not get service-link environment variables.
//
// Hardening. Containers run as user 185 with no capabilities, no privilege escalation and a
// read-only root filesystem, so Spark writes only where a volume is mounted:
//   /tmp (every pod)            emptyDir, sizeLimit kTmpSizeLimit (1Gi): java.io.tmpdir of the
//                               daemons and of the executors (and cluster-mode drivers) a worker
//                               starts: JVM perf data and the native libraries netty, zstd,
//                               snappy, lz4 (a few MB each) or rocksdb (tens of MB) unpack per
//                               JVM; Python's tempfile. Not measured, but Spark's data does not
//                               go there, so 1Gi is generous.
//   kWorkerScratchDir (workers) emptyDir, sizeLimit worker_scratch (default 10Gi): the work dir
//                               (executor logs, app jars and files) and SPARK_LOCAL_DIRS, which
//                               beats any spark.local.dir and under which the worker gives each
//                               executor its dirs (shuffle, spill, blocks).
//   kEventLogMountPath          the event-log volume (a PVC).
// Nothing else is written: the daemons log to stderr (spark-class, not sbin/spark-daemon.sh, so
// no SPARK_LOG_DIR or SPARK_PID_DIR) and client-mode drivers, with their ivy caches, live in the
// scheduler's pod. A sizeLimit caps and reserves nothing: the kubelet evicts a pod whose volume
// outgrows it. spark.ui.killEnabled=false comes last in both daemons' options
// (SPARK_MASTER_OPTS / SPARK_WORKER_OPTS), over any user setting; validation refuses a
// master_conf or worker_conf that sets it to anything else.
//
// Thread safety: pure functions over values.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace sp::k8s {

inline constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";
inline constexpr char kManagedByValue[] = "sparkplane";
inline constexpr char kNameLabel[] = "app.kubernetes.io/name";
inline constexpr char kComponentLabel[] = "app.kubernetes.io/component";
inline constexpr char kClusterLabel[] = "sparkplane.io/cluster";
inline constexpr char kDagLabel[] = "sparkplane.io/dag";
inline constexpr char kRunLabel[] = "sparkplane.io/run";
inline constexpr char kClusterNameAnnotation[] = "sparkplane.io/cluster-name";
inline constexpr char kDagIdAnnotation[] = "sparkplane.io/dag-id";
// The component label of parent ConfigMaps (what the orphan reaper lists).
inline constexpr char kParentComponent[] = "spark-cluster";
// The label the scheduler's own pods carry (deploy/); the NetworkPolicy admits them.
inline constexpr char kSchedulerPodLabelValue[] = "sparkplane-scheduler";
// The parent ConfigMap's key holding the spec as JSON.
inline constexpr char kSpecKey[] = "cluster.json";
// The cluster's lifetime, as annotations of the parent only (each only when set): the deadline
// in RFC 3339 UTC ("2026-11-26T06:56:52Z"), the idle timeout in whole seconds ("1800s").
// `sparkplane cluster sweep` reads them, so they hold without the scheduler.
inline constexpr char kDeadlineAnnotation[] = "sparkplane.io/deadline";
inline constexpr char kIdleTimeoutAnnotation[] = "sparkplane.io/idle-timeout";
// Written by the sweep, never by the builders: when a sweep last saw the master run an
// application, or first saw it answer with none (RFC 3339 UTC). The idle timeout counts from it.
inline constexpr char kLastBusyAnnotation[] = "sparkplane.io/last-busy";
// The label value (app.kubernetes.io/name) of the sweep CronJob's pods (deploy/base/sweep.yaml):
// the NetworkPolicy admits them to the master's web UI port only, to read its /json/.
inline constexpr char kSweepPodLabelValue[] = "sparkplane-sweep";

inline constexpr char kDefaultSparkImage[] = "apache/spark:4.0.1";
inline constexpr char kDefaultHistoryPvc[] = "sparkplane-spark-history";
// Where the event-log volume is mounted in every pod of a cluster (and of native-mode drivers).
inline constexpr char kEventLogMountPath[] = "/sparkplane/history/spark";
inline constexpr char kAuthMountDir[] = "/etc/sparkplane/auth";
inline constexpr char kAuthSecretKey[] = "secret";
inline constexpr char kAuthSecretFile[] = "/etc/sparkplane/auth/secret";
// The worker pods' scratch volume and what Spark keeps on it: the worker's --work-dir
// (executors' stdout/stderr, the jars and files of apps) and SPARK_LOCAL_DIRS (shuffle, spill,
// cached blocks, fetched files of executors). Spark creates both directories.
inline constexpr char kWorkerScratchDir[] = "/sparkplane/scratch";
inline constexpr char kWorkerWorkDir[] = "/sparkplane/scratch/work";
inline constexpr char kWorkerLocalDir[] = "/sparkplane/scratch/local";
inline constexpr char kDefaultWorkerScratch[] = "10Gi";
// The sizeLimit of the /tmp emptyDir every pod has (see the top comment).
inline constexpr char kTmpSizeLimit[] = "1Gi";
inline constexpr int kMasterPort = 7077;
inline constexpr int kMasterUiPort = 8080;
inline constexpr int kMasterRestPort = 6066;
inline constexpr int kWorkerUiPort = 8081;
inline constexpr int64_t kSparkUid = 185;  // the `spark` user of the apache/spark images

// What to build. Names of Kubernetes objects derive from `name`; nothing here is a secret.
struct SparkClusterSpec {
  std::string name;            // the cluster's name in Sparkplane ([A-Za-z0-9_.-], <= 64)
  std::string namespace_name;  // required
  std::string image = kDefaultSparkImage;
  std::string image_pull_policy = "IfNotPresent";
  int workers = 1;  // >= 0
  int worker_cores = 1;
  std::string worker_memory = "1g";  // JVM size: what the worker offers to executors
  int master_cores = 1;
  std::string master_memory = "1g";                // the master daemon's heap
  std::map<std::string, std::string> master_conf;  // -Dkey=value for the master
  std::map<std::string, std::string> worker_conf;  // -Dkey=value for the workers
  std::map<std::string, std::string> node_selector;
  nlohmann::json tolerations = nlohmann::json::array();  // core/v1 Toleration objects
  std::string history_pvc = kDefaultHistoryPvc;          // "" : no event-log volume
  // The sizeLimit of each worker pod's scratch volume, a Kubernetes quantity (>= 1Mi). A
  // limit, not a reservation: a pod whose volume outgrows it is evicted by the kubelet.
  std::string worker_scratch = kDefaultWorkerScratch;
  bool authenticate = false;
  bool master_rest = false;  // the master's REST submission server (port 6066)
  bool ui_node_port = false;
  int ui_node_port_number = 0;  // 0: Kubernetes picks one (only with ui_node_port)
  std::string app_id_prefix;    // "" : "app-<base>"
  std::string dag_id;           // labels and annotations; may be empty (ad-hoc clusters)
  int64_t run_key = 0;          // 0: ad-hoc
  // When the cluster must be gone (max_age after its creation) and after how long without an
  // application; annotations of the parent, enforced by `sparkplane cluster sweep` and the
  // scheduler's reaper. nullopt / 0: none.
  std::optional<Time> deadline;
  Millis idle_timeout{0};
};

// The object names of one cluster.
struct SparkClusterNames {
  std::string base;            // DNS-1035 label, <= 40 characters
  std::string parent;          // sparkplane-cluster-<base> (ConfigMap)
  std::string master;          // sparkplane-<base>-master (Deployment and Service)
  std::string ui_service;      // sparkplane-<base>-ui
  std::string worker;          // sparkplane-<base>-worker
  std::string auth_secret;     // sparkplane-<base>-auth
  std::string network_policy;  // sparkplane-<base>

  // <base> is the name lower-cased with other characters than [a-z0-9-] made '-', runs of '-'
  // collapsed, a leading non-letter prefixed with "c-"; when that changed the name or made it
  // longer than 40, it is cut to 33 characters plus "-" and 6 hex digits of a hash of the exact
  // name, so two cluster names never share a base.
  static SparkClusterNames For(std::string_view cluster_name);
};

// A label value made valid: at most 63 of [A-Za-z0-9_.-], starting and ending alphanumeric
// (other characters become '-'); "" stays "".
std::string LabelValue(std::string_view text);

// The idle-timeout annotation's value: whole seconds, rounded up ("1800s"; 1500 ms is "2s").
std::string FormatIdleTimeout(Millis timeout);
// Its inverse ("1800s", or bare digits as seconds); nullopt for anything else.
std::optional<Millis> ParseIdleTimeout(std::string_view text);

// A JVM memory size ("512m", "2g", "1024" bytes, optional trailing b) in MiB, rounded up.
// InvalidArgument naming `field` otherwise.
Result<int64_t> JvmSizeToMebibytes(std::string_view size, std::string_view field);

// `field` holds a disk size for an emptyDir's sizeLimit: a Kubernetes quantity of at least 1Mi
// (no milli or exponent forms). InvalidArgument naming the field, with "did you mean 10Gi" for a
// JVM-style "10g".
Status ValidateDiskSize(const std::string& quantity, const std::string& field);

// InvalidArgument naming the field: empty name or namespace, bad image, negative workers,
// cores < 1, bad memory sizes, a worker_scratch that is not a quantity of at least 1Mi, node
// port out of 30000-32767, malformed tolerations or node_selector, conf keys that are not
// spark.* or values with spaces, spark.ui.killEnabled other than false.
Status ValidateSparkClusterSpec(const SparkClusterSpec& spec);

// "sparkplane.io/cluster=<base>": every object and pod of the cluster.
std::string ClusterSelector(const SparkClusterNames& names);
// The labels every object of the cluster carries (pods add the component).
std::map<std::string, std::string> ClusterLabels(const SparkClusterSpec& spec);

// spark://sparkplane-<base>-master.<ns>.svc:7077 and http://...:8080.
std::string MasterUrl(const SparkClusterSpec& spec);
std::string MasterUiUrl(const SparkClusterSpec& spec);

// One ownerReference to the parent (controller, blockOwnerDeletion).
nlohmann::json OwnerReference(const std::string& parent_name, const std::string& parent_uid);

// The objects. Every builder sets apiVersion, kind, metadata (name, namespace, labels,
// annotations); the children take `owner` (OwnerReference) as their only ownerReference.
nlohmann::json BuildParentConfigMap(const SparkClusterSpec& spec);
// An immutable Opaque Secret whose key "secret" (data, base64) is `secret`.
nlohmann::json BuildAuthSecret(const SparkClusterSpec& spec, const nlohmann::json& owner,
                               const std::string& secret);
nlohmann::json BuildMasterService(const SparkClusterSpec& spec, const nlohmann::json& owner);
// nullopt unless spec.ui_node_port.
std::optional<nlohmann::json> BuildUiService(const SparkClusterSpec& spec,
                                             const nlohmann::json& owner);
nlohmann::json BuildMasterDeployment(const SparkClusterSpec& spec, const nlohmann::json& owner);
nlohmann::json BuildWorkerDeployment(const SparkClusterSpec& spec, const nlohmann::json& owner);
nlohmann::json BuildNetworkPolicy(const SparkClusterSpec& spec, const nlohmann::json& owner);

}  // namespace sp::k8s
