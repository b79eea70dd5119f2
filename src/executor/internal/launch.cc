// posix_spawn of one child; see launch.h.
#include "executor/internal/launch.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

extern char** environ;

namespace sp::executor::internal {

namespace {

constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

// The directory of the running executable ("?" if /proc cannot say).
std::string SelfDirectory() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("?") : self.parent_path().string();
}

std::string ErrnoText(int err) {
  return std::strerror(err);
}

bool IsExecutableFile(const std::string& path, bool* exists) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    *exists = false;
    return false;
  }
  *exists = true;
  return S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

Result<std::string> ResolveProgram(const std::string& name, const std::string& path_var,
                                   const std::string& cwd) {
  if (name.empty()) return FailedPreconditionError("the program name is empty");
  bool exists = false;
  if (name.find('/') != std::string::npos) {
    std::string check = (name[0] != '/' && !cwd.empty()) ? cwd + "/" + name : name;
    if (IsExecutableFile(check, &exists)) return name;
    if (!exists) return FailedPreconditionError("program '" + name + "' does not exist");
    return FailedPreconditionError("program '" + name + "' is not executable");
  }
  std::string not_executable;
  size_t start = 0;
  while (start <= path_var.size()) {
    size_t end = path_var.find(':', start);
    if (end == std::string::npos) end = path_var.size();
    std::string dir = path_var.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (IsExecutableFile(candidate, &exists)) return candidate;
    if (exists && not_executable.empty()) not_executable = candidate;
    start = end + 1;
  }
  if (!not_executable.empty()) {
    return FailedPreconditionError("program '" + name + "' found at '" + not_executable +
                                   "' is not executable");
  }
  return FailedPreconditionError("program '" + name + "' not found in PATH (" + path_var + ")");
}

bool PassesAllowlist(std::string_view name, const std::vector<std::string>& names) {
  if (name.substr(0, 11) == "SPARKPLANE_") return false;
  for (const std::string& n : names) {
    if (!n.empty() && n.back() == '*') {
      if (name.substr(0, n.size() - 1) == std::string_view(n).substr(0, n.size() - 1)) return true;
    } else if (name == n) {
      return true;
    }
  }
  return false;
}

Result<LaunchPlan> PrepareLaunch(const std::vector<std::string>& argv,
                                 const std::map<std::string, std::string>& env,
                                 EnvInheritance inherit, const std::string& cwd) {
  auto inherits = [&](std::string_view name) {
    switch (inherit.mode) {
      case EnvInheritance::Mode::kNone:
        return false;
      case EnvInheritance::Mode::kAll:
        return true;
      case EnvInheritance::Mode::kAllowlist:
        return inherit.names != nullptr && PassesAllowlist(name, *inherit.names);
    }
    return false;
  };
  if (argv.empty()) return InvalidArgumentError("no program to run: argv is empty");
  if (!cwd.empty()) {
    struct stat st;
    if (::stat(cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return FailedPreconditionError("working directory '" + cwd + "' does not exist");
    }
  }
  std::string path_var;
  if (auto it = env.find("PATH"); it != env.end()) {
    path_var = it->second;
  } else if (const char* p = inherits("PATH") ? std::getenv("PATH") : nullptr; p != nullptr) {
    path_var = p;
  } else {
    path_var = kDefaultPath;
  }
  LaunchPlan plan;
  ASSIGN_OR_RETURN(plan.program, ResolveProgram(argv[0], path_var, cwd));
  plan.cwd = cwd;
  plan.arg_storage = argv;
  if (inherit.mode != EnvInheritance::Mode::kNone && environ != nullptr) {
    for (char** e = environ; *e != nullptr; ++e) {
      const char* eq = std::strchr(*e, '=');
      if (eq == nullptr) continue;
      std::string name(*e, eq - *e);
      if (env.count(name) != 0 || !inherits(name)) continue;
      plan.env_storage.emplace_back(*e);
    }
  }
  for (const auto& [key, value] : env) plan.env_storage.push_back(key + "=" + value);
  plan.argv.reserve(plan.arg_storage.size() + 1);
  for (std::string& a : plan.arg_storage) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  plan.envp.reserve(plan.env_storage.size() + 1);
  for (std::string& e : plan.env_storage) plan.envp.push_back(e.data());
  plan.envp.push_back(nullptr);
  return plan;
}

int MoveAboveStdio(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
  ::close(fd);
  return moved;
}

Result<UniqueFd> OpenOutputFile(const std::string& path) {
  constexpr int kFlags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
  if (path.empty()) {
    UniqueFd fd(MoveAboveStdio(::open("/dev/null", O_WRONLY | O_CLOEXEC)));
    if (!fd.valid()) return UnavailableError("cannot open /dev/null: " + ErrnoText(errno));
    return fd;
  }
  int fd = ::open(path.c_str(), kFlags, 0600);
  if (fd < 0 && errno == ENOENT) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    fd = ::open(path.c_str(), kFlags, 0600);
  }
  if (fd < 0) {
    return FailedPreconditionError("cannot open output file '" + path + "': " + ErrnoText(errno));
  }
  return UniqueFd(MoveAboveStdio(fd));
}

Result<pid_t> SpawnChild(const LaunchPlan& plan, const ChildFds& fds,
                         const std::string& supervisor) {
  const bool supervised = fds.gate_fd >= 0 || !plan.exit_record.empty();
  if (supervised && supervisor.empty()) {
    std::string tried = SelfDirectory();
#ifdef SP_SUPERVISOR_BUILD_PATH
    tried += " and " + std::string(SP_SUPERVISOR_BUILD_PATH);
#endif
    return FailedPreconditionError(std::string("cannot start '") + plan.program +
                                   "': " + kSupervisorName + " was not found (looked in " + tried +
                                   "); install it beside sparkplane");
  }
  std::vector<std::string> supervisor_args;
  std::vector<char*> argv;
  if (supervised) {
    supervisor_args = {supervisor};
    if (fds.gate_fd >= 0) supervisor_args.push_back("--gate");
    if (!plan.exit_record.empty()) {
      supervisor_args.push_back("--record");
      supervisor_args.push_back(plan.exit_record);
    }
    if (!plan.output.empty()) {
      supervisor_args.push_back("--output");
      supervisor_args.push_back(plan.output);
    }
    if (plan.announce_start) supervisor_args.push_back("--announce");
    if (plan.nice > 0) {
      supervisor_args.push_back("--nice");
      supervisor_args.push_back(std::to_string(plan.nice));
    }
    if (!plan.cwd.empty()) {
      supervisor_args.push_back("--cwd");
      supervisor_args.push_back(plan.cwd);
    }
    supervisor_args.push_back("--");
    supervisor_args.push_back(plan.program);
    for (std::string& a : supervisor_args) argv.push_back(a.data());
    for (char* a : plan.argv) argv.push_back(a);  // null-terminated already
  }

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  if (posix_spawn_file_actions_init(&actions) != 0 || posix_spawnattr_init(&attr) != 0) {
    return UnavailableError("cannot prepare to start a process");
  }
  // Handlers of the server do not exist in the child; ignored signals must not stay ignored.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  // A supervised child leads a process group in the server's session (a session of its own
  // would also be a scheduling autogroup of its own, as heavy as the whole server, which its
  // nice value could not lighten); its supervisor gives up the controlling terminal. Other
  // children start a session of their own.
  short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
  if (supervised) {
    posix_spawnattr_setpgroup(&attr, 0);
    flags |= POSIX_SPAWN_SETPGROUP;
  } else {
    flags |= POSIX_SPAWN_SETSID;
  }
  posix_spawnattr_setflags(&attr, flags);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds.stdout_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, fds.stderr_fd, 2);
  int first_closed = 3;
  if (fds.gate_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, fds.gate_fd, kSupervisorGateFd);
    first_closed = kSupervisorGateFd + 1;
  }
  // Descriptors of the server (other children's gates, sockets) never leak into a child.
  posix_spawn_file_actions_addclosefrom_np(&actions, first_closed);
  if (!supervised && !plan.cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, plan.cwd.c_str());
  }

  pid_t pid = 0;
  const std::string& path = supervised ? supervisor : plan.program;
  int rc = ::posix_spawn(&pid, path.c_str(), &actions, &attr,
                         supervised ? argv.data() : plan.argv.data(), plan.envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    LaunchFailure failure;
    failure.error = rc;
    // posix_spawn does not say which step failed: a working directory gone since PrepareLaunch
    // checked it is the one it can be besides the exec.
    struct stat st;
    if (!supervised && !plan.cwd.empty() &&
        (::stat(plan.cwd.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))) {
      failure.stage = LaunchFailure::kChdir;
    }
    return LaunchFailureStatus(path, plan.cwd, failure);
  }
  return pid;
}

std::string FindSupervisor() {
  std::string next_to_us = SelfDirectory() + "/" + kSupervisorName;
  if (::access(next_to_us.c_str(), X_OK) == 0) return next_to_us;
#ifdef SP_SUPERVISOR_BUILD_PATH
  if (::access(SP_SUPERVISOR_BUILD_PATH, X_OK) == 0) return SP_SUPERVISOR_BUILD_PATH;
#endif
  return "";
}

std::string DescribeLaunchFailure(const std::string& program, const std::string& cwd,
                                  const LaunchFailure& failure) {
  std::string what;
  switch (failure.stage) {
    case LaunchFailure::kChdir:
      what = "cannot change to working directory '" + cwd + "'";
      break;
    case LaunchFailure::kSetup:
      what = "cannot set up the process for '" + program + "'";
      break;
    default:
      what = "cannot execute '" + program + "'";
      break;
  }
  return what + ": " + ErrnoText(failure.error);
}

Status LaunchFailureStatus(const std::string& program, const std::string& cwd,
                           const LaunchFailure& failure) {
  std::string message = DescribeLaunchFailure(program, cwd, failure);
  if (failure.error == ENOMEM || failure.error == EAGAIN || failure.error == EMFILE ||
      failure.error == ENFILE) {
    return UnavailableError(message);
  }
  return FailedPreconditionError(message);
}

void SignalChildGroup(pid_t pid, int sig) {
  if (pid <= 0) return;
  if (::kill(-pid, sig) != 0 && errno == ESRCH) ::kill(pid, sig);
}

}  // namespace sp::executor::internal
