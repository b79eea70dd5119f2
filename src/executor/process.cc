// ProcessSupervisor and process-handle helpers; see process.h.
//
// One reaper thread waits on an epoll set holding a pidfd per child, a timerfd per pending
// SIGKILL deadline and an eventfd for shutdown. An exiting child makes its pidfd readable, so the
// exit callback runs as soon as the kernel reports the exit, with no polling and no clock reads
// (deadlines are kernel timers). Children are reaped with waitid(P_PIDFD), never waitpid(-1).
#include "executor/process.h"

#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "executor/internal/launch.h"
#include "executor/internal/pidfd.h"
#include "executor/internal/proc_stat.h"
#include "executor/internal/unique_fd.h"

namespace sp::executor {

using internal::UniqueFd;

namespace {

// epoll_event.data.u64 = serial << 2 | kind. Serials are never reused, so a stale event for a
// reaped child finds nothing instead of a newer child with the same pid.
enum EventKind : uint64_t { kWakeEvent = 0, kExitEvent = 1, kDeadlineEvent = 2 };
constexpr uint64_t EventData(uint64_t serial, EventKind kind) {
  return serial << 2 | kind;
}

// How long TerminateForeign waits for a SIGKILLed process to disappear.
constexpr int kForeignKillWaitMs = 2000;

ExitInfo ExitInfoFrom(const siginfo_t& info) {
  ExitInfo exit;
  if (info.si_code == CLD_EXITED) {
    exit.exit_code = info.si_status;
  } else {
    exit.signal = info.si_status;
    exit.exit_code = 128 + info.si_status;
  }
  return exit;
}

// Waits for the exit of a child we hold a pidfd for; returns its exit info.
ExitInfo ReapChild(int pidfd) {
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  int rc;
  do {
    rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    // Someone else reaped it (SIGCHLD ignored, or a stray waitpid(-1)): the status is lost.
    ExitInfo unknown;
    unknown.exit_code = -1;
    return unknown;
  }
  return ExitInfoFrom(info);
}

void ArmTimer(int timer_fd, Millis delay) {
  itimerspec spec;
  std::memset(&spec, 0, sizeof(spec));
  int64_t ms = std::max<int64_t>(delay.count(), 1);
  spec.it_value.tv_sec = ms / 1000;
  spec.it_value.tv_nsec = (ms % 1000) * 1000000;
  ::timerfd_settime(timer_fd, 0, &spec, nullptr);
}

Millis TimerRemaining(int timer_fd) {
  itimerspec spec;
  if (::timerfd_gettime(timer_fd, &spec) != 0) return Millis(0);
  return Millis(spec.it_value.tv_sec * 1000 + spec.it_value.tv_nsec / 1000000);
}

}  // namespace

nlohmann::json ProcessHandle::ToJson() const {
  nlohmann::json j{{"pid", pid}, {"start_ticks", start_ticks}};
  if (!space.empty()) j["space"] = space;
  return j;
}

Result<ProcessHandle> ProcessHandle::FromJson(const nlohmann::json& j) {
  auto bad = [&j]() {
    return InvalidArgumentError(
        "process handle: expected {\"pid\": <positive integer>, \"start_ticks\": <integer>}; got " +
        j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  };
  if (!j.is_object()) return bad();
  auto pid = j.find("pid");
  auto ticks = j.find("start_ticks");
  if (pid == j.end() || !pid->is_number_integer() || ticks == j.end() ||
      !ticks->is_number_integer()) {
    return bad();
  }
  int64_t pid_value = pid->get<int64_t>();
  if (pid_value <= 0 || pid_value > INT32_MAX) return bad();
  if (!ticks->is_number_unsigned() && ticks->get<int64_t>() < 0) return bad();
  auto space = j.find("space");
  if (space != j.end() && !space->is_string()) return bad();
  ProcessHandle h;
  h.pid = static_cast<pid_t>(pid_value);
  h.start_ticks = ticks->is_number_unsigned() ? ticks->get<uint64_t>()
                                              : static_cast<uint64_t>(ticks->get<int64_t>());
  if (space != j.end()) h.space = space->get<std::string>();
  return h;
}

namespace {

std::string ReadProcessSpace() {
  std::string boot;
  if (std::ifstream in("/proc/sys/kernel/random/boot_id"); in) std::getline(in, boot);
  if (boot.empty()) return "";
  // "pid:[4026531836]": the namespace's inode, unique among the boot's live namespaces.
  char link[64];
  ssize_t n = ::readlink("/proc/self/ns/pid", link, sizeof(link) - 1);
  if (n <= 0) return boot;
  std::string ns(link, static_cast<size_t>(n));
  size_t open = ns.find('['), close = ns.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return boot;
  return boot + "/" + ns.substr(open + 1, close - open - 1);
}

}  // namespace

const std::string& ProcessSpace() {
  static const std::string kSpace = ReadProcessSpace();  // a process never changes either
  return kSpace;
}

bool IsHere(const ProcessHandle& h) {
  return h.space.empty() || h.space == ProcessSpace();
}

ProcessLiveness CheckProcess(const ProcessHandle& h) {
  if (!IsHere(h)) return ProcessLiveness::kElsewhere;
  std::optional<internal::ProcStat> stat = internal::ReadProcStat(h.pid);
  if (!stat) return ProcessLiveness::kGone;
  if (stat->start_ticks != h.start_ticks) return ProcessLiveness::kNotOurs;
  if (stat->state == 'Z' || stat->state == 'X' || stat->state == 'x') {
    return ProcessLiveness::kGone;
  }
  return ProcessLiveness::kRunning;
}

ProcessHandle CurrentProcess() {
  ProcessHandle h;
  h.pid = ::getpid();
  h.space = ProcessSpace();
  if (std::optional<internal::ProcStat> stat = internal::ReadProcStat(h.pid)) {
    h.start_ticks = stat->start_ticks;
  }
  return h;
}

bool AwaitEnd(const ProcessHandle& h, const std::atomic<bool>& stop) {
  constexpr int kStopCheckMs = 100;
  UniqueFd pidfd(internal::PidfdOpen(h.pid));
  // The pidfd pins whatever process has the pid now; the start-time check in the loop makes
  // sure that is still the handle's process (a reused pid counts as ended).
  while (CheckProcess(h) == ProcessLiveness::kRunning) {
    if (stop.load()) return false;
    if (!pidfd.valid()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kStopCheckMs));
      continue;
    }
    pollfd p{pidfd.get(), POLLIN, 0};
    int rc = ::poll(&p, 1, kStopCheckMs);
    if (rc > 0) return true;
    if (rc < 0 && errno != EINTR) pidfd.Reset();
  }
  return true;
}

Status SignalGroup(pid_t pid, int sig) {
  if (pid <= 0) return InvalidArgumentError("invalid process id " + std::to_string(pid));
  if (::kill(-pid, sig) == 0) return OkStatus();
  int err = errno;
  if (err == ESRCH) return NotFoundError("no process group " + std::to_string(pid));
  return FailedPreconditionError("cannot signal process group " + std::to_string(pid) + ": " +
                                 std::strerror(err));
}

struct ProcessSupervisor::State {
  std::vector<std::string> pass_env;  // immutable after construction
  std::string supervisor;             // sparkplane-supervisor's path; immutable
  int nice = 0;                       // supervised children's --nice; immutable
  struct Child {
    pid_t pid = 0;
    uint64_t start_ticks = 0;
    UniqueFd pidfd;
    UniqueFd gate;        // our end of the gate until Release
    UniqueFd kill_timer;  // armed by Terminate
    bool terminate_requested = false;
    ExitCallback on_exit;
  };

  mutable std::mutex mu;
  std::unordered_map<uint64_t, Child> children;  // by serial
  std::unordered_map<pid_t, uint64_t> serial_by_pid;
  uint64_t next_serial = 1;
  bool stopping = false;
  UniqueFd epoll;
  UniqueFd wake;
  std::thread reaper;

  // Requires mu.
  Child* FindLocked(pid_t pid) {
    auto s = serial_by_pid.find(pid);
    if (s == serial_by_pid.end()) return nullptr;
    auto c = children.find(s->second);
    return c == children.end() ? nullptr : &c->second;
  }

  void Watch(int fd, uint64_t data) {
    epoll_event ev;
    std::memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = data;
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      SP_BUG(std::string("epoll_ctl add failed: ") + std::strerror(errno));
    }
  }
  void Unwatch(int fd) {
    if (fd >= 0) ::epoll_ctl(epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
  }

  void Run();
  void OnExit(uint64_t serial);
  void OnDeadline(uint64_t serial);
};

void ProcessSupervisor::State::Run() {
  epoll_event events[64];
  for (;;) {
    int n = ::epoll_wait(epoll.get(), events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      SP_BUG(std::string("epoll_wait failed: ") + std::strerror(errno));
      return;
    }
    for (int i = 0; i < n; ++i) {
      uint64_t data = events[i].data.u64;
      uint64_t serial = data >> 2;
      switch (static_cast<EventKind>(data & 3)) {
        case kWakeEvent: {
          uint64_t count;
          ssize_t ignored = ::read(wake.get(), &count, sizeof(count));
          (void)ignored;
          std::lock_guard<std::mutex> lock(mu);
          if (stopping) return;
          break;
        }
        case kExitEvent:
          OnExit(serial);
          break;
        case kDeadlineEvent:
          OnDeadline(serial);
          break;
      }
    }
  }
}

void ProcessSupervisor::State::OnExit(uint64_t serial) {
  Child child;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = children.find(serial);
    if (it == children.end()) return;
    child = std::move(it->second);
    children.erase(it);
    serial_by_pid.erase(child.pid);
  }
  Unwatch(child.pidfd.get());
  Unwatch(child.kill_timer.get());
  // The leader is a zombie until reaped, so its pid still names the group: no reuse race.
  if (child.terminate_requested) ::kill(-child.pid, SIGKILL);
  ExitInfo exit = ReapChild(child.pidfd.get());
  // Release the descriptors before the callback, which may well spawn the next child.
  ExitCallback on_exit = std::move(child.on_exit);
  child = Child();
  if (on_exit) on_exit(exit);
}

void ProcessSupervisor::State::OnDeadline(uint64_t serial) {
  std::lock_guard<std::mutex> lock(mu);
  auto it = children.find(serial);
  if (it == children.end()) return;
  Child& child = it->second;
  internal::SignalChildGroup(child.pid, SIGKILL);
  Unwatch(child.kill_timer.get());
  child.kill_timer.Reset();
}

std::optional<ExitInfo> ReadExitRecord(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  int value = -1;
  if (!(in >> word >> value) || value < 0 || value > 255) return std::nullopt;
  ExitInfo exit;
  if (word == "exit") {
    exit.exit_code = value;
  } else if (word == "unstarted") {
    exit.exit_code = kGateClosedExitCode;
    exit.never_started = true;
  } else if (word == "signal" && value > 0) {
    exit.exit_code = 128 + value;
    exit.signal = value;
  } else {
    return std::nullopt;
  }
  return exit;
}

const std::vector<std::string>& DefaultPassEnv() {
  static const std::vector<std::string> kNames = {
      "PATH",           "HOME",           "USER",
      "LOGNAME",        "SHELL",          "LANG",
      "LANGUAGE",       "LC_*",           "TZ",
      "TMPDIR",         "TERM",           "JAVA_HOME",
      "SPARK_HOME",     "SPARK_CONF_DIR", "HADOOP_CONF_DIR",
      "PYSPARK_PYTHON", "VIRTUAL_ENV",    "KUBECONFIG",
      "SSL_CERT_FILE",  "SSL_CERT_DIR",   "http_proxy",
      "https_proxy",    "no_proxy",       "HTTP_PROXY",
      "HTTPS_PROXY",    "NO_PROXY"};
  return kNames;
}

ProcessSupervisor::ProcessSupervisor(std::vector<std::string> pass_env, int nice)
    : state_(std::make_unique<State>()) {
  state_->pass_env = std::move(pass_env);
  state_->nice = nice;
  state_->supervisor = internal::FindSupervisor();
  state_->epoll.Reset(::epoll_create1(EPOLL_CLOEXEC));
  state_->wake.Reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  SP_CHECK(state_->epoll.valid() && state_->wake.valid());
  state_->Watch(state_->wake.get(), EventData(0, kWakeEvent));
  state_->reaper = std::thread([state = state_.get()] { state->Run(); });
}

ProcessSupervisor::~ProcessSupervisor() {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->stopping = true;
  }
  uint64_t one = 1;
  ssize_t ignored = ::write(state_->wake.get(), &one, sizeof(one));
  (void)ignored;
  if (state_->reaper.joinable()) state_->reaper.join();
  // The reaper is gone; kill what is left and reap it so no zombies remain.
  for (auto& [serial, child] : state_->children) {
    child.gate.Reset();  // a gated child sees EOF and exits without exec
    ::kill(-child.pid, SIGKILL);
    ::kill(child.pid, SIGKILL);
  }
  for (auto& [serial, child] : state_->children) ReapChild(child.pidfd.get());
}

Result<ProcessHandle> ProcessSupervisor::Spawn(const SpawnSpec& spec, ExitCallback on_exit) {
  ASSIGN_OR_RETURN(
      internal::LaunchPlan plan,
      internal::PrepareLaunch(spec.argv, spec.env,
                              {spec.inherit_env ? internal::EnvInheritance::Mode::kAllowlist
                                                : internal::EnvInheritance::Mode::kNone,
                               &state_->pass_env},
                              spec.cwd));
  if (!spec.exit_record_path.empty()) {
    // Absolute: the child changes directory before it writes. A record left from an earlier
    // spawn with the same path must not speak for this one.
    std::error_code ec;
    plan.exit_record = std::filesystem::absolute(spec.exit_record_path, ec).string();
    if (ec)
      return InvalidArgumentError("exit record path '" + spec.exit_record_path +
                                  "': " + ec.message());
    ::unlink(plan.exit_record.c_str());
    ::unlink((plan.exit_record + kStopFileSuffix).c_str());  // nor a stop meant for it
  }
  // A supervised child opens its own log (after its gate), so a try's first file and directory
  // are not made here, on the caller's thread; others get theirs opened now.
  const bool supervised = (spec.gated || !spec.exit_record_path.empty()) &&
                          !state_->supervisor.empty() && spec.stderr_path.empty();
  if (supervised && !spec.output_path.empty()) {
    std::error_code ec;
    plan.output = std::filesystem::absolute(spec.output_path, ec).string();
    if (ec) return InvalidArgumentError("output path '" + spec.output_path + "': " + ec.message());
  }
  plan.announce_start = spec.announce_start && supervised;
  if (supervised) plan.nice = state_->nice;
  ASSIGN_OR_RETURN(UniqueFd out,
                   internal::OpenOutputFile(plan.output.empty() ? spec.output_path : ""));
  UniqueFd err;
  if (!spec.stderr_path.empty()) {
    ASSIGN_OR_RETURN(err, internal::OpenOutputFile(spec.stderr_path));
  }
  internal::ChildFds fds;
  fds.stdout_fd = out.get();
  fds.stderr_fd = err.valid() ? err.get() : out.get();

  // The gate is a socket pair so Release can write with MSG_NOSIGNAL: a child that died before
  // its release must not raise SIGPIPE in the server.
  UniqueFd gate_ours, gate_child;
  if (spec.gated) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      return UnavailableError(std::string("cannot create the start gate: ") + std::strerror(errno));
    }
    gate_ours.Reset(internal::MoveAboveStdio(sv[0]));
    gate_child.Reset(internal::MoveAboveStdio(sv[1]));
    if (!gate_ours.valid() || !gate_child.valid()) {
      return UnavailableError(std::string("cannot create the start gate: ") + std::strerror(errno));
    }
    fds.gate_fd = gate_child.get();
  }

  ASSIGN_OR_RETURN(const pid_t pid, internal::SpawnChild(plan, fds, state_->supervisor));
  gate_child.Reset();
  out.Reset();
  err.Reset();

  UniqueFd pidfd(internal::PidfdOpen(pid));
  if (!pidfd.valid()) {
    int open_errno = errno;
    ::kill(pid, SIGKILL);
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return UnavailableError(std::string("cannot watch the new process: ") +
                            std::strerror(open_errno));
  }

  ProcessHandle handle;
  handle.pid = pid;
  // Not yet reaped, so /proc/PID exists; the start time does not change at exec.
  if (auto stat = internal::ReadProcStat(pid)) handle.start_ticks = stat->start_ticks;
  handle.space = ProcessSpace();

  State::Child child;
  child.pid = pid;
  child.start_ticks = handle.start_ticks;
  child.gate = std::move(gate_ours);
  child.on_exit = std::move(on_exit);
  const int watched_fd = pidfd.get();
  child.pidfd = std::move(pidfd);
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    uint64_t serial = state_->next_serial++;
    state_->serial_by_pid[pid] = serial;
    state_->children.emplace(serial, std::move(child));
    // Registered before it is watched, so the reaper always finds the child.
    state_->Watch(watched_fd, EventData(serial, kExitEvent));
  }
  return handle;
}

Status ProcessSupervisor::Release(pid_t pid) {
  UniqueFd gate;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    State::Child* child = state_->FindLocked(pid);
    if (child == nullptr || !child->gate.valid()) {
      return NotFoundError("process " + std::to_string(pid) +
                           " is not a gated child waiting to start");
    }
    gate = std::move(child->gate);
  }
  const char go = 1;
  ssize_t n;
  do {
    n = ::send(gate.get(), &go, 1, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != 1) {
    return UnavailableError("process " + std::to_string(pid) +
                            " exited before it was released: " + std::strerror(errno));
  }
  return OkStatus();
}

void ProcessSupervisor::Terminate(pid_t pid, Millis grace) {
  std::lock_guard<std::mutex> lock(state_->mu);
  State::Child* child = state_->FindLocked(pid);
  if (child == nullptr) return;
  child->terminate_requested = true;
  if (grace.count() <= 0) {
    internal::SignalChildGroup(pid, SIGKILL);
    return;
  }
  internal::SignalChildGroup(pid, SIGTERM);
  if (child->kill_timer.valid()) {
    if (grace < TimerRemaining(child->kill_timer.get())) ArmTimer(child->kill_timer.get(), grace);
    return;
  }
  UniqueFd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!timer.valid()) {
    // Without a timer there is no deadline to wait for: escalate now rather than never.
    internal::SignalChildGroup(pid, SIGKILL);
    return;
  }
  ArmTimer(timer.get(), grace);
  state_->Watch(timer.get(), EventData(state_->serial_by_pid[pid], kDeadlineEvent));
  child->kill_timer = std::move(timer);
}

void ProcessSupervisor::TerminateForeign(const ProcessHandle& h, Millis grace) {
  if (CheckProcess(h) != ProcessLiveness::kRunning) return;
  UniqueFd pidfd(internal::PidfdOpen(h.pid));
  if (!pidfd.valid()) return;
  // The pidfd pins the pid, so once the start time matches it names the right process.
  if (CheckProcess(h) != ProcessLiveness::kRunning) return;
  auto signal_group = [&](int sig) {
    if (::kill(-h.pid, sig) != 0) internal::PidfdSendSignal(pidfd.get(), sig);
  };
  auto wait_exit = [&](int timeout_ms) {
    pollfd p{pidfd.get(), POLLIN, 0};
    int rc;
    do {
      rc = ::poll(&p, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    return rc > 0;
  };
  signal_group(SIGTERM);
  int grace_ms = static_cast<int>(std::clamp<int64_t>(grace.count(), 0, INT32_MAX));
  wait_exit(grace_ms);
  // Whether or not the leader is gone, stragglers in its group get SIGKILL.
  signal_group(SIGKILL);
  wait_exit(kForeignKillWaitMs);
}

size_t ProcessSupervisor::RunningCount() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->children.size();
}

bool ProcessSupervisor::IsChild(const ProcessHandle& h) const {
  if (!IsHere(h)) return false;  // its pid means nothing here
  std::lock_guard<std::mutex> lock(state_->mu);
  State::Child* child = state_->FindLocked(h.pid);
  return child != nullptr && (h.start_ticks == 0 || child->start_ticks == h.start_ticks);
}

}  // namespace sp::executor
