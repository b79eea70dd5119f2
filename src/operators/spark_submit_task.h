// SparkSubmitTaskType ("spark_submit"): runs one Spark application with `spark-submit` as a
// child process of the server (client mode by default), one process group per try, stdout and
// stderr appended to the try's log.
//
// YAML fields (strings may be templates; values are checked again after rendering):
//   conn_id | master      exactly one: a connection of type spark (connections.h), or a master
//                         URL (spark://HOST:PORT, local, local[N], k8s://URL, yarn)
//   application           required: a .py file or a .jar; a relative path is resolved against
//                         <data>/apps (RuntimeConfig::AppsDir)
//   java_class            --class, for JVM applications
//   py_files, jars, files, archives, packages   lists (or one comma-separated string);
//                         relative local paths are resolved against <data>/apps too
//   conf                  mapping of Spark settings (keys start with "spark.")
//   driver_memory, executor_memory              JVM sizes such as 512m, 2g
//   driver_cores, executor_cores, total_executor_cores   positive integers
//   name                  --name
//   application_args      list of arguments after the application (one string = one argument)
//   deploy_mode           client (default) | cluster
//   env                   environment for spark-submit (on top of the task's `env:`)
// Native mode (master k8s://https://HOST:PORT: Spark's own Kubernetes scheduler; deploy_mode
// defaults to cluster), these fields only:
//   image                 spark.kubernetes.container.image (default RuntimeConfig::spark_image)
//   namespace             spark.kubernetes.namespace (default RuntimeConfig::kube_namespace, else
//                         the kubeconfig's or the service account's)
//   service_account       spark.kubernetes.authenticate.driver.serviceAccountName
//   driver_pod_template, executor_pod_template   local files (relative: under <data>/apps) →
//                         spark.kubernetes.{driver,executor}.podTemplateFile
// and these defaults: spark.kubernetes.submission.waitAppCompletion=true (the try lasts as long
// as the application), spark.kubernetes.executor.deleteOnTermination=true,
// spark.kubernetes.driver.service.deleteOnTermination=true, pod labels
// app.kubernetes.io/managed-by=sparkplane, sparkplane.io/dag, sparkplane.io/run,
// sparkplane.io/task, sparkplane.io/try, sparkplane.io/submission (random per try) and the
// driver's annotations sparkplane.io/dag-id,
// sparkplane.io/task-id (k8s::DriverPodKey: they name one try's driver pod). Spark 4 has no
// setting that deletes the finished driver pod (it stays, Completed, with its log). In cluster
// mode the driver's event logs go to the history volume (RuntimeConfig::spark_history_pvc,
// mounted at k8s::kEventLogMountPath as in the clusters' pods); no local dir or python of this
// machine is passed; a local application or dependency file is an error unless conf sets
// spark.kubernetes.file.upload.path.
// Client mode with executors in Kubernetes (the master is a kubernetes spark_cluster's, or a
// …svc Service name, or native client mode): when the scheduler runs in a pod
// (RuntimeConfig::pod_ip from $POD_IP) spark.driver.host=<pod ip>, spark.driver.bindAddress=
// 0.0.0.0, spark.driver.port=RuntimeConfig::driver_port, spark.blockManager.port=
// RuntimeConfig::block_manager_port; the scheduler's python is the driver's only
// (spark.pyspark.driver.python), executors use the image's. A cluster made with authenticate:
// its Secret is read from Kubernetes and given to spark-submit with the other settings
// (spark.authenticate, spark.authenticate.secret), never in argv or the log.
// Every Kubernetes setting is a default: the task's conf wins.
// Settings never travel in argv (visible to every local user through ps): all of them, the
// task's conf and Sparkplane's defaults, go to spark-submit through --properties-file, a file
// written 0600 in the try's local dir (spark::BuildSubmitCommand, WriteSubmitProperties). The
// try's log shows the argv and the settings, secret-looking values (keys with secret,
// password, token, credential, access.key) masked.
// These map onto spark::SubmitSpec; spark.eventLog.dir is RuntimeConfig::SparkHistoryDir()
// (created when missing), spark.local.dir a per-try dir <data>/tmp/<dag>/<run key>/<task>/<try>
// (also the driver's working directory, so relative paths an application writes land there;
// removed after the try), the PySpark python RuntimeConfig::python.
//
// Before launching (Start; any of these fails the try without retry, nothing is launched):
// rendered fields invalid, application or a local py_files/jars/files/archives file missing
// (the message names the path), conn_id unknown (with "did you mean"), a spark:// master not
// accepting TCP connections within 2 s, or spark-submit options spark::BuildSubmitCommand refuses.
// These checks run on a thread of the type's own, not on the caller's.
//
// Launch (as bash): gated spawn of the argv (never a shell), SaveHandle({"pid", "start_ticks",
// "local_dir", "master"}), then Release. On exit: the app id is read from what this try wrote to
// the log (ScanDriverLog: spark::ExtractAppId with the app id prefix of our local cluster whose
// master_url is the master, else the event-log line, else Spark's default "app" prefix);
// outputs: app_id (when found), master, exit_code (when known). Success iff exit code 0; a
// failure's message has the app id and the last Python exception line (the end of the last
// traceback) or else the last log4j ERROR line. With an app id and an event log on this
// machine, the exit code is recorded beside the event log (spark::RecordDriverExit) before the
// try completes: Spark logs ExitCode 0 for a driver that raised, and `history` / `runs show`
// take the driver's exit code over the log's.
// Cancel: SIGTERM to the driver's process group, SIGKILL after the grace (the exit then
// completes the try). spark-submit runs under its supervisor with an exit record
// (`<log>.exit`), so Recover after a restart adopts a driver that still runs (awaited through a
// pidfd) or takes the recorded end of one that finished meanwhile, and the try ends as it would
// have (app id, driver exit beside the event log); a driver killed with its supervisor fails the
// try retryably, except in native cluster mode with waitAppCompletion (the handle's
// "driver_pod"): there the driver runs in its own pod, which outlives spark-submit (the
// scheduler's pod restarted), so Recover finds the try's driver pod by its labels and follows it
// on a thread of its own: Succeeded completes the try (exit 0), Failed fails it with the driver
// container's exit code and reason, and no pod (never made, or deleted) fails it retryably; the
// app id is the pod's spark-app-selector label. Cancel of a native cluster-mode try deletes its
// driver pod (the executors, Service and ConfigMap are owned by it), as Spark's own kill does,
// besides stopping spark-submit. Handles from before exit records: the driver is stopped, the
// try fails retryably.
//
// Thread safety: all methods may run concurrently. The destructor waits for the work threads.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "executor/process.h"
#include "operators/internal/task_threads.h"
#include "operators/task_type.h"

namespace sp::k8s {
class KubeClient;
struct DriverPodKey;
class WatchCancel;
}  // namespace sp::k8s

namespace sp::operators {

class SparkSubmitTaskType : public TaskType {
 public:
  // `services` (store, processes, config) must outlive the type and every try it starts.
  explicit SparkSubmitTaskType(const Services* services) : services_(services) {}
  ~SparkSubmitTaskType() override;

  std::string Name() const override { return "spark_submit"; }
  std::vector<std::string> FieldNames() const override;
  void Validate(const dag::TaskSpec& spec, std::vector<dag::DagError>* errors) const override;

  void Start(std::shared_ptr<TaskContext> ctx) override;
  void Cancel(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle,
              Millis grace) override;
  void Recover(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle) override;

 private:
  struct Try;

  void Launch(const std::shared_ptr<TaskContext>& ctx, const std::shared_ptr<Try>& t);
  void Finish(const std::shared_ptr<TaskContext>& ctx, const std::shared_ptr<Try>& t,
              const executor::ExitInfo& exit);
  void RemoveTry(const TaskContext* ctx);
  // Native cluster mode after a restart that lost spark-submit: finds the try's driver pod and
  // completes the try as the pod ends (blocks on the API: runs on threads_).
  void FollowDriverPod(const std::shared_ptr<TaskContext>& ctx, const std::shared_ptr<Try>& t);
  void StartFollowingDriverPod(const std::shared_ptr<TaskContext>& ctx,
                               const std::shared_ptr<Try>& t);
  // A client for the configured Kubernetes API (RuntimeConfig's kubeconfig settings).
  Result<std::unique_ptr<k8s::KubeClient>> Kube() const;
  // Kube(), when it reaches the cluster of `key`'s API server; else FailedPrecondition saying
  // which clusters differ, with *other_cluster set.
  Result<std::unique_ptr<k8s::KubeClient>> KubeFor(const k8s::DriverPodKey& key,
                                                   bool* other_cluster) const;
  // Cancel of a try this type runs (launched, or following its driver pod).
  void CancelOwnTry(const std::shared_ptr<TaskContext>& ctx, const std::shared_ptr<Try>& t,
                    pid_t pid, const std::shared_ptr<k8s::WatchCancel>& pod_watch,
                    const std::optional<k8s::DriverPodKey>& driver_pod, Millis grace);
  struct PodDeletion {
    enum Outcome { kDeleted, kOtherCluster, kFailed } outcome = kFailed;
    std::vector<std::string> names;  // kDeleted: the pods deleted (none when there was none)
    std::string why;                 // kFailed: what is left running and what to do
  };
  // Deletes `key`'s driver pod, retrying a failing API kPodDeleteAttempts times with a growing
  // pause (blocks: call on threads_); logs to the try.
  PodDeletion DeleteDriverPod(const TaskContext& ctx, const k8s::DriverPodKey& key, Millis grace);

  const Services* services_;
  std::mutex mu_;
  std::map<const TaskContext*, std::shared_ptr<Try>> tries_;  // started, not yet finished
  // Set on destruction: watchers of drivers adopted after a restart return (the next server
  // adopts them again).
  std::shared_ptr<std::atomic<bool>> stopping_ = std::make_shared<std::atomic<bool>>(false);
  internal::TaskThreads threads_;  // last: destroyed first
};

// What a finished driver's output says.
struct DriverLogFacts {
  std::optional<std::string> app_id;
  // The last Python exception line (e.g. "RuntimeError: boom", the end of the last
  // "Traceback (most recent call last):" block), else the last log4j " ERROR " line; "" if none.
  std::string error_line;
};

// Scans `path` from byte `offset` to its end. The app id comes from, in this order: the
// standalone lines spark::ExtractAppId knows (with `app_id_prefix`), the driver's "Logging
// events to .../eventlog_v2_<id>/..." line (every mode, local[N] included: its ids are
// local-<millis>), ids with Spark's default prefix "app".
DriverLogFacts ScanDriverLog(const std::string& path, uint64_t offset,
                             const std::string& app_id_prefix);

// OK when `master` is not a spark:// URL, or when one of its HOST:PORT entries accepts a TCP
// connection within `timeout`. FailedPrecondition otherwise, naming the master and the reason
// (refused, timed out, unknown host).
Status CheckMasterReachable(const std::string& master, Millis timeout);

}  // namespace sp::operators
