// `sparkplane notebook start|list|stop`: JupyterLab on an on-demand local cluster through Spark
// Connect (notebook/notebook.h does the work; this file parses and prints).
//
//   notebook start NAME [--workers N] [--worker-cores N] [--worker-memory SIZE]
//       [--idle-timeout 1h|none] [--max-age 8h|none] [--ready-timeout 3m] [--root-dir DIR]
//   notebook list
//   notebook stop NAME [--timeout 90s]
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
  std::string ready_timeout = "3m";
  std::string root_dir;
};

int NotebookStart(const GlobalOptions& g, const NotebookStartArgs& a);
int NotebookList(const GlobalOptions& g);
int NotebookStop(const GlobalOptions& g, const std::string& name, const std::string& timeout);
int NotebookGuard(const std::vector<std::string>& args);

}  // namespace sp::cli
