// RunCommand: run a short helper command to completion, capturing its output; see process.h.
//
// Waits with poll() on the output pipe, a pidfd (the command's exit) and a timerfd (the timeout),
// so no clock is read and nothing sleeps.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "executor/internal/launch.h"
#include "executor/internal/pidfd.h"
#include "executor/internal/unique_fd.h"
#include "executor/process.h"

namespace sp::executor {

using internal::UniqueFd;

namespace {

// Reads what `fd` (non-blocking) holds now; false at EOF or on error.
bool DrainInto(int fd, std::string* out) {
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
}

ExitInfo WaitExit(int pidfd) {
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  int rc;
  do {
    rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED);
  } while (rc != 0 && errno == EINTR);
  ExitInfo exit;
  if (rc != 0) {
    exit.exit_code = -1;
  } else if (info.si_code == CLD_EXITED) {
    exit.exit_code = info.si_status;
  } else {
    exit.signal = info.si_status;
    exit.exit_code = 128 + info.si_status;
  }
  return exit;
}

std::string Tail(const std::string& s, size_t n) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

}  // namespace

Result<CommandOutput> RunCommand(const std::vector<std::string>& argv, Millis timeout,
                                 const std::map<std::string, std::string>& env) {
  ASSIGN_OR_RETURN(internal::LaunchPlan plan,
                   internal::PrepareLaunch(
                       argv, env, {internal::EnvInheritance::Mode::kAll, nullptr}, /*cwd=*/""));
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return UnavailableError(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  UniqueFd read_end(internal::MoveAboveStdio(pipe_fds[0]));
  UniqueFd write_end(internal::MoveAboveStdio(pipe_fds[1]));
  if (!read_end.valid() || !write_end.valid()) {
    return UnavailableError(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  internal::ChildFds fds;
  fds.stdout_fd = write_end.get();
  fds.stderr_fd = write_end.get();
  ASSIGN_OR_RETURN(const pid_t pid, internal::SpawnChild(plan, fds, /*supervisor=*/""));
  write_end.Reset();

  UniqueFd pidfd(internal::PidfdOpen(pid));
  UniqueFd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!pidfd.valid() || !timer.valid()) {
    int err = errno;
    internal::SignalChildGroup(pid, SIGKILL);
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return UnavailableError(std::string("cannot watch the command: ") + std::strerror(err));
  }
  itimerspec spec;
  std::memset(&spec, 0, sizeof(spec));
  int64_t ms = std::max<int64_t>(timeout.count(), 1);
  spec.it_value.tv_sec = ms / 1000;
  spec.it_value.tv_nsec = (ms % 1000) * 1000000;
  ::timerfd_settime(timer.get(), 0, &spec, nullptr);
  ::fcntl(read_end.get(), F_SETFL, ::fcntl(read_end.get(), F_GETFL) | O_NONBLOCK);

  CommandOutput result;
  bool pipe_open = true;
  for (;;) {
    pollfd fds_to_poll[3] = {{pidfd.get(), POLLIN, 0},
                             {timer.get(), POLLIN, 0},
                             {pipe_open ? read_end.get() : -1, POLLIN, 0}};
    int rc = ::poll(fds_to_poll, 3, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds_to_poll[2].revents != 0) pipe_open = DrainInto(read_end.get(), &result.output);
    if (fds_to_poll[0].revents != 0) {
      // Exited. Output its background children write later is not waited for.
      if (pipe_open) DrainInto(read_end.get(), &result.output);
      break;
    }
    if (fds_to_poll[1].revents != 0) {
      internal::SignalChildGroup(pid, SIGKILL);
      WaitExit(pidfd.get());
      std::string message = "command '" + argv[0] + "' did not finish within " +
                            std::to_string(timeout.count()) + " ms and was killed";
      if (!result.output.empty()) message += "; its output: " + Tail(result.output, 2000);
      return DeadlineExceededError(message);
    }
  }
  result.exit_code = WaitExit(pidfd.get()).exit_code;
  return result;
}

}  // namespace sp::executor
