// LocalCluster: Spark standalone master + workers as supervised child processes; see
// local_cluster.h for the flow and the directory layout.
#include "spark/local_cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>

#include "common/file_text.h"
#include "spark/internal/json_fields.h"
#include "spark/submit.h"

namespace sp::spark {
namespace {

namespace fs = std::filesystem;
using executor::ExitInfo;
using executor::ProcessHandle;
using executor::ProcessLiveness;

constexpr char kMasterClass[] = "org.apache.spark.deploy.master.Master";
constexpr char kWorkerClass[] = "org.apache.spark.deploy.worker.Worker";
// A master that cannot bind a picked port (spark.port.maxRetries=0) logs one of these and exits:
// "java.net.BindException: ... Address already in use: Service 'sparkMaster' failed after 0
// retries", or the web UI's "Failed to bind MasterUI".
constexpr std::string_view kBindFailures[] = {"java.net.BindException", "Address already in use",
                                              "Failed to bind"};
constexpr int kPortAttempts = 3;
// A worker logs the first line when it sends its registration and the second once accepted.
constexpr std::string_view kWorkerConnecting = "Connecting to master ";
constexpr std::string_view kWorkerRegistered = "Successfully registered with master";
// Registration takes milliseconds once the master is ALIVE; a worker still unregistered this
// long after both it tried and the master became ALIVE waits for Spark's 5-15 s retry timer.
constexpr Millis kRegistrationGrace(2000);
constexpr int kLogTailLines = 20;
constexpr size_t kLogTailBytes = 64 << 10;
constexpr Millis kStatusTimeout(1000);
// How long to wait for an exit after Terminate's SIGKILL deadline before giving up.
constexpr Millis kKillSlack(5000);
constexpr char kLoopback[] = "127.0.0.1";

std::string WorkerRole(int index) {
  return "worker-" + std::to_string(index);
}

std::string FormatSeconds(Millis d) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f s", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

bool HasSpace(const std::string& s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; });
}

// "-Dk=v -Dk2=v2" for a SPARK_*_OPTS variable.
std::string JavaOpts(const std::map<std::string, std::string>& conf) {
  std::string opts;
  for (const auto& [key, value] : conf) {
    if (!opts.empty()) opts += ' ';
    opts += "-D" + key + "=" + value;
  }
  return opts;
}

Status ValidateConf(const char* field, const std::map<std::string, std::string>& conf) {
  for (const auto& [key, value] : conf) {
    if (key.empty() || HasSpace(key) || HasSpace(value) || key.find('=') != std::string::npos) {
      return InvalidArgumentError(std::string(field) + " entry '" + key + "=" + value +
                                  "': keys and values must be non-empty words without spaces");
    }
  }
  return OkStatus();
}

// The last `lines` lines of a file (at most kLogTailBytes are read).
std::string TailFile(const std::string& path, int lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "(no log)";
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  std::streamoff from =
      std::max<std::streamoff>(0, size - static_cast<std::streamoff>(kLogTailBytes));
  in.seekg(from);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::deque<std::string> tail;
  std::stringstream ss(data);
  std::string line;
  bool first = from > 0;  // the first line read may be cut
  while (std::getline(ss, line)) {
    if (first) {
      first = false;
      continue;
    }
    tail.push_back(line);
    if (static_cast<int>(tail.size()) > lines) tail.pop_front();
  }
  if (tail.empty()) return "(empty)";
  std::string out;
  for (const std::string& l : tail) out += l + "\n";
  return out;
}

// The daemon's log, or "" while it has none.
std::string ReadFile(const std::string& path) {
  Result<std::string> text = ReadFileText(path, "daemon log");
  return text.ok() ? std::move(*text) : std::string();
}

// `count` distinct free loopback TCP ports: bound to port 0 together (so the kernel hands out
// different ones), then released for the daemons to bind.
Result<std::vector<int>> KernelFreePorts(int count) {
  std::vector<int> fds;
  std::vector<int> ports;
  Status error;
  for (int i = 0; i < count && error.ok(); ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = UnavailableError(std::string("socket: ") + std::strerror(errno));
      break;
    }
    fds.push_back(fd);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      error =
          UnavailableError(std::string("picking a free loopback port: ") + std::strerror(errno));
      break;
    }
    ports.push_back(ntohs(addr.sin_port));
  }
  for (int fd : fds) ::close(fd);
  if (!error.ok()) return error;
  return ports;
}

// The roles of `gated`, for messages: "master, worker-1".
std::string Roles(const std::vector<std::string>& roles) {
  std::string out;
  for (const std::string& r : roles) out += (out.empty() ? "" : ", ") + r;
  return out;
}

std::string DescribeExit(const ExitInfo& e) {
  if (e.signal) return "was killed by signal " + std::to_string(*e.signal);
  return "exited with code " + std::to_string(e.exit_code);
}

// Removes `path` recursively; errors are returned, not thrown.
Status RemoveTree(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return FailedPreconditionError("cannot remove " + path.string() + ": " + ec.message());
  return OkStatus();
}

Status CleanDir(const std::string& dir, DirCleanup cleanup) {
  if (cleanup == DirCleanup::kRemoveAll) return RemoveTree(dir);
  Status work = RemoveTree(fs::path(dir) / "work");
  Status local = RemoveTree(fs::path(dir) / "local");
  return work.ok() ? local : work;
}

}  // namespace

// Exit reports from the supervisor's reaper thread, by role ("master", "worker-3"). Shared with
// the callbacks so that a late report after the cluster is gone stays harmless.
struct LocalCluster::ExitBook {
  std::mutex mu;
  std::condition_variable_any cv;
  std::map<std::string, ExitInfo> exited;
  uint64_t version = 0;  // bumped on every report, to wake pollers

  void Record(const std::string& role, const ExitInfo& e) {
    {
      std::lock_guard<std::mutex> lock(mu);
      exited[role] = e;
      ++version;
    }
    cv.notify_all();
  }
  std::optional<ExitInfo> Find(const std::string& role) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = exited.find(role);
    if (it == exited.end()) return std::nullopt;
    return it->second;
  }
  // Drops the exit of `role` (an exited master replaced by a new one).
  void Forget(const std::string& role) {
    std::lock_guard<std::mutex> lock(mu);
    exited.erase(role);
  }
  // Waits up to `d` for `role` to exit.
  bool WaitForExit(const std::string& role, Millis d) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, d, [&] { return exited.count(role) != 0; });
  }
  // Sleeps for `d`, waking early when any daemon exits or `stop` is requested.
  void Pause(Millis d, std::stop_token stop) {
    std::unique_lock<std::mutex> lock(mu);
    uint64_t seen = version;
    cv.wait_for(lock, stop, d, [&] { return version != seen; });
  }
};

nlohmann::json LocalClusterHandle::ToJson() const {
  nlohmann::json workers_json = nlohmann::json::array();
  for (const LocalClusterWorker& w : workers) {
    workers_json.push_back({{"index", w.index}, {"process", w.process.ToJson()}});
  }
  return nlohmann::json{{"name", name},
                        {"dir", dir},
                        {"master_url", master_url},
                        {"ui_url", ui_url},
                        {"app_id_prefix", app_id_prefix},
                        {"master", master.ToJson()},
                        {"workers", workers_json}};
}

Result<LocalClusterHandle> LocalClusterHandle::FromJson(const nlohmann::json& j) {
  using internal::Field;
  using internal::GetString;
  if (!j.is_object()) return InvalidArgumentError("local cluster handle: expected an object");
  LocalClusterHandle h;
  h.name = GetString(j, "name");
  h.dir = GetString(j, "dir");
  h.master_url = GetString(j, "master_url");
  h.ui_url = GetString(j, "ui_url");
  h.app_id_prefix = GetString(j, "app_id_prefix");
  if (h.name.empty() || h.dir.empty()) {
    return InvalidArgumentError("local cluster handle: 'name' and 'dir' are required strings");
  }
  if (const nlohmann::json* m = Field(j, "master"); m != nullptr) {
    Result<ProcessHandle> master = ProcessHandle::FromJson(*m);
    if (!master.ok()) return master.status().With("local cluster handle field 'master'");
    h.master = *master;
  }
  if (const nlohmann::json* ws = Field(j, "workers"); ws != nullptr) {
    if (!ws->is_array()) return InvalidArgumentError("local cluster handle: 'workers' not a list");
    for (const nlohmann::json& w : *ws) {
      const nlohmann::json* index = Field(w, "index");
      const nlohmann::json* process = Field(w, "process");
      if (index == nullptr || !index->is_number_integer() || process == nullptr) {
        return InvalidArgumentError(
            "local cluster handle: workers[] entries need 'index' and 'process'");
      }
      Result<ProcessHandle> p = ProcessHandle::FromJson(*process);
      if (!p.ok()) return p.status().With("local cluster handle worker");
      h.workers.push_back({static_cast<int>(index->get<int64_t>()), *p});
    }
  }
  return h;
}

Status LocalCluster::ValidateName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      ok = false;
  }
  if (!ok) {
    return InvalidArgumentError("cluster name '" + name +
                                "': expected 1-64 letters, digits, '-', '_' or '.', starting "
                                "with a letter or digit");
  }
  return OkStatus();
}

LocalCluster::LocalCluster(LocalClusterSpec spec, executor::ProcessSupervisor& processes,
                           const Clock& clock)
    : spec_(std::move(spec)),
      processes_(processes),
      clock_(clock),
      dir_((fs::path(spec_.clusters_root) / spec_.name).lexically_normal().string()),
      exits_(std::make_shared<ExitBook>()) {
  handle_.name = spec_.name;
  handle_.dir = dir_;
  handle_.app_id_prefix = spec_.app_id_prefix.empty() ? "app-" + spec_.name : spec_.app_id_prefix;
}

LocalCluster::~LocalCluster() {
  Stop(spec_.stop_grace).IgnoreError();
}

Result<std::unique_ptr<LocalCluster>> LocalCluster::Start(LocalClusterSpec spec,
                                                          executor::ProcessSupervisor& processes,
                                                          const Clock& clock,
                                                          std::stop_token stop) {
  RETURN_IF_ERROR(ValidateName(spec.name));
  if (spec.clusters_root.empty() || spec.clusters_root.front() != '/') {
    return InvalidArgumentError("clusters_root '" + spec.clusters_root +
                                "' must be an absolute path");
  }
  if (spec.workers < 0) {
    return InvalidArgumentError("workers must be >= 0, got " + std::to_string(spec.workers));
  }
  if (spec.worker_cores <= 0) {
    return InvalidArgumentError("worker_cores must be a positive integer, got " +
                                std::to_string(spec.worker_cores));
  }
  if (!IsValidMemorySize(spec.worker_memory)) {
    return InvalidArgumentError("worker_memory '" + spec.worker_memory +
                                "': expected an integer with a unit, like 2g or 1536m");
  }
  if (!spec.app_id_prefix.empty()) {
    for (char c : spec.app_id_prefix) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
        return InvalidArgumentError("app_id_prefix '" + spec.app_id_prefix +
                                    "': only letters, digits, '-' and '_' are allowed");
      }
    }
  }
  RETURN_IF_ERROR(ValidateConf("master_conf", spec.master_conf));
  RETURN_IF_ERROR(ValidateConf("worker_conf", spec.worker_conf));
  if (spec.spark_home.empty() ||
      ::access((spec.spark_home + "/bin/spark-class").c_str(), X_OK) != 0) {
    return FailedPreconditionError(
        "Spark not found: set SPARK_HOME or run scripts/setup.sh (no "
        "executable bin/spark-class under '" +
        spec.spark_home + "')");
  }

  std::unique_ptr<LocalCluster> cluster(new LocalCluster(std::move(spec), processes, clock));
  if (cluster->spec_.jvm_archives == JvmArchives::kUseIfPresent) {
    // JAVA_HOME from the spec's env wins, as it does for the daemons.
    const std::map<std::string, std::string>& extra = cluster->spec_.env;
    EnvLookup process_env = ProcessEnv();
    EnvLookup env = [&extra, &process_env](const std::string& name) -> std::optional<std::string> {
      auto it = extra.find(name);
      if (it != extra.end() && !it->second.empty()) return it->second;
      return process_env(name);
    };
    std::string root = cluster->spec_.jvm_archive_root.empty() ? DefaultJvmArchiveRoot()
                                                               : cluster->spec_.jvm_archive_root;
    cluster->archives_ = FindDaemonJvmArchives(root, cluster->spec_.spark_home, env);
  }
  std::error_code ec;
  if (fs::exists(cluster->dir_, ec)) {
    cluster->stopped_ = true;  // nothing of ours to stop; keep the existing dir untouched
    return AlreadyExistsError("cluster dir " + cluster->dir_ +
                              " already exists (a cluster of that name ran or runs); pick "
                              "another name or remove the dir");
  }
  for (const char* sub : {"", "work", "local"}) {
    fs::create_directories(fs::path(cluster->dir_) / sub, ec);
    if (ec) {
      cluster->stopped_ = true;
      return FailedPreconditionError("cannot create " + cluster->dir_ + "/" + sub + ": " +
                                     ec.message());
    }
  }
  Time begin = clock.Now();
  std::lock_guard<std::mutex> op(cluster->op_mu_);
  Status started = cluster->StartLocked(stop);
  if (!started.ok()) {
    Status logs = cluster->WithLogs(started);
    cluster->StopLocked(cluster->spec_.stop_grace, DirCleanup::kKeepLogs).IgnoreError();
    return logs.With("starting Spark cluster '" + cluster->spec_.name + "'");
  }
  cluster->startup_time_ = std::chrono::duration_cast<Millis>(clock.Now() - begin);
  return cluster;
}

Status LocalCluster::StartLocked(std::stop_token stop) {
  Time deadline = clock_.Now() + spec_.ready_timeout;
  for (int attempt = 1;; ++attempt) {
    Status st = StartAttemptLocked(deadline, stop);
    if (st.ok() || !MasterBindFailed()) return st;
    if (attempt >= kPortAttempts || stop.stop_requested() || clock_.Now() >= deadline) {
      return st.With("the master could not bind its picked ports in " + std::to_string(attempt) +
                     " attempt(s)");
    }
    // Another process took a picked port between our pick and the master's bind.
    RETURN_IF_ERROR(AbandonAttemptLocked(attempt));
  }
}

Result<std::vector<int>> LocalCluster::PickPorts(int count) const {
  if (!spec_.pick_port) return KernelFreePorts(count);
  std::vector<int> ports;
  for (int i = 0; i < count; ++i) {
    ASSIGN_OR_RETURN(int port, spec_.pick_port());
    ports.push_back(port);
  }
  return ports;
}

Status LocalCluster::StartAttemptLocked(Time deadline, std::stop_token stop) {
  ASSIGN_OR_RETURN(std::vector<int> ports, PickPorts(2));
  std::string rpc_port = std::to_string(ports[0]);
  std::string ui_port = std::to_string(ports[1]);
  {
    std::lock_guard<std::mutex> lock(mu_);
    handle_.master_url = std::string("spark://") + kLoopback + ":" + rpc_port;
    handle_.ui_url = std::string("http://") + kLoopback + ":" + ui_port;
  }
  std::map<std::string, std::string> env = {
      {"SPARK_MASTER_OPTS",
       "-Dspark.master.rest.enabled=false -Dspark.port.maxRetries=0 "
       "-Dspark.deploy.appIdPattern=" +
           AppIdPattern(handle_.app_id_prefix) +
           (spec_.master_conf.empty() ? "" : " " + JavaOpts(spec_.master_conf))}};
  std::vector<Gated> gated;
  ASSIGN_OR_RETURN(ProcessHandle master,
                   SpawnGated("master", 0,
                              {spec_.spark_home + "/bin/spark-class", kMasterClass, "--host",
                               kLoopback, "--port", rpc_port, "--webui-port", ui_port},
                              std::move(env)));
  gated.push_back({"master", master});
  // The workers know the master's URL already: they boot alongside it (facts §11.9).
  std::vector<int> added;
  for (int i = 0; i < spec_.workers; ++i) {
    int index = next_worker_index_++;
    ASSIGN_OR_RETURN(ProcessHandle worker, SpawnWorkerGated(index));
    gated.push_back({WorkerRole(index), worker});
    added.push_back(index);
  }
  RETURN_IF_ERROR(ReleaseGated(gated));
  return WaitUntilWorkers(spec_.workers, WorkerCount::kAtLeast, deadline, stop, &added);
}

Status LocalCluster::AbandonAttemptLocked(int attempt) {
  LocalClusterHandle h = handle();
  for (const LocalClusterWorker& w : h.workers) processes_.Terminate(w.process.pid, Millis(0));
  for (const LocalClusterWorker& w : h.workers) {
    RETURN_IF_ERROR(StopWorkerLocked(w, spec_.stop_grace));
  }
  processes_.Terminate(h.master.pid, spec_.stop_grace);
  if (!exits_->WaitForExit("master", spec_.stop_grace + kKillSlack)) {
    return UnavailableError("the Spark master (pid " + std::to_string(h.master.pid) +
                            ") did not exit after SIGKILL");
  }
  exits_->Forget("master");
  std::error_code ec;
  fs::rename(dir_ + "/master.log", dir_ + "/master.port-clash-" + std::to_string(attempt) + ".log",
             ec);
  {
    std::lock_guard<std::mutex> lock(mu_);
    handle_.master = {};
    handle_.master_url.clear();
    handle_.ui_url.clear();
  }
  return NotifyHandle();
}

bool LocalCluster::MasterBindFailed() const {
  std::string log = ReadFile(dir_ + "/master.log");
  return std::any_of(std::begin(kBindFailures), std::end(kBindFailures),
                     [&](std::string_view m) { return log.find(m) != std::string::npos; });
}

Result<ProcessHandle> LocalCluster::SpawnGated(const std::string& role, int worker_index,
                                               std::vector<std::string> argv,
                                               std::map<std::string, std::string> env) {
  executor::SpawnSpec s;
  s.argv = std::move(argv);
  s.env = spec_.env;
  s.env["SPARK_HOME"] = spec_.spark_home;
  s.env["SPARK_LOCAL_IP"] = kLoopback;
  // Daemon JVM flags after any the caller gave (the last of a repeated -XX flag wins).
  std::string& daemon_opts = s.env["SPARK_DAEMON_JAVA_OPTS"];
  daemon_opts += (daemon_opts.empty() ? "" : " ") +
                 DaemonJavaOpts(worker_index == 0 ? archives_.master : archives_.worker);
  for (auto& [key, value] : env) s.env[key] = std::move(value);
  s.cwd = dir_;
  s.output_path = dir_ + "/" + role + ".log";
  s.gated = true;
  std::shared_ptr<ExitBook> book = exits_;
  ASSIGN_OR_RETURN(ProcessHandle h,
                   processes_.Spawn(s, [book, role](const ExitInfo& e) { book->Record(role, e); }));
  std::lock_guard<std::mutex> lock(mu_);
  if (worker_index == 0) {
    handle_.master = h;
  } else {
    handle_.workers.push_back({worker_index, h});
  }
  return h;
}

Status LocalCluster::ReleaseGated(const std::vector<Gated>& gated) {
  std::vector<std::string> roles;
  for (const Gated& g : gated) roles.push_back(g.role);
  Status durable = NotifyHandle();
  if (!durable.ok()) {
    // Gated: they never ran anything.
    for (const Gated& g : gated) processes_.Terminate(g.process.pid, Millis(0));
    return durable.With("recording the handle of the Spark " + Roles(roles));
  }
  for (const Gated& g : gated) RETURN_IF_ERROR(processes_.Release(g.process.pid));
  return OkStatus();
}

Result<ProcessHandle> LocalCluster::SpawnWorkerGated(int index) {
  std::string role = WorkerRole(index);
  std::string work = dir_ + "/work/" + role;
  std::string local = dir_ + "/local/" + role;
  std::error_code ec;
  fs::create_directories(work, ec);
  if (!ec) fs::create_directories(local, ec);
  if (ec) return FailedPreconditionError("cannot create " + work + ": " + ec.message());
  std::string master_url;
  {
    std::lock_guard<std::mutex> lock(mu_);
    master_url = handle_.master_url;
  }
  std::map<std::string, std::string> env = {{"SPARK_LOCAL_DIRS", local}};
  if (!spec_.worker_conf.empty()) env["SPARK_WORKER_OPTS"] = JavaOpts(spec_.worker_conf);
  return SpawnGated(
      role, index,
      {spec_.spark_home + "/bin/spark-class", kWorkerClass, "--host", kLoopback, "--port", "0",
       "--webui-port", "0", "--cores", std::to_string(spec_.worker_cores), "--memory",
       spec_.worker_memory, "--work-dir", work, master_url},
      std::move(env));
}

Status LocalCluster::WaitUntilWorkers(int want, WorkerCount mode, Time deadline,
                                      std::stop_token stop, std::vector<int>* added) {
  std::string ui_url;
  std::string master_url;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ui_url = handle_.ui_url;
    master_url = handle_.master_url;
  }
  std::string last = "no answer from the master yet";
  std::optional<Time> alive_since;
  std::map<int, Time> trying_since;  // worker index -> when its registration was first seen
  std::set<int> replacements;
  while (true) {
    Result<MasterStatus> status = FetchMasterStatus(ui_url, kStatusTimeout);
    if (status.ok() && status->url != master_url) {
      // Someone else answers on the web UI port we picked; ours will fail to bind it.
      last = "the web UI port answers for another master (" + status->url + ")";
    } else if (status.ok()) {
      bool enough = mode == WorkerCount::kAtLeast ? status->alive_workers >= want
                                                  : status->alive_workers <= want;
      if (status->Alive() && enough) return OkStatus();
      last = "master " + status->status + ", " + std::to_string(status->alive_workers) + " of " +
             std::to_string(want) + " workers alive";
      if (status->Alive() && !alive_since) alive_since = clock_.Now();
    } else {
      last = status.status().message();
      if (MasterBindFailed()) {
        return FailedPreconditionError("the Spark master could not bind its port (" + master_url +
                                       ", web UI " + ui_url + ")");
      }
    }
    RETURN_IF_ERROR(CheckDaemons());
    if (alive_since && added != nullptr) {
      // A worker whose registration reached the master before it was ALIVE (refused, or
      // answered "standby") retries only after 5-15 s; a new worker registers in 1-2 s.
      Time now = clock_.Now();
      for (int& index : *added) {
        if (replacements.count(index) != 0) continue;
        std::string log = ReadFile(dir_ + "/" + WorkerRole(index) + ".log");
        if (log.find(kWorkerConnecting) == std::string::npos ||
            log.find(kWorkerRegistered) != std::string::npos) {
          continue;
        }
        Time since = trying_since.emplace(index, now).first->second;
        if (now - since < kRegistrationGrace || now - *alive_since < kRegistrationGrace) continue;
        std::optional<LocalClusterWorker> stuck;
        {
          std::lock_guard<std::mutex> lock(mu_);
          for (const LocalClusterWorker& w : handle_.workers) {
            if (w.index == index) stuck = w;
          }
        }
        if (stuck) RETURN_IF_ERROR(StopWorkerLocked(*stuck, spec_.stop_grace));
        int fresh = next_worker_index_++;
        ASSIGN_OR_RETURN(ProcessHandle h, SpawnWorkerGated(fresh));
        RETURN_IF_ERROR(ReleaseGated({{WorkerRole(fresh), h}}));
        replacements.insert(fresh);
        index = fresh;
      }
    }
    if (stop.stop_requested()) return CancelledError("cancelled (" + last + ")");
    if (clock_.Now() >= deadline) {
      return DeadlineExceededError("not ready within " + FormatSeconds(spec_.ready_timeout) + " (" +
                                   last + ")");
    }
    exits_->Pause(spec_.poll_interval, stop);
  }
}

Status LocalCluster::CheckDaemons() const {
  std::vector<std::string> roles = {"master"};
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const LocalClusterWorker& w : handle_.workers) roles.push_back(WorkerRole(w.index));
  }
  for (const std::string& role : roles) {
    if (std::optional<ExitInfo> e = exits_->Find(role)) {
      return FailedPreconditionError("the Spark " + role + " " + DescribeExit(*e) + " (see " +
                                     dir_ + "/" + role + ".log)");
    }
  }
  return OkStatus();
}

Status LocalCluster::NotifyHandle() {
  if (!spec_.on_handle) return OkStatus();
  LocalClusterHandle copy = handle();
  return spec_.on_handle(copy);
}

std::string LocalCluster::LogTails() const {
  std::vector<std::string> roles = {"master"};
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const LocalClusterWorker& w : handle_.workers) roles.push_back(WorkerRole(w.index));
  }
  std::string out;
  for (const std::string& role : roles) {
    std::string path = dir_ + "/" + role + ".log";
    out += "\n--- " + path + " (last " + std::to_string(kLogTailLines) + " lines) ---\n";
    out += TailFile(path, kLogTailLines);
  }
  return out;
}

Status LocalCluster::WithLogs(const Status& s) const {
  if (s.ok()) return s;
  return Status(s.code(), s.message() + LogTails());
}

LocalClusterHandle LocalCluster::handle() const {
  std::lock_guard<std::mutex> lock(mu_);
  return handle_;
}

std::string LocalCluster::master_url() const {
  std::lock_guard<std::mutex> lock(mu_);
  return handle_.master_url;
}

std::string LocalCluster::ui_url() const {
  std::lock_guard<std::mutex> lock(mu_);
  return handle_.ui_url;
}

int LocalCluster::worker_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(handle_.workers.size());
}

Result<MasterStatus> LocalCluster::FetchStatus() const {
  return FetchMasterStatus(ui_url());
}

Status LocalCluster::Scale(int workers, std::stop_token stop) {
  if (workers < 0) {
    return InvalidArgumentError("workers must be >= 0, got " + std::to_string(workers));
  }
  std::lock_guard<std::mutex> op(op_mu_);
  if (stopped_) return FailedPreconditionError("cluster '" + spec_.name + "' is stopped");
  Time deadline = clock_.Now() + spec_.ready_timeout;
  int current = worker_count();
  if (workers > current) {
    std::vector<int> added;
    std::vector<Gated> gated;
    Status st;
    for (int i = current; i < workers && st.ok(); ++i) {
      int index = next_worker_index_++;
      Result<ProcessHandle> h = SpawnWorkerGated(index);
      st = h.status();
      if (st.ok()) {
        added.push_back(index);
        gated.push_back({WorkerRole(index), *h});
      }
    }
    if (st.ok()) st = ReleaseGated(gated);
    if (st.ok()) st = WaitUntilWorkers(workers, WorkerCount::kAtLeast, deadline, stop, &added);
    if (!st.ok()) {
      Status failed = WithLogs(st);
      std::vector<LocalClusterWorker> to_stop;
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (const LocalClusterWorker& w : handle_.workers) {
          if (std::find(added.begin(), added.end(), w.index) != added.end()) to_stop.push_back(w);
        }
      }
      for (const LocalClusterWorker& w : to_stop) {
        StopWorkerLocked(w, spec_.stop_grace).IgnoreError();
      }
      NotifyHandle().IgnoreError();
      return failed.With("scaling Spark cluster '" + spec_.name + "' to " +
                         std::to_string(workers) + " workers");
    }
    return OkStatus();
  }
  if (workers < current) {
    std::vector<LocalClusterWorker> to_stop;
    {
      std::lock_guard<std::mutex> lock(mu_);
      to_stop.assign(handle_.workers.begin() + workers, handle_.workers.end());
    }
    std::reverse(to_stop.begin(), to_stop.end());  // highest index first
    for (const LocalClusterWorker& w : to_stop) {
      RETURN_IF_ERROR(StopWorkerLocked(w, spec_.stop_grace));
    }
    RETURN_IF_ERROR(NotifyHandle());
    Status seen = WaitUntilWorkers(workers, WorkerCount::kAtMost, deadline, stop);
    if (!seen.ok()) return WithLogs(seen).With("scaling Spark cluster '" + spec_.name + "' down");
  }
  return OkStatus();
}

Status LocalCluster::StopWorkerLocked(const LocalClusterWorker& worker, Millis grace) {
  std::string role = WorkerRole(worker.index);
  processes_.Terminate(worker.process.pid, grace);
  if (!exits_->WaitForExit(role, grace + kKillSlack)) {
    return UnavailableError("the Spark " + role + " (pid " + std::to_string(worker.process.pid) +
                            ") did not exit after SIGKILL");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& ws = handle_.workers;
    ws.erase(std::remove_if(ws.begin(), ws.end(),
                            [&](const LocalClusterWorker& w) { return w.index == worker.index; }),
             ws.end());
  }
  RemoveTree(fs::path(dir_) / "work" / role).IgnoreError();
  RemoveTree(fs::path(dir_) / "local" / role).IgnoreError();
  return OkStatus();
}

Status LocalCluster::Stop(Millis grace, DirCleanup cleanup) {
  std::lock_guard<std::mutex> op(op_mu_);
  return StopLocked(grace, cleanup);
}

Status LocalCluster::StopLocked(Millis grace, DirCleanup cleanup) {
  if (stopped_) {
    return cleanup == DirCleanup::kRemoveAll ? CleanDir(dir_, cleanup) : OkStatus();
  }
  LocalClusterHandle h = handle();
  std::vector<std::string> survivors;
  // Workers first (they kill their executors), then the master (facts §2, §12).
  for (const LocalClusterWorker& w : h.workers) processes_.Terminate(w.process.pid, grace);
  for (const LocalClusterWorker& w : h.workers) {
    std::string role = WorkerRole(w.index);
    if (!exits_->WaitForExit(role, grace + kKillSlack)) {
      survivors.push_back(role + " (pid " + std::to_string(w.process.pid) + ")");
    }
  }
  if (h.master.pid > 0) {
    processes_.Terminate(h.master.pid, grace);
    if (!exits_->WaitForExit("master", grace + kKillSlack)) {
      survivors.push_back("master (pid " + std::to_string(h.master.pid) + ")");
    }
  }
  if (!survivors.empty()) {
    std::string list;
    for (const std::string& s : survivors) list += (list.empty() ? "" : ", ") + s;
    return UnavailableError("stopping Spark cluster '" + spec_.name + "': still running: " + list);
  }
  stopped_ = true;
  return CleanDir(dir_, cleanup).With("stopping Spark cluster '" + spec_.name + "'");
}

Status LocalCluster::TearDown(const LocalClusterHandle& handle, Millis grace, DirCleanup cleanup) {
  // A corrupt handle must not make us delete an unrelated directory.
  fs::path dir = fs::path(handle.dir).lexically_normal();
  if (!dir.is_absolute() || dir.filename() != handle.name || !ValidateName(handle.name).ok()) {
    return InvalidArgumentError("local cluster handle: dir '" + handle.dir +
                                "' is not an absolute path ending in the cluster name '" +
                                handle.name + "'");
  }
  auto terminate_all = [grace](const std::vector<ProcessHandle>& procs) {
    std::vector<std::thread> threads;
    for (const ProcessHandle& p : procs) {
      if (p.pid <= 0 || executor::CheckProcess(p) != ProcessLiveness::kRunning) continue;
      threads.emplace_back([p, grace] { executor::ProcessSupervisor::TerminateForeign(p, grace); });
    }
    for (std::thread& t : threads) t.join();
  };
  std::vector<ProcessHandle> workers;
  for (const LocalClusterWorker& w : handle.workers) workers.push_back(w.process);
  terminate_all(workers);
  terminate_all({handle.master});
  std::string survivors;
  auto check = [&](const std::string& role, const ProcessHandle& p) {
    if (p.pid > 0 && executor::CheckProcess(p) == ProcessLiveness::kRunning) {
      survivors += (survivors.empty() ? "" : ", ") + role + " (pid " + std::to_string(p.pid) + ")";
    }
  };
  for (const LocalClusterWorker& w : handle.workers) check(WorkerRole(w.index), w.process);
  check("master", handle.master);
  if (!survivors.empty()) {
    return UnavailableError("tearing down Spark cluster '" + handle.name +
                            "': still running: " + survivors);
  }
  return CleanDir(dir.string(), cleanup).With("tearing down Spark cluster '" + handle.name + "'");
}

}  // namespace sp::spark
