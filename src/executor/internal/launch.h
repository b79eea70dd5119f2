// Launching one child process with posix_spawn (the server is never fork()ed: its size and its
// threads do not matter). Everything that can fail for a user-visible reason (program not found,
// output file not writable, bad cwd) is checked before. The child leads a new process group (a
// supervised one in the server's session, others in a session of their own) with default signal
// dispositions and an empty signal mask, stdin on /dev/null, stdout/stderr on the given fds and no
// other descriptor of the server. A gated or recorded child is started as `sparkplane-supervisor`
// (executor/supervisor_protocol.h), which waits at the gate and/or records the program's end; other
// children are the program itself.
//
// Thread safety: stateless functions; safe to call from any thread.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "executor/internal/unique_fd.h"
#include "executor/supervisor_protocol.h"

namespace sp::executor::internal {

// The child's argv and environment as char* arrays, built before fork.
struct LaunchPlan {
  std::string program;  // path handed to execve (resolved through PATH)
  std::string cwd;      // empty = inherit
  // When set, the supervisor runs the program as its child and writes how it ended here (see
  // ReadExitRecord in executor/process.h). Absolute.
  std::string exit_record;
  // When set, the supervisor opens this file (absolute) as the program's stdout and stderr.
  std::string output;
  bool announce_start = false;  // the supervisor's --announce
  int nice = 0;                 // the supervisor's --nice when > 0
  std::vector<std::string> arg_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;  // points into arg_storage; null-terminated
  std::vector<char*> envp;  // points into env_storage; null-terminated

  LaunchPlan() = default;
  LaunchPlan(const LaunchPlan&) = delete;  // argv/envp point into the storage
  LaunchPlan& operator=(const LaunchPlan&) = delete;
  LaunchPlan(LaunchPlan&&) = default;  // moving vectors keeps element addresses
  LaunchPlan& operator=(LaunchPlan&&) = default;
};

// Resolves argv[0] like execvp: names with a '/' are used as given (relative to `cwd` when set),
// others are searched in `path_var`. FailedPrecondition when missing or not executable.
Result<std::string> ResolveProgram(const std::string& name, const std::string& path_var,
                                   const std::string& cwd);

// Which variables of the server's environment a child inherits: none, all (helper commands of
// the server itself) or the names in `names` ("PREFIX*" matches by prefix). SPARKPLANE_* never
// passes an allowlist.
struct EnvInheritance {
  enum class Mode { kNone, kAll, kAllowlist } mode = Mode::kNone;
  const std::vector<std::string>* names = nullptr;  // kAllowlist
};
bool PassesAllowlist(std::string_view name, const std::vector<std::string>& names);

// Builds the plan: resolves the program, merges the environment, checks the working directory.
Result<LaunchPlan> PrepareLaunch(const std::vector<std::string>& argv,
                                 const std::map<std::string, std::string>& env,
                                 EnvInheritance inherit, const std::string& cwd);

// Opens `path` for appending (O_APPEND|O_CREAT, 0600: logs may hold what a task printed), creating
// parent directories; an empty path opens /dev/null. The fd is close-on-exec and not one of 0,
// 1, 2.
Result<UniqueFd> OpenOutputFile(const std::string& path);

// Returns `fd` moved (close-on-exec) above the standard descriptors if it is 0, 1 or 2, so the
// child's dup2 onto 0..2 cannot clobber it. Closes the original in that case.
int MoveAboveStdio(int fd);

// Descriptors the child receives; all must be >= 3 (see MoveAboveStdio).
struct ChildFds {
  int stdout_fd = -1;
  int stderr_fd = -1;
  int gate_fd = -1;  // when >= 0, the supervisor reads one byte from it first; EOF -> exit 125
};

struct LaunchFailure {
  enum Stage : int { kSetup = 1, kChdir = 2, kExec = 3 };
  int stage = kExec;
  int error = 0;  // errno
};

// Starts `plan`: the program itself, or `supervisor` running it when the plan has an exit
// record or `fds.gate_fd` is set (then `supervisor` must name the executable). Returns the pid;
// a program or supervisor that cannot be executed is reported here (posix_spawn's error).
Result<pid_t> SpawnChild(const LaunchPlan& plan, const ChildFds& fds,
                         const std::string& supervisor);

// Where `sparkplane-supervisor` is: next to the running executable, else the build tree's copy
// (compiled in, for test and benchmark binaries). Empty when neither exists.
std::string FindSupervisor();

// "cannot execute '/bin/x': Permission denied" and the like.
std::string DescribeLaunchFailure(const std::string& program, const std::string& cwd,
                                  const LaunchFailure& failure);

// Status for a launch failure reported before Spawn returned.
Status LaunchFailureStatus(const std::string& program, const std::string& cwd,
                           const LaunchFailure& failure);

// Sends `sig` to the group led by our child `pid`; if the group does not exist yet (the child
// has not reached setpgid/setsid), to the child itself.
void SignalChildGroup(pid_t pid, int sig);

}  // namespace sp::executor::internal
