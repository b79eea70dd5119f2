// Launching one child process: everything that can fail for a user-visible reason (program not
// found, output file not writable, bad cwd) is checked and prepared before fork, so the child
// only makes async-signal-safe system calls between fork and exec.
//
// The child: resets signal dispositions and unblocks signals, starts its own session (so it leads
// a new process group), points stdin at /dev/null and stdout/stderr at the given fds, closes
// every other descriptor, optionally waits on a gate, changes directory and execs. When a step
// fails it writes a LaunchFailure to the error pipe and exits with 127. With an exit record it
// forks once more instead: the program runs in the grandchild (same process group) while the
// child waits and records how it ended, so the status survives the server.
//
// Thread safety: stateless functions; safe to call from any thread.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "executor/internal/unique_fd.h"

namespace sp::executor::internal {

// Exit status of a gated child whose gate closed without a release (the server went away).
inline constexpr int kGateClosedExitCode = 125;
// Exit status of a child that could not exec (as shells report it).
inline constexpr int kLaunchFailedExitCode = 127;

// The child's argv and environment as char* arrays, built before fork.
struct LaunchPlan {
  std::string program;  // path handed to execve (resolved through PATH)
  std::string cwd;      // empty = inherit
  // When set, the child stays as a watcher: it runs the program as its own child, waits for
  // it, and writes its exit status here (through exit_record_tmp and a rename) before exiting
  // the same way. See ReadExitRecord in executor/process.h.
  std::string exit_record;
  std::string exit_record_tmp;
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
  int gate_fd = -1;  // when >= 0, the child reads one byte from it before exec; EOF -> exit 125
};

struct LaunchFailure {
  enum Stage : int { kSetup = 1, kChdir = 2, kExec = 3 };
  int stage = kExec;
  int error = 0;  // errno
};

struct ForkedChild {
  pid_t pid = 0;
  UniqueFd error_pipe;  // read end: EOF once the child exec'd, or a LaunchFailure
};

// Forks the child described by `plan`. Unavailable when fork fails.
Result<ForkedChild> ForkChild(const LaunchPlan& plan, const ChildFds& fds);

// Blocks until the child execs (nullopt) or reports a failure.
std::optional<LaunchFailure> WaitForExec(int error_pipe);

// "cannot execute '/bin/x': Permission denied" and the like.
std::string DescribeLaunchFailure(const std::string& program, const std::string& cwd,
                                  const LaunchFailure& failure);

// Status for a launch failure reported before Spawn returned.
Status LaunchFailureStatus(const std::string& program, const std::string& cwd,
                           const LaunchFailure& failure);

// Appends `text` to `path` (creating it). Best effort: errors are ignored.
void AppendToFile(const std::string& path, const std::string& text);

// Sends `sig` to the group led by our child `pid`; if the group does not exist yet (the child
// has not reached setsid), to the child itself.
void SignalChildGroup(pid_t pid, int sig);

}  // namespace sp::executor::internal
