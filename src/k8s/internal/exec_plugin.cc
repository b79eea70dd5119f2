// Exec credential plugin runner; see exec_plugin.h.
#include "k8s/internal/exec_plugin.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

extern char** environ;

namespace sp::k8s::internal {

namespace {

constexpr size_t kMaxOutput = 1 << 20;

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Appends what `fd` holds now (up to kMaxOutput); false at EOF or on error.
bool Drain(int fd, std::string* out) {
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      if (out->size() < kMaxOutput) out->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

std::string Excerpt(const std::string& text) {
  std::string out = text.substr(0, 500);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  if (text.size() > 500) out += "...";
  return out;
}

int WaitChild(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

Result<std::string> RunExecPlugin(const ExecPluginConfig& plugin, const std::string& exec_info,
                                  Millis timeout) {
  const std::string name = "exec plugin \"" + plugin.command + "\"";
  const std::string hint = plugin.install_hint.empty() ? "" : " (" + plugin.install_hint + ")";

  // Environment: inherited, then the plugin's env, then KUBERNETES_EXEC_INFO.
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [k, v] : plugin.env) env[k] = v;
  env["KUBERNETES_EXEC_INFO"] = exec_info;
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  std::vector<std::string> args = {plugin.command};
  args.insert(args.end(), plugin.args.begin(), plugin.args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // Only our read ends are non-blocking; the child gets ordinary blocking stdout/stderr.
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return FailedPreconditionError(name + ": pipe: " + std::strerror(errno));
  }
  Fd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return FailedPreconditionError(name + ": pipe: " + std::strerror(errno));
  }
  Fd err_read(err_pipe[0]), err_write(err_pipe[1]);
  ::fcntl(out_read.get(), F_SETFL, O_NONBLOCK);
  ::fcntl(err_read.get(), F_SETFL, O_NONBLOCK);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
  // The server ignores SIGPIPE; the plugin starts with it at its default, as from a shell.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  bool search_path = plugin.command.find('/') == std::string::npos;
  int rc = search_path ? ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data())
                       : ::posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  out_write.Reset();
  err_write.Reset();
  if (rc != 0) {
    if (rc == ENOENT) {
      return FailedPreconditionError(name + " was not found" + (search_path ? " on PATH" : "") +
                                     hint);
    }
    return FailedPreconditionError(name + " could not be started: " + std::strerror(rc) + hint);
  }

  Fd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (timer.get() >= 0) {
    itimerspec spec{};
    spec.it_value.tv_sec = timeout.count() / 1000;
    spec.it_value.tv_nsec = (timeout.count() % 1000) * 1'000'000;
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
    ::timerfd_settime(timer.get(), 0, &spec, nullptr);
  }
  std::string out, err;
  bool out_open = true, err_open = true, timed_out = false;
  while ((out_open || err_open) && !timed_out) {
    pollfd fds[3] = {{out_open ? out_read.get() : -1, POLLIN, 0},
                     {err_open ? err_read.get() : -1, POLLIN, 0},
                     {timer.get(), POLLIN, 0}};
    int n = ::poll(fds, 3, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[0].revents != 0) out_open = Drain(out_read.get(), &out);
    if (fds[1].revents != 0) err_open = Drain(err_read.get(), &err);
    if (fds[2].revents != 0) timed_out = true;
  }
  if (timed_out) {
    ::kill(pid, SIGKILL);
    WaitChild(pid);
    return FailedPreconditionError(name + " did not finish within " +
                                   std::to_string(timeout.count()) + " ms");
  }
  int status = WaitChild(pid);
  if (WIFSIGNALED(status)) {
    return FailedPreconditionError(name + " was killed by signal " +
                                   std::to_string(WTERMSIG(status)));
  }
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code != 0) {
    std::string message = name + " failed with exit code " + std::to_string(code);
    if (code == 127) message += hint;
    if (!err.empty()) message += ": " + Excerpt(err);
    return FailedPreconditionError(message);
  }
  return out;
}

}  // namespace sp::k8s::internal
