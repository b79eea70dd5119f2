// NotebookState: what a running notebook is made of (its cluster, the Spark Connect server and
// JupyterLab with their ports, tokens and processes, its owner and lifetime), kept in
// <data_dir>/notebooks/<name>/state.json so that `notebook list|stop` and the notebook's guard
// (another process) can find it.
//
// Files: the notebook dir is 0700 and state.json 0600 (it holds both tokens), written
// atomically (rename) by the owning process at each change. The file exists from before the
// first process starts until everything it names is stopped; its absence means "nothing runs".
// Functions here are thread-compatible (no shared state).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "executor/process.h"

namespace sp::notebook {

// 1-40 of [a-z0-9-], starting and ending with a letter or digit (it becomes part of a cluster
// name and, later, of Kubernetes object names). InvalidArgument naming the rule otherwise.
Status ValidateNotebookName(const std::string& name);

// Where a notebook's files live, from the data dir and its name.
struct NotebookPaths {
  std::string dir;          // <data>/notebooks/<name> (0700)
  std::string state_file;   // dir/state.json (0600)
  std::string runtime_dir;  // dir/runtime: Jupyter's runtime dir (0700: its files hold tokens)
  std::string jupyter_dir;  // dir/jupyter: JUPYTER_CONFIG_DIR, JUPYTER_DATA_DIR, IPYTHONDIR
  std::string spark_dir;    // dir/spark: the Connect driver's java.io.tmpdir and spark.local.dir
  std::string files_dir;    // dir/files: the default root of the notebooks (kept after stop)
  std::string logs_dir;     // dir/logs: connect.log, jupyter.log, guard.log (kept)

  static NotebookPaths For(const std::string& data_dir, const std::string& name);
  static std::string Root(const std::string& data_dir);  // <data>/notebooks
};

struct NotebookState {
  std::string name;
  std::string phase;  // "starting", "ready", "stopping"
  std::string cluster;
  std::string master_url;
  std::string root_dir;
  std::string marker;  // SPARKPLANE_NOTEBOOK value every process of the notebook carries
  int jupyter_port = 0;
  int connect_port = 0;
  std::string jupyter_token;
  std::string connect_token;
  executor::ProcessHandle owner;
  std::optional<executor::ProcessHandle> jupyter;
  std::optional<executor::ProcessHandle> connect;
  Time created{};
  std::optional<Time> ready_at;
  Millis idle_timeout{0};  // 0: none
  std::optional<Time> deadline;

  // http://127.0.0.1:PORT/lab, without the token.
  std::string JupyterUrl() const;
  // The same with ?token=...: what the user opens.
  std::string JupyterUrlWithToken() const;
  // sc://localhost:PORT (`localhost`: the Python client sends a token without TLS only then).
  std::string SparkRemote() const;

  nlohmann::json ToJson() const;
  static Result<NotebookState> FromJson(const nlohmann::json& j);
};

// Writes state.json (0600) atomically.
Status WriteState(const std::string& path, const NotebookState& state);
// NotFound when there is no state file; FailedPrecondition when it cannot be parsed.
Result<NotebookState> ReadState(const std::string& path);
// Every notebook with a state file under <data>/notebooks, by name.
std::vector<NotebookState> ListStates(const std::string& data_dir);

// Creates the notebook's dirs (the notebook dir and the runtime dir 0700).
Status CreateNotebookDirs(const NotebookPaths& paths);

}  // namespace sp::notebook
