// The two servers of a notebook and the small helpers around them: the Spark Connect server
// (spark-submit of SparkConnectServer against the cluster's master) and JupyterLab, each as an
// argv plus the environment it needs, readiness probes, Jupyter's idle test, and the sweep that
// stops every process that carries the notebook's marker.
//
// Security (measured, ../shared/reference/notebook-facts.md): both listen on 127.0.0.1 only;
// tokens travel in the environment, never in argv (`ps` shows argv); kernels reach Connect
// through SPARK_REMOTE=sc://localhost:PORT (`localhost`, or the client tries TLS and hangs) and
// SPARK_CONNECT_AUTHENTICATE_TOKEN. The Connect driver gets its own java.io.tmpdir and
// spark.local.dir (else it leaves /tmp/spark_connect_model_cache behind); Jupyter gets its own
// config, data, runtime (0700) and IPython dirs.
//
// The marker: every process of a notebook carries SPARKPLANE_NOTEBOOK=<marker> in its
// environment, and kernels inherit it from Jupyter, so SweepMarked finds what is left of a
// notebook (kernels run in sessions of their own, out of reach of a process-group signal).
// Pure functions, except the probes and the sweep (which read /proc and the network).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "notebook/notebook_state.h"

namespace sp::notebook {

inline constexpr char kMarkerEnv[] = "SPARKPLANE_NOTEBOOK";
// The Connect server carries a marker of its own, so that sweeping Jupyter's kernels leaves it
// running until they are gone.
inline std::string ConnectMarker(const std::string& marker) {
  return marker + "-connect";
}

struct LaunchSpec {
  std::vector<std::string> argv;
  std::map<std::string, std::string> env;
};

// The Spark Connect server of `state` (master_url, connect_port, connect_token, marker).
// `event_log_dir`: where the driver writes its event log ("" : none).
LaunchSpec ConnectServerSpec(const std::string& spark_home, const NotebookState& state,
                             const NotebookPaths& paths, const std::string& event_log_dir);

// JupyterLab for `state` (jupyter_port, jupyter_token, root_dir, the Connect port and token for
// its kernels, idle_timeout for kernel culling and the server's own shutdown).
// `allow_root`: pass --allow-root (Jupyter refuses to start as root without it).
LaunchSpec JupyterSpec(const std::string& python, const NotebookState& state,
                       const NotebookPaths& paths, bool allow_root);

// A random token: 32 bytes from the kernel's generator, hex.
Result<std::string> RandomToken();
// A TCP port on 127.0.0.1 that was free a moment ago.
Result<int> PickFreePort();
// True when something accepts connections on 127.0.0.1:port.
bool PortAccepts(int port);

// GET /api/status (which, unlike other calls, does not count as activity); OK when 200.
Result<nlohmann::json> JupyterStatus(int port, const std::string& token);
// GET /api/kernels?no_track_activity=1.
Result<nlohmann::json> JupyterKernels(int port, const std::string& token);

// Whether Jupyter has been idle for `idle_timeout`: no kernel is busy and the newest activity
// (the server's last_activity and each kernel's) is that old. An unreadable answer is not idle.
bool JupyterIdle(const nlohmann::json& status, const nlohmann::json& kernels, Time now,
                 Millis idle_timeout);

// Pids of the processes (of this user) whose environment has SPARKPLANE_NOTEBOOK=<marker>.
std::vector<int> MarkedProcesses(const std::string& marker);
// SIGTERM to every marked process, SIGKILL to those left after `grace`; true when none is left.
bool SweepMarked(const std::string& marker, Millis grace);

}  // namespace sp::notebook
