// `sparkplane notebook start|list|stop`: JupyterLab on an on-demand local cluster through Spark
// Connect (notebook/notebook.h does the work; this file parses and prints).
//
//   notebook start NAME [--backend local|kubernetes] [--workers N] [--worker-cores N]
//       [--worker-memory SIZE] [--idle-timeout 1h|none] [--max-age 8h|none]
//       [--ready-timeout 3m] [--root-dir DIR] [--notebook-image IMAGE] [--node-port]
//   notebook list [--backend local|kubernetes]
//   notebook stop NAME [--backend local|kubernetes] [--timeout 90s]
//
// The backend is chosen as `cluster create` chooses it: --backend, else the configured
// default_cluster_backend. On Kubernetes (notebook/kubernetes_notebook.h) `start` returns once
// the notebook's pod is ready and prints how to reach JupyterLab (a port-forward, or the node
// port with --node-port) with its token; the notebook lives in the cluster until `stop`, its
// max age or its idle timeout. `list` without --backend shows the local notebooks, and the
// Kubernetes ones too when the configured default backend is kubernetes.
//
// `start` stays in the foreground, like `cluster create` with the local backend: it prints the
// JupyterLab URL with its token once Spark Connect and Jupyter answer, and tears everything
// down (Jupyter, then Connect, then the cluster) on Ctrl-C / SIGTERM, after the idle timeout,
// at the max age, or when Jupyter exits by itself. `stop` signals that process and waits until
// it is done; a notebook whose process died is torn down by `stop` itself (or by its guard).
// `list` shows running notebooks (URL without the token, cluster, age). `notebook guard` is
// internal: the detached watcher each notebook starts.
//
// Each function returns the process exit code and prints errors as "sparkplane: error: ...".
#pragma once

#include <string>
#include <vector>

#include "cli/commands.h"

namespace sp::cli {

struct NotebookStartArgs {
  std::string name;
  int workers = 1;
  int worker_cores = 0;
  std::string worker_memory;
  std::string idle_timeout = "1h";  // "none": never idle
  std::string max_age;              // "" : the configured cluster_max_age; "none"
  std::string ready_timeout;        // "" : 3m (local), 10m (kubernetes: image pulls)
  std::string root_dir;
  std::string backend;         // "" : the configured default_cluster_backend
  std::string notebook_image;  // kubernetes: "" : the config's notebook_image
  bool node_port = false;      // kubernetes: expose JupyterLab on a node port
};

int NotebookStart(const GlobalOptions& g, const NotebookStartArgs& a);
int NotebookList(const GlobalOptions& g, const std::string& backend);
int NotebookStop(const GlobalOptions& g, const std::string& name, const std::string& timeout,
                 const std::string& backend);
int NotebookGuard(const std::vector<std::string>& args);

}  // namespace sp::cli
