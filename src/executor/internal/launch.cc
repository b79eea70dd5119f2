// Fork/exec of one child; see launch.h. Everything between fork and exec is async-signal-safe.
#include "executor/internal/launch.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

extern char** environ;

namespace sp::executor::internal {

namespace {

constexpr const char* kDefaultPath = "/usr/local/bin:/usr/bin:/bin";

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

// Closes every descriptor >= 3 except `keep_a` and `keep_b` (either may be -1).
void CloseOtherFds(int keep_a, int keep_b) {
  if (keep_a > keep_b) std::swap(keep_a, keep_b);
  unsigned int next = 3;
  for (int keep : {keep_a, keep_b}) {
    if (keep < 3) continue;
    if (static_cast<unsigned int>(keep) > next) ::close_range(next, keep - 1, 0);
    next = keep + 1;
  }
  ::close_range(next, ~0U, 0);
}

[[noreturn]] void ReportAndExit(int error_pipe, int stage, int err) {
  LaunchFailure failure;
  failure.stage = stage;
  failure.error = err;
  // A short write to a pipe is atomic; if the parent is gone there is nobody to tell.
  ssize_t ignored = ::write(error_pipe, &failure, sizeof(failure));
  (void)ignored;
  ::_exit(kLaunchFailedExitCode);
}

// Writes "exit N\n" or "signal N\n" (async-signal-safe: no allocation, no stdio).
void WriteExitRecord(const LaunchPlan& plan, int status) {
  char buf[32];
  const char* word = WIFSIGNALED(status) ? "signal " : "exit ";
  unsigned value = WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status);
  size_t n = 0;
  for (const char* w = word; *w != '\0'; ++w) buf[n++] = *w;
  char digits[12];
  size_t d = 0;
  do {
    digits[d++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (d > 0) buf[n++] = digits[--d];
  buf[n++] = '\n';
  int fd = ::open(plan.exit_record_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  bool written = ::write(fd, buf, n) == static_cast<ssize_t>(n);
  written = ::fsync(fd) == 0 && written;
  ::close(fd);
  if (written) ::rename(plan.exit_record_tmp.c_str(), plan.exit_record.c_str());
}

// The watcher (see LaunchPlan::exit_record): the program runs in a grandchild; this process
// records its end and then ends the same way, so the supervisor sees what it would have seen.
[[noreturn]] void RunWatched(const LaunchPlan& plan, int error_pipe) {
  pid_t pid = ::fork();
  if (pid < 0) ReportAndExit(error_pipe, LaunchFailure::kSetup, errno);
  if (pid == 0) {
    ::execve(plan.program.c_str(), plan.argv.data(), plan.envp.data());
    ReportAndExit(error_pipe, LaunchFailure::kExec, errno);
  }
  ::close(error_pipe);  // EOF for the parent once the grandchild exec'd
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) ::_exit(kLaunchFailedExitCode);
  }
  WriteExitRecord(plan, status);
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    struct rlimit no_core = {0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);  // the program's core (if any) was dumped already
    ::signal(sig, SIG_DFL);
    ::kill(::getpid(), sig);
    ::_exit(128 + sig);
  }
  ::_exit(WEXITSTATUS(status));
}

// Runs in the forked child: only async-signal-safe calls from here to execve.
[[noreturn]] void RunChild(const LaunchPlan& plan, const ChildFds& fds, int null_fd,
                           int error_pipe) {
  // Handlers inherited from the server must not run in the child; ignored signals must not stay
  // ignored for the program. Reset them before unblocking (the parent blocked all around fork).
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    ::sigaction(sig, &dfl, nullptr);  // fails harmlessly for signals glibc reserves
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  if (::setsid() < 0) ReportAndExit(error_pipe, LaunchFailure::kSetup, errno);
  if (::dup2(null_fd, 0) < 0 || ::dup2(fds.stdout_fd, 1) < 0 || ::dup2(fds.stderr_fd, 2) < 0) {
    ReportAndExit(error_pipe, LaunchFailure::kSetup, errno);
  }
  // Descriptors of the server (including other children's gates) must not leak into this one.
  CloseOtherFds(fds.gate_fd, error_pipe);

  if (fds.gate_fd >= 0) {
    char byte = 0;
    ssize_t n;
    do {
      n = ::read(fds.gate_fd, &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) ::_exit(kGateClosedExitCode);
    ::close(fds.gate_fd);
  }
  if (!plan.cwd.empty() && ::chdir(plan.cwd.c_str()) != 0) {
    ReportAndExit(error_pipe, LaunchFailure::kChdir, errno);
  }
  if (!plan.exit_record.empty()) RunWatched(plan, error_pipe);
  ::execve(plan.program.c_str(), plan.argv.data(), plan.envp.data());
  ReportAndExit(error_pipe, LaunchFailure::kExec, errno);
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

Result<ForkedChild> ForkChild(const LaunchPlan& plan, const ChildFds& fds) {
  UniqueFd null_fd(MoveAboveStdio(::open("/dev/null", O_RDONLY | O_CLOEXEC)));
  if (!null_fd.valid()) return UnavailableError("cannot open /dev/null: " + ErrnoText(errno));
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return UnavailableError("cannot create a pipe: " + ErrnoText(errno));
  }
  UniqueFd read_end(MoveAboveStdio(pipe_fds[0]));
  UniqueFd write_end(MoveAboveStdio(pipe_fds[1]));
  if (!read_end.valid() || !write_end.valid()) {
    return UnavailableError("cannot create a pipe: " + ErrnoText(errno));
  }

  // Block all signals so no server handler runs in the child before it resets them.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = ::fork();
  if (pid == 0) RunChild(plan, fds, null_fd.get(), write_end.get());
  int fork_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return UnavailableError("cannot fork: " + ErrnoText(fork_errno));
  ForkedChild child;
  child.pid = pid;
  child.error_pipe = std::move(read_end);
  return child;
}

std::optional<LaunchFailure> WaitForExec(int error_pipe) {
  LaunchFailure failure;
  size_t got = 0;
  auto* bytes = reinterpret_cast<char*>(&failure);
  while (got < sizeof(failure)) {
    ssize_t n = ::read(error_pipe, bytes + got, sizeof(failure) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got == sizeof(failure)) return failure;
  return std::nullopt;
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

void AppendToFile(const std::string& path, const std::string& text) {
  if (path.empty()) return;
  Result<UniqueFd> fd = OpenOutputFile(path);
  if (!fd.ok()) return;
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd->get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

void SignalChildGroup(pid_t pid, int sig) {
  if (pid <= 0) return;
  if (::kill(-pid, sig) != 0 && errno == ESRCH) ::kill(pid, sig);
}

}  // namespace sp::executor::internal
