// LocalCluster: an on-demand Spark standalone cluster (one Master, N Workers) on this machine's
// loopback, run as child processes of the server through executor::ProcessSupervisor.
//
// Layout: everything lives in <clusters_root>/<name>/
//   master.log, worker-<i>.log   the daemons' stdout+stderr (kept after Stop for debugging)
//   master.port-clash-<k>.log    the log of a master that could not bind its picked ports
//   work/worker-<i>/             the worker's --work-dir (app jars, executor stdout/stderr)
//   local/worker-<i>/            the worker's SPARK_LOCAL_DIRS (executor block-manager dirs)
// Stop removes work/ and local/ (and, with DirCleanup::kRemoveAll, the whole dir).
//
// Start (spark-facts §2, §3, §11, §12):
//   - ports up front: the master's RPC and web UI ports are picked before anything runs (two
//     free loopback ports from the kernel, or spec.pick_port), so the handle names the master
//     URL before the first daemon runs and the workers are spawned in the same instant as the
//     master (`spark-class Worker ... spark://127.0.0.1:<port>`), booting their JVMs alongside
//     it instead of after it. Workers take --port 0 --webui-port 0.
//   - a picked port can be taken by another process before the master binds it. The master
//     runs with spark.port.maxRetries=0, so it exits with a BindException instead of silently
//     walking to port+1 (where our workers would not find it). Then the attempt's daemons are
//     stopped, its master log is kept as master.port-clash-<k>.log, and new ports are picked:
//     at most 3 attempts within ready_timeout. /json/ answers count only when their `url` is
//     the master URL we picked (the UI port might answer for someone else).
//   - a worker can reach the master before the master is ALIVE (refused, or answered
//     "standby"); Spark's worker then retries only after 5-15 s. A worker that tried to
//     register and is not registered 2 s after the master is ALIVE is replaced by a new one
//     (new index), once per worker.
//   - daemons via `$SPARK_HOME/bin/spark-class <Master|Worker> --host 127.0.0.1 ...`, each in
//     its own process group, env SPARK_LOCAL_IP=127.0.0.1, SPARK_DAEMON_JAVA_OPTS from
//     DaemonJavaOpts (spark/jvm_archives.h: C1 only, serial GC, and the class-data sharing
//     archive of Spark's classpath when scripts/build_spark_cds.sh made one for this Spark and
//     Java; without one the daemons start as they are, only slower).
//   - SPARK_MASTER_OPTS: -Dspark.master.rest.enabled=false, -Dspark.port.maxRetries=0 and
//     -Dspark.deploy.appIdPattern=<app_id_prefix>-%s-%04d, so app ids are unique across
//     clusters (two fresh masters would both hand out app-<second>-0000); then master_conf.
//   - ready = GET /json/ answers status ALIVE and aliveworkers >= N, polled every
//     poll_interval until ready_timeout. A daemon that exits fails the start at once (after a
//     bind failure of the master: the next attempt). Errors carry the last lines of master.log
//     and the worker logs. A failed start stops what it started.
// Handle before effect: every daemon is spawned gated; `on_handle` (when set) receives the
// updated handle and must return once it is durable; only then does the daemon run (a start
// makes one on_handle call for the master and its workers together). So a restarted server
// always knows every daemon that may be running and can TearDown() the cluster from the
// handle alone (the daemons are then not its children).
// Event logging and spark.local.dir of drivers are the submitter's business (submit.h).
//
// Cancellation: Start and Scale block until ready or failed; to abandon one from another
// thread, request stop on the std::stop_token passed in (Stop() waits for them to return).
//
// Ownership: the cluster borrows the ProcessSupervisor and Clock, which must outlive it. The
// destructor stops the cluster if Stop() was not called.
// Thread safety: all methods may be called from any thread; Scale and Stop are serialized.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stop_token>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "executor/process.h"
#include "spark/jvm_archives.h"
#include "spark/master_client.h"

namespace sp::spark {

struct LocalClusterWorker {
  int index = 0;  // 1-based, never reused within a cluster
  executor::ProcessHandle process;
};

// What a restarted server needs to find or tear down a cluster. Serializable.
struct LocalClusterHandle {
  std::string name;
  std::string dir;
  std::string master_url;  // spark://127.0.0.1:PORT (empty until the master logged it)
  std::string ui_url;      // http://127.0.0.1:PORT (empty until known)
  std::string app_id_prefix;
  executor::ProcessHandle master;
  std::vector<LocalClusterWorker> workers;

  nlohmann::json ToJson() const;
  // InvalidArgument naming the bad field.
  static Result<LocalClusterHandle> FromJson(const nlohmann::json& j);
};

// Whether daemons use the class-data sharing archives of spark/jvm_archives.h.
enum class JvmArchives {
  kUseIfPresent,
  kOff,
};

struct LocalClusterSpec {
  std::string name;           // [A-Za-z0-9][A-Za-z0-9_.-]*, at most 64 chars
  std::string clusters_root;  // absolute; the cluster's dir is <clusters_root>/<name>
  std::string spark_home;
  int workers = 1;                   // >= 0
  int worker_cores = 2;              // cores each worker offers
  std::string worker_memory = "2g";  // memory each worker offers to executors (>= 1g: the
                                     // default executor asks for 1g)
  Millis ready_timeout = Millis(120000);
  Millis poll_interval = Millis(150);
  Millis stop_grace = Millis(10000);  // used by the destructor and failed starts
  // App ids become "<app_id_prefix>-YYYYMMDDHHMMSS-NNNN"; empty = "app-<name>".
  std::string app_id_prefix;
  // Extra environment for every daemon (e.g. JAVA_HOME, PYSPARK_PYTHON).
  std::map<std::string, std::string> env;
  // Extra -Dkey=value daemon settings (no whitespace in keys or values).
  std::map<std::string, std::string> master_conf;
  std::map<std::string, std::string> worker_conf;
  // Called with the updated handle before each new daemon runs and after daemons are removed;
  // returns once the handle is durable. An error aborts the operation (the daemon never runs).
  std::function<Status(const LocalClusterHandle&)> on_handle;
  // Where the daemons' class-data sharing archives are looked up; "" = DefaultJvmArchiveRoot()
  // (~/.cache/sparkplane/cds).
  std::string jvm_archive_root;
  JvmArchives jvm_archives = JvmArchives::kUseIfPresent;
  // Picks one free loopback TCP port (called twice per start attempt: the master's RPC port,
  // then its web UI port). Empty = the kernel's choice. Tests hand out a port they hold.
  std::function<Result<int>()> pick_port;
};

// What Stop does with the cluster dir after the daemons are gone.
enum class DirCleanup {
  kKeepLogs,   // remove work/ and local/, keep the dir with the daemon logs
  kRemoveAll,  // remove the whole cluster dir
};

class LocalCluster {
 public:
  // Starts the cluster and waits until it is ready (see the header comment). Errors:
  // InvalidArgument (spec), AlreadyExists (the dir exists), FailedPrecondition (Spark missing,
  // a daemon exited), DeadlineExceeded (not ready in time), Cancelled (`stop` requested).
  static Result<std::unique_ptr<LocalCluster>> Start(LocalClusterSpec spec,
                                                     executor::ProcessSupervisor& processes,
                                                     const Clock& clock, std::stop_token stop = {});

  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  LocalClusterHandle handle() const;
  std::string master_url() const;
  std::string ui_url() const;
  const std::string& dir() const { return dir_; }
  int worker_count() const;
  // Start() call to ready.
  Millis startup_time() const { return startup_time_; }

  // The master's current /json/.
  Result<MasterStatus> FetchStatus() const;

  // OK while every daemon of the cluster runs; FailedPrecondition naming the first that exited
  // (and how) otherwise. Cheap (no I/O): callers may poll it to notice a dead cluster.
  Status CheckDaemons() const;

  // Adds or removes workers (highest index first) and waits until the master counts exactly
  // `workers` alive ones. A failed scale-up stops the workers it added.
  Status Scale(int workers, std::stop_token stop = {});

  // SIGTERM to the workers, waits for them, then the master; SIGKILL after `grace`. Then
  // cleans the dir. Idempotent; an error means a daemon could not be confirmed gone.
  Status Stop(Millis grace = Millis(10000), DirCleanup cleanup = DirCleanup::kKeepLogs);

  // Tears down a cluster from its handle after a server restart: terminates the recorded
  // daemons that are still the same processes (pid + start time), then cleans the dir.
  static Status TearDown(const LocalClusterHandle& handle, Millis grace = Millis(10000),
                         DirCleanup cleanup = DirCleanup::kKeepLogs);

  // "<name>" is usable as a cluster name.
  static Status ValidateName(const std::string& name);

 private:
  struct ExitBook;
  enum class WorkerCount { kAtLeast, kAtMost };

  LocalCluster(LocalClusterSpec spec, executor::ProcessSupervisor& processes, const Clock& clock);

  struct Gated {
    std::string role;
    executor::ProcessHandle process;
  };

  // Methods named *Locked run with op_mu_ held (one start/scale/stop at a time).
  Status StartLocked(std::stop_token stop);
  // One start with freshly picked master ports: master and workers spawned together.
  Status StartAttemptLocked(Time deadline, std::stop_token stop);
  // After a port clash: stops the attempt's daemons, keeps the master's log aside.
  Status AbandonAttemptLocked(int attempt);
  // master.log says the master could not bind a port.
  bool MasterBindFailed() const;
  Result<std::vector<int>> PickPorts(int count) const;
  // Spawns a gated daemon and records it in the handle (worker_index 0 = the master).
  Result<executor::ProcessHandle> SpawnGated(const std::string& role, int worker_index,
                                             std::vector<std::string> argv,
                                             std::map<std::string, std::string> env);
  Result<executor::ProcessHandle> SpawnWorkerGated(int index);
  // Makes the handle durable through on_handle, then lets the gated daemons run (or kills
  // them when it fails).
  Status ReleaseGated(const std::vector<Gated>& gated);
  // `added` (workers started by this operation) may be updated: stuck ones are replaced.
  Status WaitUntilWorkers(int want, WorkerCount mode, Time deadline, std::stop_token stop,
                          std::vector<int>* added = nullptr);
  Status StopWorkerLocked(const LocalClusterWorker& worker, Millis grace);
  Status StopLocked(Millis grace, DirCleanup cleanup);
  Status NotifyHandle();
  std::string LogTails() const;
  Status WithLogs(const Status& s) const;

  const LocalClusterSpec spec_;
  executor::ProcessSupervisor& processes_;
  const Clock& clock_;
  const std::string dir_;
  std::shared_ptr<ExitBook> exits_;
  DaemonJvmArchives archives_;  // found at Start

  std::mutex op_mu_;       // held for a whole Start/Scale/Stop
  mutable std::mutex mu_;  // guards the fields below; held briefly, never during waits
  LocalClusterHandle handle_;
  int next_worker_index_ = 1;
  bool stopped_ = false;
  Millis startup_time_{0};
};

}  // namespace sp::spark
