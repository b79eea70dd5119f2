// ProcessSupervisor: starts child processes, each leading its own process group, and tells
// the owner when they exit. Every child process of the server goes through it: task tries,
// Spark daemons, spark-submit drivers.
//
// No fork() of the caller: children start with posix_spawn; gated and recorded ones as the small
// `sparkplane-supervisor` (executor/supervisor_protocol.h), which waits at the gate, runs the
// program and records its end.
//
// Handle-before-start: a Spawn with `gated = true` starts a child that blocks before exec until
// Release(pid) is called. The caller records the handle (pid + kernel start time) durably in
// between; if the server dies first, the child sees its gate close and exits without running
// anything. So a recorded handle always exists before user code runs, and user code never runs
// without one.
//
// Exit callbacks run on the supervisor's reaper thread; keep them short (post to a loop). A
// callback may run before Spawn returns (a non-gated child that exits at once). Children still
// running when the supervisor is destroyed are killed and reaped without their callbacks.
// A gated child that cannot exec after Release exits with 127; the reason is appended to its
// output file.
// Only this class reaps children, and only its own (by pid), so other code's children are safe.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sp::executor {

struct SpawnSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'
  // Environment: these variables, plus the allowlisted part of the server's own environment
  // (ProcessSupervisor's `pass_env`) unless inherit_env is false. The server's secrets
  // (SPARKPLANE_* such as SPARKPLANE_SECRET_KEY) are never inherited.
  std::map<std::string, std::string> env;
  bool inherit_env = true;
  std::string cwd;          // empty = the server's cwd
  std::string output_path;  // stdout+stderr appended here; empty = /dev/null
  std::string stderr_path;  // when set, stderr goes here instead of output_path
  bool gated = false;       // see the header comment
  // When set, how the program ended is written to this file by its supervisor, which outlives
  // the server (see ReadExitRecord): a try that finishes while the server is down keeps its
  // result. The supervisor is the process the handle names; the program is its child, in the same
  // process group. A program it cannot execute is reported in the log with exit 127 (also when
  // not gated: Spawn itself then only reports a supervisor that cannot start).
  std::string exit_record_path;
  // Supervised children only: "[sparkplane] started process PID" is written to the output when
  // the program starts (after the gate), by the supervisor rather than the caller's thread.
  bool announce_start = false;
};

// Identifies a process across server restarts: a pid alone can be reused.
struct ProcessHandle {
  pid_t pid = 0;
  uint64_t start_ticks = 0;  // field 22 of /proc/PID/stat
  // Where the pid means something (ProcessSpace() of the process that made the handle); empty
  // in handles saved before it existed, which count as here.
  std::string space;

  nlohmann::json ToJson() const;
  static Result<ProcessHandle> FromJson(const nlohmann::json& j);
};

struct ExitInfo {
  int exit_code = 0;  // the process's exit status, or 128 + signal number (as shells report)
  std::optional<int> signal;
  // The program never ran: its start gate closed unopened (the server that spawned it stopped
  // between saving its handle and opening the gate). Recorded as "unstarted"; exit_code is then
  // kGateClosedExitCode.
  bool never_started = false;
};

// How a program spawned with an exit record ended (or that it never started:
// ExitInfo::never_started); nullopt while it runs, when it was killed together with its
// supervisor (SIGKILL), or when the file is missing or unreadable.
std::optional<ExitInfo> ReadExitRecord(const std::string& path);

// The host's boot and this process's pid namespace ("<boot id>/<namespace inode>"): two
// handles name the same process only in the same space. Another host, a restarted host and a
// restarted pod (a new pid namespace) are other spaces. Empty when /proc does not tell.
const std::string& ProcessSpace();

// True when `h` was made in this process's space (or names none).
bool IsHere(const ProcessHandle& h);

// kElsewhere: the handle names a process of another space, which only its files can tell about
// (executor/try_files.h).
enum class ProcessLiveness { kRunning, kGone, kNotOurs, kElsewhere };

// Checks whether the process a handle names still exists and is the same process (start time).
ProcessLiveness CheckProcess(const ProcessHandle& h);

// The handle of the calling process (start_ticks 0 if /proc cannot be read).
ProcessHandle CurrentProcess();

// Blocks until the process `h` names has ended (true), or `stop` is set (false; checked every
// 100 ms). For processes that are not our children, such as tries adopted after a restart: a
// pidfd reports the end at once, and a reused pid cannot pass for the process.
bool AwaitEnd(const ProcessHandle& h, const std::atomic<bool>& stop);

// Sends `sig` to the process group led by `pid` (our children are group leaders).
Status SignalGroup(pid_t pid, int sig);

// The server environment variables a child inherits by default: locale, paths, the toolchains
// Spark needs (JAVA_HOME, SPARK_HOME, ...) and proxies. "LC_*" matches by prefix.
const std::vector<std::string>& DefaultPassEnv();

class ProcessSupervisor {
 public:
  using ExitCallback = std::function<void(const ExitInfo&)>;

  // `pass_env`: names (or "PREFIX*") of server environment variables children inherit.
  // `nice` (0..19): how much nicer than the server supervised children (task tries, local Spark
  // daemons) run (the supervisor's --nice), so that work never starves the server's threads;
  // 0 keeps them equal.
  explicit ProcessSupervisor(std::vector<std::string> pass_env = DefaultPassEnv(), int nice = 0);
  ~ProcessSupervisor();  // kills (SIGKILL, group) children still running, joins the reaper
  ProcessSupervisor(const ProcessSupervisor&) = delete;
  ProcessSupervisor& operator=(const ProcessSupervisor&) = delete;

  // Starts a child. `on_exit` is called once, on the reaper thread, when it exits.
  // Errors: argv[0] not found or not executable (FailedPrecondition, names the program),
  // output file not writable, spawn failure (Unavailable), no sparkplane-supervisor for a gated
  // or recorded child (FailedPrecondition).
  Result<ProcessHandle> Spawn(const SpawnSpec& spec, ExitCallback on_exit);

  // Lets a gated child exec. NotFound if the pid is not a gated child of ours.
  Status Release(pid_t pid);

  // SIGTERM to the child's group now, SIGKILL to the group after `grace` if it still runs.
  void Terminate(pid_t pid, Millis grace);

  // Same for a process that is not our child (recovered from a handle after a restart).
  // Does nothing unless CheckProcess(h) is kRunning (a process elsewhere: StopTry in
  // executor/try_files.h). Blocks up to `grace` waiting for it to go, then SIGKILLs the group
  // (stragglers too) and waits up to 2 s more for the leader.
  static void TerminateForeign(const ProcessHandle& h, Millis grace);

  size_t RunningCount() const;

  // True while `h` names a child of ours that has not been reaped yet (pid and, when non-zero,
  // start_ticks match, in this process space). Lets a caller choose between Terminate and
  // TerminateForeign.
  bool IsChild(const ProcessHandle& h) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Runs a command to completion and captures its stdout+stderr (for short helper commands such
// as `java -version` or building a jar). Kills the group on timeout (DeadlineExceeded).
struct CommandOutput {
  int exit_code = 0;
  std::string output;
};
Result<CommandOutput> RunCommand(const std::vector<std::string>& argv, Millis timeout,
                                 const std::map<std::string, std::string>& env = {});

}  // namespace sp::executor
