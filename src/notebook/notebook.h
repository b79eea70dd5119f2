// Notebook: an interactive notebook on an on-demand cluster, owned by the process that started
// it (`sparkplane notebook start`): a local cluster made by the spark_cluster task type itself
// (an ad-hoc try, as `cluster create` makes one, so names, records, lifetimes and the
// cluster's guard are the same), a Spark Connect server on it and JupyterLab, whose kernels
// reach Spark through SPARK_REMOTE (notebook_processes.h).
//
// Flow: Start() writes the state file, starts the notebook guard, starts Jupyter at once (it
// does not need Spark to start) and creates the cluster meanwhile, then starts Connect, and
// returns once Connect's port accepts and Jupyter's /api/status answers 200. Run() blocks
// until the caller's stop signal, Jupyter's exit (its own idle shutdown), the owner's idle
// test (/api/status and /api/kernels, which do not count as activity), the max age, or the
// Connect server's exit. Stop() tears down in the order that leaves no client hanging:
// Jupyter (and its kernels), then Connect, then the cluster; then the state file goes.
//
// Nothing outlives a kill -9 of the owner: the notebook guard (RunNotebookGuard, a detached
// process like the cluster's guard, clusters/lifetime.h) watches the owner (pid + start time)
// and the state file; once the owner is gone while the file is there, it tears the notebook
// down from the file (TearDown). The cluster's own guard is the second line for the cluster.
//
// Thread safety: a Notebook is used by one thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "notebook/notebook_state.h"
#include "operators/registry.h"
#include "operators/task_type.h"

namespace sp::notebook {

struct NotebookRequest {
  std::string name;
  int workers = 1;
  int worker_cores = 0;              // 0: the cluster's default
  std::string worker_memory;         // "" : the cluster's default
  Millis idle_timeout{3600 * 1000};  // 0: none
  std::string max_age;               // "" : the configured cluster_max_age; "none"
  Millis max_age_ms{0};              // the same parsed (0: none); the owner enforces it too
  Millis ready_timeout{180 * 1000};
  std::string root_dir;  // "" : <notebook dir>/files
};

// What notebooks run with, from the configuration.
struct NotebookHost {
  std::string data_dir;
  std::string spark_home;
  std::string python;  // the venv's python with jupyterlab and pyspark[connect]
  // The command that runs the notebook guard (e.g. {self, "notebook", "guard"}); empty: none.
  std::vector<std::string> guard_command;
  // The command that deletes a cluster by name, appended (e.g. {self, "--data-dir", D,
  // "cluster", "delete"}); the guard runs it after stopping the servers.
  std::vector<std::string> cluster_delete_command;
  bool allow_root = false;  // pass --allow-root to Jupyter (we run as root)
};

// How a notebook's Run ended.
enum class EndReason { kStopRequested, kJupyterExited, kIdle, kMaxAge, kConnectExited };
std::string Describe(EndReason r);

class Notebook {
 public:
  // `services` and `registry` must outlive the notebook; `progress` gets progress lines.
  Notebook(const operators::Services* services, operators::TaskTypeRegistry* registry,
           NotebookHost host, std::function<void(const std::string&)> progress);
  ~Notebook();  // Stop() when started and not stopped
  Notebook(const Notebook&) = delete;
  Notebook& operator=(const Notebook&) = delete;

  // `wait_stop(ms)` waits up to ms for the caller's stop request (Ctrl-C), true if one came.
  // AlreadyExists when a notebook of that name runs; on any error, what was started is stopped.
  Result<NotebookState> Start(const NotebookRequest& request,
                              const std::function<bool(Millis)>& wait_stop);
  EndReason Run(const std::function<bool(Millis)>& wait_stop);
  Status Stop();

  const NotebookState& state() const { return state_; }

 private:
  struct Children;
  Result<nlohmann::json> RunClusterTry(nlohmann::json fields,
                                       const std::function<bool(Millis)>* wait_stop);
  Status SaveState();

  const operators::Services* services_;
  operators::TaskTypeRegistry* registry_;
  NotebookHost host_;
  std::function<void(const std::string&)> progress_;
  NotebookPaths paths_;
  NotebookState state_;
  std::shared_ptr<Children> children_;
  bool cluster_created_ = false;
  bool started_ = false;  // the state file exists
};

// Tears a notebook down from its state file, from any process (`notebook stop` of a notebook
// whose owner is gone, the guard): Jupyter, the marked processes (kernels), Connect, the
// cluster (`cluster_delete_command` + name, when given), then the state file. Idempotent.
Status TearDown(const NotebookState& state, const NotebookPaths& paths,
                const std::vector<std::string>& cluster_delete_command);

// The notebook guard (`notebook guard --state-file F --owner-pid P --owner-start S
// [--cluster-delete ARG...]`), after it detached: returns once the state file is gone (a normal
// stop) or after it tore the notebook down because its owner is gone.
struct NotebookGuardOptions {
  std::string state_file;
  executor::ProcessHandle owner;
  std::vector<std::string> cluster_delete_command;
  Millis poll{500};
};
std::vector<std::string> NotebookGuardArgs(const NotebookGuardOptions& options);
Result<NotebookGuardOptions> ParseNotebookGuardArgs(const std::vector<std::string>& args);
Result<std::string> RunNotebookGuard(const NotebookGuardOptions& options);

}  // namespace sp::notebook
