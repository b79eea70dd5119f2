// TaskType: the one interface a kind of task implements (bash, spark_submit, spark_cluster,
// connection, ...). Registration is one line in registry.cc.
//
// Lifecycle of one try, driven by the scheduler:
//   Validate(spec)        at DAG load, on the unrendered YAML fields; located errors
//   Start(ctx)            fields rendered; must not block the caller: long work runs on the
//                         type's own thread or in a child process. Before any effect that must
//                         be undone or watched (a process, a cluster), the type calls
//                         ctx->SaveHandle(handle), which returns once the handle is durable.
//   ctx->Complete(result) exactly once per try, from any thread
//   Cancel(ctx, grace)    timeout or user cancel: stop the effect (SIGTERM, SIGKILL after
//                         grace); the try then Completes (as failed)
//   Recover(ctx, handle)  after a server restart, for a try that had a handle: reattach and
//                         later Complete, or clean up and Complete(failed, "lost on restart")
//
// Thread safety: a TaskType is shared by all tries and must be safe to call concurrently.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "clusters/local_backend.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/status.h"
#include "dag/dag.h"
#include "dag/loader.h"

namespace sp::executor {
class ProcessSupervisor;
}
namespace sp::store {
class Store;
}

namespace sp::operators {

// Where things live and which defaults apply; set by the server's configuration.
struct RuntimeConfig {
  std::string data_dir;    // root: apps/, dags/, history/spark, history/scheduler
  std::string spark_home;  // empty when Spark is not installed
  std::string python;      // interpreter for PySpark drivers/executors
  std::string default_cluster_backend = "local";
  std::string secret_key_path;  // libsodium key for connection secrets

  // Kubernetes (the `kubernetes` cluster backend, client mode against it, the orphan reaper).
  std::string kubeconfig;      // a path, "in-cluster", or "" (kubectl's order)
  std::string kube_context;    // "" : the kubeconfig's current-context
  std::string kube_namespace;  // "" : the context's (or the service account's) namespace
  std::string spark_image = "apache/spark:4.0.1";              // default image of clusters
  std::string spark_history_pvc = "sparkplane-spark-history";  // event-log volume ("": none)
  int driver_port = 7078;         // spark.driver.port of client-mode drivers in a pod
  int block_manager_port = 7079;  // spark.blockManager.port of those drivers
  std::string pod_ip;             // $POD_IP: set when the scheduler runs in a pod

  // Cluster lifetimes (clusters/cluster_backend.h). The max_age of a cluster whose create task
  // gives none (0: no deadline); the local clusters' guard: the command that starts it (empty:
  // no guard), the lock file whose holder owns the clusters ("" : the creating process), and
  // how long the owner may be gone before the guard deletes them.
  Millis cluster_max_age{24 * 3600 * 1000};
  std::vector<std::string> cluster_guard_command;
  std::string cluster_owner_lock;
  Millis cluster_owner_grace{30000};
  // How long a try adopted from another process space (another host or pod, over a shared log
  // volume) may show no sign of life before it counts as lost (executor/try_files.h): 30
  // heartbeats.
  Millis try_silence{30000};
  // Warm pools of local clusters the server keeps ready (clusters::PoolSpec); empty for
  // commands.
  std::vector<clusters::PoolSpec> cluster_pools;

  std::string AppsDir() const { return data_dir + "/apps"; }
  std::string SparkHistoryDir() const { return data_dir + "/history/spark"; }
  std::string SchedulerDir() const { return data_dir + "/history/scheduler"; }
  std::string ClustersDir() const { return data_dir + "/clusters"; }
};

// Shared services handed to every task type (owned by the server; outlive all tries).
struct Services {
  const Clock* clock = nullptr;
  Logger* logger = nullptr;
  executor::ProcessSupervisor* processes = nullptr;
  store::Store* store = nullptr;
  RuntimeConfig config;
};

struct TaskResult {
  bool success = false;
  int exit_code = -1;  // process exit status when there was one
  nlohmann::json outputs = nlohmann::json::object();
  std::string message;  // why it failed, shown to users
  // False for failures a retry cannot fix (bad input found at start); the try is not retried.
  bool retryable = true;
  // The task skipped itself (bash: an exit code in skip_on_exit_code); not a success, not a
  // failure, never retried: the instance ends `skipped`, as an Airflow AirflowSkipException.
  bool skipped = false;
  // The try's program never ran: the server that launched it stopped between saving its handle
  // and opening its start gate (a recorded "unstarted" end). The instance is scheduled again
  // without spending a try, as a try that never saved a handle is at a restart.
  bool never_started = false;
};

// One try of one task. Created by the scheduler; implementations are thread-safe.
class TaskContext {
 public:
  virtual ~TaskContext() = default;

  const std::string& dag_id() const { return dag_id_; }
  const std::string& run_id() const { return run_id_; }
  int64_t run_key() const { return run_key_; }
  const std::string& task_id() const { return task_id_; }
  int try_number() const { return try_number_; }
  const dag::TaskSpec& spec() const { return *spec_; }
  // Type-specific fields after template rendering.
  const nlohmann::json& fields() const { return fields_; }
  // Rendered task env (the DAG's task `env:`).
  const std::map<std::string, std::string>& env() const { return env_; }
  // The try's log file (logs/DAG/RUN/TASK/TRY.log); types append their process output here.
  const std::string& log_path() const { return log_path_; }
  const Services& services() const { return *services_; }

  // Makes `handle` durable before returning (see the header comment).
  virtual Status SaveHandle(const nlohmann::json& handle) = 0;
  // For a handle whose effect waits behind a gate (a gated process): `start` runs once `handle`
  // is durable, `abandon` with the reason when it cannot be made durable (then nothing may
  // start). A context may make the handles of several tries durable in one commit (the
  // scheduler does for the tries one loop iteration launches), so either can run after this
  // returns, on the calling thread. The default saves at once.
  virtual void SaveHandleThen(const nlohmann::json& handle, std::function<void()> start,
                              std::function<void(const Status&)> abandon);
  // Ends the try. Later calls are ignored.
  virtual void Complete(TaskResult result) = 0;
  // Appends a line to the try's log ("[sparkplane] ..." lines explain what the type did). A
  // context without a log file (a CLI command's) writes somewhere else.
  virtual void AppendLog(const std::string& line) const;

 protected:
  std::string dag_id_, run_id_, task_id_, log_path_;
  int64_t run_key_ = 0;
  int try_number_ = 0;
  const dag::TaskSpec* spec_ = nullptr;
  nlohmann::json fields_;
  std::map<std::string, std::string> env_;
  const Services* services_ = nullptr;
};

class TaskType {
 public:
  virtual ~TaskType() = default;

  virtual std::string Name() const = 0;
  // The type-specific field names it accepts (for "unknown field, did you mean" errors).
  virtual std::vector<std::string> FieldNames() const = 0;
  // Validates the unrendered fields; appends located errors.
  virtual void Validate(const dag::TaskSpec& spec, std::vector<dag::DagError>* errors) const = 0;
  // Top-level fields (of the unrendered `fields`) that a shell parses as a script. The scheduler
  // renders templates in them with dag::RenderShellTemplate: values reach the script as quoted
  // environment variables, never as script text (no injection through a param or conf value).
  virtual std::vector<std::string> ShellScriptFields(const nlohmann::json& fields) const {
    return {};
  }

  virtual void Start(std::shared_ptr<TaskContext> ctx) = 0;
  virtual void Cancel(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle,
                      Millis grace) = 0;
  virtual void Recover(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle) = 0;
};

}  // namespace sp::operators
