// The local cluster guard; see lifetime.h.
#include "clusters/lifetime.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "spark/local_cluster.h"
#include "spark/master_client.h"

namespace sp::clusters {

namespace fs = std::filesystem;

namespace {

// True when nobody holds `path` exclusively (or it does not exist): its owner is gone.
bool LockFree(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT;
  bool free = ::flock(fd, LOCK_SH | LOCK_NB) == 0;
  ::close(fd);  // releases the shared lock at once
  return free;
}

}  // namespace

bool DaemonsGone(const spark::LocalClusterHandle& h) {
  std::vector<executor::ProcessHandle> daemons;
  if (h.master.pid > 0) daemons.push_back(h.master);
  for (const spark::LocalClusterWorker& w : h.workers) daemons.push_back(w.process);
  if (daemons.empty()) return false;
  for (const executor::ProcessHandle& p : daemons) {
    if (executor::CheckProcess(p) == executor::ProcessLiveness::kRunning) return false;
  }
  return true;
}

namespace {

Result<int64_t> ParseInt(const std::string& flag, const std::string& value) {
  try {
    size_t used = 0;
    int64_t v = std::stoll(value, &used);
    if (used == value.size()) return v;
  } catch (const std::exception&) {
  }
  return InvalidArgumentError("guard: " + flag + " expects an integer; got '" + value + "'");
}

}  // namespace

std::string HandleFile(const std::string& cluster_dir) {
  return (fs::path(cluster_dir) / "handle.json").string();
}

Status WriteHandleFile(const std::string& path, const nlohmann::json& handle) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return UnavailableError("cannot write " + tmp + ": " + std::strerror(errno));
  }
  std::string body = handle.dump() + "\n";
  bool ok = ::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return UnavailableError("cannot write " + path + ": " + std::strerror(errno));
  }
  return OkStatus();
}

std::vector<std::string> GuardArgs(const GuardOptions& o) {
  std::vector<std::string> args = {"--handle-file", o.handle_file};
  if (o.lifetime.deadline) {
    args.insert(args.end(), {"--deadline-ms", std::to_string(ToUnixMillis(*o.lifetime.deadline))});
  }
  if (o.lifetime.idle_timeout.count() > 0) {
    args.insert(args.end(), {"--idle-timeout-ms", std::to_string(o.lifetime.idle_timeout.count())});
  }
  if (!o.owner_lock.empty()) {
    args.insert(args.end(), {"--lock", o.owner_lock});
  } else if (o.owner) {
    args.insert(args.end(), {"--owner-pid", std::to_string(o.owner->pid), "--owner-start",
                             std::to_string(o.owner->start_ticks)});
  }
  args.insert(args.end(), {"--grace-ms", std::to_string(o.owner_grace.count()), "--poll-ms",
                           std::to_string(o.poll.count()), "--stop-grace-ms",
                           std::to_string(o.stop_grace.count())});
  return args;
}

Result<GuardOptions> ParseGuardArgs(const std::vector<std::string>& args) {
  GuardOptions o;
  executor::ProcessHandle owner;
  bool has_owner = false;
  for (size_t i = 0; i < args.size(); i += 2) {
    const std::string& flag = args[i];
    if (i + 1 >= args.size()) return InvalidArgumentError("guard: " + flag + " needs a value");
    const std::string& v = args[i + 1];
    if (flag == "--handle-file") {
      o.handle_file = v;
    } else if (flag == "--lock") {
      o.owner_lock = v;
    } else {
      ASSIGN_OR_RETURN(int64_t n, ParseInt(flag, v));
      if (flag == "--deadline-ms") {
        o.lifetime.deadline = FromUnixMillis(n);
      } else if (flag == "--idle-timeout-ms") {
        o.lifetime.idle_timeout = Millis(n);
      } else if (flag == "--owner-pid") {
        owner.pid = static_cast<pid_t>(n);
        has_owner = true;
      } else if (flag == "--owner-start") {
        owner.start_ticks = static_cast<uint64_t>(n);
      } else if (flag == "--grace-ms") {
        o.owner_grace = Millis(n);
      } else if (flag == "--poll-ms") {
        o.poll = Millis(std::max<int64_t>(n, 10));
      } else if (flag == "--stop-grace-ms") {
        o.stop_grace = Millis(n);
      } else {
        return InvalidArgumentError("guard: unknown flag " + flag);
      }
    }
  }
  if (o.handle_file.empty()) return InvalidArgumentError("guard: --handle-file is required");
  if (has_owner) o.owner = owner;
  return o;
}

Status StartGuard(const std::vector<std::string>& command, const GuardOptions& options,
                  const std::string& log_file) {
  std::vector<std::string> argv = command;
  argv.push_back("--");  // what follows is the guard's, not the command line parser's
  for (std::string& a : GuardArgs(options)) argv.push_back(std::move(a));
  argv.insert(argv.end(), {"--log", log_file});
  ASSIGN_OR_RETURN(executor::CommandOutput out, executor::RunCommand(argv, Millis(10000)));
  if (out.exit_code != 0) {
    return UnavailableError("the guard did not start (exit " + std::to_string(out.exit_code) +
                            "): " + out.output);
  }
  return OkStatus();
}

Status DetachGuard(const std::string& log_file) {
  int log = ::open(log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (log < 0) return UnavailableError("cannot open " + log_file + ": " + std::strerror(errno));
  int ready[2];
  if (::pipe2(ready, O_CLOEXEC) != 0) {
    return UnavailableError(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  pid_t pid = ::fork();
  if (pid < 0) return UnavailableError(std::string("cannot fork: ") + std::strerror(errno));
  if (pid > 0) {  // the intermediate process: done once the guard says it runs
    ::close(ready[1]);
    char c = 0;
    ssize_t n;
    while ((n = ::read(ready[0], &c, 1)) < 0 && errno == EINTR) {
    }
    ::_exit(n == 1 ? 0 : 1);
  }
  ::close(ready[0]);
  ::setsid();
  int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null >= 0) ::dup2(null, STDIN_FILENO);
  ::dup2(log, STDOUT_FILENO);
  ::dup2(log, STDERR_FILENO);
  (void)!::write(ready[1], "1", 1);
  ::close(ready[1]);
  return OkStatus();
}

Result<std::string> RunGuard(const GuardOptions& o, const Clock& clock, std::stop_token stop) {
  std::optional<Time> idle_since;
  Time owner_gone_since{};  // meaningful while owner_gone
  bool owner_gone = false;
  for (;; std::this_thread::sleep_for(o.poll)) {
    if (stop.stop_requested()) return std::string();
    std::ifstream in(o.handle_file);
    if (!in) return std::string();  // deleted normally
    nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    Result<spark::LocalClusterHandle> h = spark::LocalClusterHandle::FromJson(j);
    if (!h.ok()) continue;  // being replaced; read again next time
    const Time now = clock.Now();
    // The handle's lifetime wins over the one the guard started with: a pooled cluster gets
    // the lifetime of the run that takes it.
    const Lifetime lifetime = Lifetime::HasLifetime(j) ? Lifetime::FromJson(j) : o.lifetime;
    // Likewise the owner's lock: a server that took over the cluster's run wrote its own.
    const std::string owner_lock = j.contains(kOwnerLockKey) && j[kOwnerLockKey].is_string()
                                       ? j[kOwnerLockKey].get<std::string>()
                                       : o.owner_lock;

    std::string reason;
    if (lifetime.deadline && now >= *lifetime.deadline) {
      reason = "its max age was reached (deadline " + FormatTime(*lifetime.deadline) + ")";
    }
    if (reason.empty() && lifetime.idle_timeout.count() > 0 && !h->ui_url.empty()) {
      // Idleness counts from when the cluster is ready (every worker alive), never while it
      // starts; a master that does not answer changes nothing.
      Result<spark::MasterStatus> status = spark::FetchMasterStatus(h->ui_url);
      bool ready = status.ok() && status->alive_workers >= static_cast<int>(h->workers.size());
      if (ready && (!idle_since || !status->active_apps.empty())) idle_since = now;
      if (Expired(lifetime, now, idle_since)) {
        reason = "it ran no application for " + std::to_string(lifetime.idle_timeout.count()) +
                 " ms (idle timeout)";
      }
    }
    if (reason.empty()) {
      bool gone = !owner_lock.empty() ? LockFree(owner_lock)
                  : o.owner
                      ? executor::CheckProcess(*o.owner) != executor::ProcessLiveness::kRunning
                      : false;
      if (gone && !owner_gone) owner_gone_since = now;
      owner_gone = gone;
      if (gone) {
        if (now - owner_gone_since >= o.owner_grace) {
          reason = "its owner (" +
                   (owner_lock.empty() ? "the process that created it"
                                       : "the server holding " + owner_lock) +
                   ") has been gone for " + std::to_string(o.owner_grace.count()) + " ms";
        }
      }
    }
    if (reason.empty() && DaemonsGone(*h)) reason = "its daemons are gone";
    if (reason.empty()) continue;

    Status torn = spark::LocalCluster::TearDown(*h, o.stop_grace, spark::DirCleanup::kKeepLogs);
    if (!torn.ok()) return torn.With("stopping cluster '" + h->name + "' because " + reason);
    std::error_code ec;
    fs::remove(o.handle_file, ec);
    return "stopped cluster '" + h->name + "' because " + reason;
  }
}

}  // namespace sp::clusters
