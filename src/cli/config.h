// Config: where the data lives and how the server behaves, resolved from (highest first)
// command-line flags, environment variables, a YAML config file, and defaults:
//
//   --data-dir     SPARKPLANE_DATA_DIR     data_dir      default ~/sparkplane
//   --dags-folder  SPARKPLANE_DAGS_FOLDER  dags_folder   default <data_dir>/dags
//   --config       SPARKPLANE_CONFIG       (the file)    default <data_dir>/sparkplane.yaml
//   --store        SPARKPLANE_STORE        store         default sqlite:<data_dir>/history/
//                                                        scheduler/sparkplane.db; or a PostgreSQL
//                                                        URL postgresql://USER@HOST:PORT/DB (the
//                                                        password from ~/.pgpass or PGPASSWORD,
//                                                        never in a command line)
//                  SPARKPLANE_PARALLELISM  parallelism   default 32
//                  SPARKPLANE_TASK_NICE    task_nice     default 10 (0..19): task tries and local
//                                                        Spark daemons run this much nicer than
//                                                        the server (0: as the server), so a busy
//                                                        machine still answers the API promptly
//                  SPARK_HOME              spark_home    default <repo>/.venv pyspark if found
//                  SPARKPLANE_SECRET_KEY_FILE secret_key_file default <data_dir>/secret.key
//                                          default_cluster_backend  default local
//                                          log_level     default info
//                 SPARKPLANE_CLUSTER_REAP_INTERVAL cluster_reap_interval default 30s
//                 SPARKPLANE_CLUSTER_MAX_AGE cluster_max_age default 24h: clusters whose create
//                                                        gives no max_age are deleted that long
//                                                        after creation ("none": never)
//                                          pools         default none: warm pools of local
//                                                        clusters the server keeps ready, a list
//                                                        of {name, size, workers, worker_cores,
//                                                        worker_memory, max_age}
//                 SPARKPLANE_CLUSTER_OWNER_GRACE cluster_owner_grace default 30s: how long a
//                                                        local cluster's guard waits for a
//                                                        server that is gone before deleting it
//              SPARKPLANE_FAILOVER_TIMEOUT failover_timeout default 6s (6s to 1h): on a
//                                                        PostgreSQL store, how long the active
//                                                        scheduler may be silent (frozen, a
//                                                        paused VM, cut off) before a standby
//                                                        takes over
//         SPARKPLANE_SCHEDULER_PARTITIONS scheduler_partitions default 1 (1 to 64): on a
//                                                        PostgreSQL store, into how many
//                                                        partitions the DAGs are spread; above
//                                                        1, every server acts at once on the
//                                                        DAGs of the partitions it holds (the
//                                                        same number on every server)
//                 SPARKPLANE_RETENTION     retention     default forever; a duration such as 30d:
//                                                        the server deletes finished runs (with
//                                                        their task logs) and Spark event logs
//                                                        older than that, hourly
// Kubernetes (the kubernetes cluster backend, native-mode spark_submit, client mode in a pod).
// kubeconfig, kube_context and namespace follow kubectl's order instead: the commands' flags
// (--kubeconfig, --context, --namespace), then this file, then the environment:
//                  KUBECONFIG              kubeconfig    default in-cluster when
//                                                        KUBERNETES_SERVICE_HOST is set, else the
//                                                        first file of $KUBECONFIG, else
//                                                        ~/.kube/config ("in-cluster" forces the
//                                                        pod's service account)
//                                          kube_context  default the kubeconfig's current-context
//                 SPARKPLANE_NAMESPACE     namespace     default the context's namespace (in a
//                                                        pod: the service account's)
//                                          spark_image   default apache/spark:4.0.1
//                                          spark_history_pvc  default sparkplane-spark-history
//                                                        (the event-log volume; "" for none)
//                                          driver_port   default 7078 (spark.driver.port)
//                                          block_manager_port  default 7079
//                                                        (spark.blockManager.port)
//                                          notebook_image  default quay.io/jupyter/pyspark-
//                                                        notebook:spark-4.0.1 (JupyterLab with
//                                                        PySpark's Connect client: `notebook
//                                                        start --backend kubernetes` without
//                                                        --notebook-image)
// The HTTP API and web UI (`sparkplane server`):
//                SPARKPLANE_HTTP_ADDRESS   http_address  default 127.0.0.1:8080 ("off": none;
//                                                        0.0.0.0:8080 in the pod)
//           SPARKPLANE_HISTORY_SERVER_URL  history_server_url  default none: the Spark History
//                                                        Server the UI links applications to
//          SPARKPLANE_ADMIN_PASSWORD_FILE  admin_password_file default none: the first start
//                                                        with no users creates `admin` with
//                                                        this file's password (a Kubernetes
//                                                        Secret; a missing file is no error),
//                                                        else a random one it prints once
//                  POD_IP                  (downward API) the scheduler's pod IP: client-mode
//                                                        drivers listen there for executors
// The data directory follows the reference design's volumes: apps/, dags/, history/spark/
// (Spark event logs), history/scheduler/ (database and task logs); created on first use.
#pragma once

#include <string>

#include "clusters/local_backend.h"
#include "common/log.h"
#include "common/status.h"
#include "k8s/notebook_objects.h"

namespace sp::cli {

struct Config {
  std::string data_dir;
  std::string dags_folder;
  std::string config_file;
  std::string store;  // a store location (store/open.h); "" : the SQLite file below
  std::string host;   // this machine's host name (a pod's name in Kubernetes)
  int parallelism = 32;
  int task_nice = 10;
  std::string spark_home;
  std::string python;
  std::string secret_key_file;
  std::string default_cluster_backend = "local";
  LogLevel log_level = LogLevel::kInfo;
  // How often the server tears down clusters whose run is over (a crash, a missing delete).
  Millis cluster_reap_interval = Millis(30000);
  Millis cluster_max_age = Millis(24 * 3600 * 1000);  // 0: none
  Millis cluster_owner_grace = Millis(30000);
  // On a PostgreSQL store: how long the active scheduler may be silent before a standby takes
  // over (SchedulerLease::kDefaultFailoverTimeout, store/postgres/lease.h).
  Millis failover_timeout = Millis(6000);
  // On a PostgreSQL store: 1, one active scheduler and standbys; more, several active ones,
  // each on the DAGs of its partitions (store/postgres/lease.h).
  int scheduler_partitions = 1;
  std::vector<clusters::PoolSpec> cluster_pools;  // pools: (the server keeps them filled)
  // How long finished runs, their task logs and Spark event logs are kept (0: forever).
  Millis retention = Millis(0);
  std::string kubeconfig;  // a path or "in-cluster"
  std::string kube_context;
  std::string kube_namespace;
  std::string spark_image = "apache/spark:4.0.1";
  std::string spark_history_pvc = "sparkplane-spark-history";
  int driver_port = 7078;
  int block_manager_port = 7079;
  std::string notebook_image = k8s::kDefaultNotebookImage;
  std::string pod_ip;
  std::string http_address = "127.0.0.1:8080";
  std::string history_server_url;
  std::string admin_password_file;

  std::string SchedulerDir() const { return data_dir + "/history/scheduler"; }
  std::string DatabasePath() const { return SchedulerDir() + "/sparkplane.db"; }
  // Where the state lives: `store`, else the SQLite database in the data directory.
  std::string StoreLocation() const { return store.empty() ? DatabasePath() : store; }
  // The server's control socket and lock. On a PostgreSQL store several hosts may share the data
  // directory (a ReadWriteMany volume, the `ha` deployment): each host's server then has its own,
  // named after the host (sparkplane.HOST.sock, server.HOST.lock); the scheduler lease, not the
  // lock, decides which one acts.
  std::string SocketPath() const { return SchedulerDir() + "/sparkplane" + HostSuffix() + ".sock"; }
  std::string LockPath() const { return SchedulerDir() + "/server" + HostSuffix() + ".lock"; }
  std::string HostSuffix() const;
};

struct ConfigFlags {
  std::string data_dir;
  std::string dags_folder;
  std::string config_file;
  std::string store;
  // Set by the commands that talk to Kubernetes (cluster, deploy); "" : not given.
  std::string kubeconfig;
  std::string kube_context;
  std::string kube_namespace;
};

// Resolves the configuration; a bad config file is an error located at file:line.
Result<Config> ResolveConfig(const ConfigFlags& flags);

// Creates the data directory layout (idempotent).
Status EnsureDataDirs(const Config& config);

}  // namespace sp::cli
