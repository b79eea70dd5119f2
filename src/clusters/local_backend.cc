// LocalClusterBackend; see local_backend.h.
#include "clusters/local_backend.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <utility>

#include "clusters/lifetime.h"
#include "spark/submit.h"

namespace sp::clusters {

namespace fs = std::filesystem;

// One cluster started here. `sink` receives handle updates while a create or scale runs.
struct LocalClusterBackend::Live {
  std::mutex mu;
  DurableHandle sink;  // guarded by mu
  Lifetime lifetime;   // guarded by mu; a run that takes a pooled cluster sets its own
  std::unique_ptr<spark::LocalCluster> cluster;
};

LocalClusterBackend::LocalClusterBackend(LocalBackendOptions options,
                                         executor::ProcessSupervisor* processes, const Clock* clock,
                                         Logger* logger)
    : options_(std::move(options)), processes_(processes), clock_(clock), logger_(logger) {}

LocalClusterBackend::~LocalClusterBackend() {
  StopPools();
  StopAll();
}

void LocalClusterBackend::StopPools() {
  if (!pool_thread_.joinable()) return;
  pool_thread_.request_stop();
  pool_cv_.notify_all();
  pool_thread_.join();
}

std::shared_ptr<LocalClusterBackend::Live> LocalClusterBackend::Find(
    const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(name);
  return it == live_.end() ? nullptr : it->second;
}

Result<nlohmann::json> LocalClusterBackend::Plan(const ClusterRequest& request) {
  RETURN_IF_ERROR(spark::LocalCluster::ValidateName(request.name));
  if (!request.kubernetes_fields.empty()) {
    return InvalidArgumentError(request.kubernetes_fields[0] +
                                ": applies to the kubernetes backend only, and this cluster's "
                                "backend is local");
  }
  if (options_.spark_home.empty()) {
    return FailedPreconditionError(
        "Spark not found: set spark_home in the configuration or SPARK_HOME, or run "
        "scripts/setup.sh");
  }
  spark::LocalClusterHandle planned;
  planned.name = request.name;
  planned.dir = (fs::path(options_.clusters_dir) / request.name).string();
  planned.app_id_prefix = "app-" + request.name;
  nlohmann::json handle = planned.ToJson();
  handle.update(request.lifetime.ToJson());
  return handle;
}

Result<nlohmann::json> LocalClusterBackend::Create(const ClusterRequest& request,
                                                   std::stop_token stop,
                                                   const DurableHandle& durable) {
  ASSIGN_OR_RETURN(nlohmann::json planned, Plan(request));
  if (processes_ == nullptr || clock_ == nullptr) {
    return FailedPreconditionError("the local cluster backend has no process supervisor");
  }
  auto live = std::make_shared<Live>();
  live->sink = durable;
  live->lifetime = request.lifetime;
  spark::LocalClusterSpec spec;
  spec.name = request.name;
  spec.clusters_root = options_.clusters_dir;
  spec.spark_home = options_.spark_home;
  spec.workers = request.workers;
  spec.worker_cores = request.worker_cores;
  spec.worker_memory = request.worker_memory;
  spec.ready_timeout = request.ready_timeout;
  spec.stop_grace = options_.stop_grace;
  spec.app_id_prefix = planned.value("app_id_prefix", "");
  if (!options_.python.empty()) spec.env["PYSPARK_PYTHON"] = options_.python;
  spec.master_conf = request.master_conf;
  spec.worker_conf = request.worker_conf;

  // Every update: the caller's durable copy first, then the handle file the guard reads; the
  // guard starts with the first one, before the first daemon runs.
  GuardOptions guard;
  guard.lifetime = request.lifetime;
  guard.owner_lock = options_.owner_lock;
  if (guard.owner_lock.empty()) guard.owner = executor::CurrentProcess();
  guard.owner_grace = options_.owner_grace;
  guard.stop_grace = options_.stop_grace;
  auto guard_started = std::make_shared<bool>(false);
  std::weak_ptr<Live> weak = live;
  spec.on_handle = [this, weak, guard,
                    guard_started](const spark::LocalClusterHandle& h) mutable -> Status {
    std::shared_ptr<Live> l = weak.lock();
    if (!l) return OkStatus();
    nlohmann::json handle = h.ToJson();
    DurableHandle sink;
    {
      std::lock_guard<std::mutex> lock(l->mu);
      sink = l->sink;
      handle.update(l->lifetime.ToJson());
    }
    if (sink) RETURN_IF_ERROR(sink(handle));
    if (options_.guard_command.empty()) return OkStatus();
    guard.handle_file = HandleFile(h.dir);
    RETURN_IF_ERROR(WriteGuardedHandle(guard.handle_file, handle));
    if (!*guard_started) {
      RETURN_IF_ERROR(
          StartGuard(options_.guard_command, guard, (fs::path(h.dir) / "guard.log").string())
              .With("starting the cluster's guard"));
      *guard_started = true;
    }
    return OkStatus();
  };

  Result<std::unique_ptr<spark::LocalCluster>> started =
      spark::LocalCluster::Start(std::move(spec), *processes_, *clock_, stop);
  if (!started.ok()) {
    std::error_code ec;
    fs::remove(HandleFile(planned.value("dir", "")), ec);  // the guard ends with it
    Status failed = started.status();
    // A daemon that exited (FailedPrecondition from LocalCluster) may start on a retry.
    return failed.code() == StatusCode::kFailedPrecondition
               ? Status(StatusCode::kUnavailable, failed.message())
               : failed;
  }
  live->cluster = std::move(started).value();
  {
    std::lock_guard<std::mutex> lock(live->mu);
    live->sink = nullptr;
  }
  nlohmann::json handle = live->cluster->handle().ToJson();
  handle.update(request.lifetime.ToJson());
  std::lock_guard<std::mutex> lock(mu_);
  live_[request.name] = std::move(live);
  return handle;
}

Result<nlohmann::json> LocalClusterBackend::Scale(const std::string& name,
                                                  const nlohmann::json& handle, int workers,
                                                  Millis timeout, std::stop_token stop,
                                                  const DurableHandle& durable) {
  (void)timeout;  // LocalCluster::Scale waits as long as the create's ready_timeout
  std::shared_ptr<Live> live = Find(name);
  if (!live) {
    return FailedPreconditionError(
        "Spark cluster '" + name +
        "' is a local cluster this process did not start (another process started it, or it "
        "predates a restart); only the process that owns its daemons can scale it: scale it "
        "from a task of the server that created it, or delete it and create it again");
  }
  if (Status alive = live->cluster->CheckDaemons(); !alive.ok()) {
    return FailedPreconditionError("Spark cluster '" + name +
                                   "' cannot be scaled: " + alive.message());
  }
  {
    std::lock_guard<std::mutex> lock(live->mu);
    live->sink = durable;
  }
  Status scaled = live->cluster->Scale(workers, stop);
  nlohmann::json now = live->cluster->handle().ToJson();
  {
    std::lock_guard<std::mutex> lock(live->mu);
    live->sink = nullptr;
    now.update(live->lifetime.ToJson());
  }
  if (!scaled.ok()) return scaled;
  return now;
}

Status LocalClusterBackend::Delete(const std::string& name, const nlohmann::json& handle,
                                   bool keep_logs) {
  spark::DirCleanup cleanup =
      keep_logs ? spark::DirCleanup::kKeepLogs : spark::DirCleanup::kRemoveAll;
  // The live cluster of that name, unless the handle names other daemons (a cluster of the
  // same name that an earlier process started).
  Result<spark::LocalClusterHandle> named = spark::LocalClusterHandle::FromJson(handle);
  std::shared_ptr<Live> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(name);
    bool same =
        it != live_.end() && (!named.ok() || named->master.pid == 0 ||
                              named->master.pid == it->second->cluster->handle().master.pid);
    if (same) {
      live = std::move(it->second);
      live_.erase(it);
    }
  }
  std::string dir;
  Status stopped;
  if (live) {
    dir = live->cluster->dir();
    stopped = live->cluster->Stop(options_.stop_grace, cleanup);
    if (!stopped.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      live_.emplace(name, live);  // still ours: a later delete tries again
    }
  } else if (handle.is_null() || (handle.is_object() && handle.empty())) {
    return OkStatus();  // recorded before anything was started
  } else {
    if (!named.ok()) {
      return FailedPreconditionError("cluster '" + name + "': its recorded handle is unreadable (" +
                                     named.status().message() + ")");
    }
    dir = named->dir;
    stopped = spark::LocalCluster::TearDown(*named, options_.stop_grace, cleanup);
  }
  if (stopped.ok() && !dir.empty()) {
    std::error_code ec;
    fs::remove(HandleFile(dir), ec);  // the guard's cue that the cluster is gone
  }
  return stopped;
}

nlohmann::json LocalClusterBackend::Outputs(const nlohmann::json& handle) const {
  Result<spark::LocalClusterHandle> h = spark::LocalClusterHandle::FromJson(handle);
  if (!h.ok()) return {{"cluster_name", handle.value("name", "")}};
  return {{"cluster_name", h->name},
          {"master_url", h->master_url},
          {"master_ui_url", h->ui_url},
          {"workers", static_cast<int64_t>(h->workers.size())}};
}

Result<bool> LocalClusterBackend::Running(const nlohmann::json& handle) {
  ASSIGN_OR_RETURN(spark::LocalClusterHandle h, spark::LocalClusterHandle::FromJson(handle));
  return !DaemonsGone(h);  // none recorded yet counts as running: a create is under way
}

Status LocalClusterBackend::Adopt(const nlohmann::json& handle) {
  if (options_.owner_lock.empty()) return OkStatus();  // a CLI command: it owns nothing for long
  ASSIGN_OR_RETURN(spark::LocalClusterHandle h, spark::LocalClusterHandle::FromJson(handle));
  const std::string path = HandleFile(h.dir);
  std::ifstream in(path);
  if (!in) return OkStatus();  // deleted meanwhile (normally, or by its guard)
  nlohmann::json current = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!current.is_object()) return OkStatus();  // being replaced: the next pass sees it
  const std::string before = current.value(kOwnerLockKey, std::string());
  if (before == options_.owner_lock) return OkStatus();
  RETURN_IF_ERROR(WriteGuardedHandle(path, current).With("adopting cluster '" + h.name + "'"));
  if (logger_ != nullptr) {
    logger_->Info("clusters", "cluster '" + h.name + "' is now guarded for this server (lock " +
                                  options_.owner_lock + ", was " +
                                  (before.empty() ? "its creator's" : before) + ")");
  }
  return OkStatus();
}

Status LocalClusterBackend::WriteGuardedHandle(const std::string& path, nlohmann::json handle) {
  if (!options_.owner_lock.empty()) handle[kOwnerLockKey] = options_.owner_lock;
  return WriteHandleFile(path, handle);
}

std::vector<std::string> LocalClusterBackend::LiveClusters() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, l] : live_) names.push_back(name);
  return names;
}

std::vector<std::pair<std::string, Status>> LocalClusterBackend::StopAll() {
  std::map<std::string, std::shared_ptr<Live>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    live.swap(live_);
  }
  std::vector<std::pair<std::string, Status>> stopped;
  for (auto& [name, l] : live) {
    Status s = l->cluster->Stop(options_.stop_grace);
    if (s.ok()) {
      std::error_code ec;
      fs::remove(HandleFile(l->cluster->dir()), ec);
    }
    stopped.emplace_back(name, s);
  }
  return stopped;
}

Millis LocalClusterBackend::StartupTime(const std::string& name) const {
  std::shared_ptr<Live> live = Find(name);
  return live ? live->cluster->startup_time() : Millis(0);
}

Status PoolSpec::Validate() const {
  bool ok_name =
      !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
      });
  if (!ok_name) {
    return InvalidArgumentError("pool name '" + name +
                                "': expected 1-32 of lower-case letters, digits and '-'");
  }
  if (size < 1 || size > 16) return InvalidArgumentError("pool '" + name + "': size must be 1-16");
  if (workers < 0 || workers > 256) {
    return InvalidArgumentError("pool '" + name + "': workers must be 0-256");
  }
  if (worker_cores < 1)
    return InvalidArgumentError("pool '" + name + "': worker_cores must be >= 1");
  if (!spark::IsValidMemorySize(worker_memory)) {
    return InvalidArgumentError("pool '" + name + "': worker_memory '" + worker_memory +
                                "' is not a JVM memory size such as 1g");
  }
  if (max_age.count() <= 0) return InvalidArgumentError("pool '" + name + "': max_age must be > 0");
  return OkStatus();
}

void LocalClusterBackend::StartPools(std::vector<PoolSpec> pools, PoolRecorder recorder) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    pools_ = std::move(pools);
    recorder_ = std::move(recorder);
  }
  pool_thread_ = std::jthread([this](std::stop_token stop) {
    while (!stop.stop_requested()) {
      FillPools(stop);
      std::unique_lock<std::mutex> lock(mu_);
      pool_cv_.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
    }
  });
}

void LocalClusterBackend::FillPools(std::stop_token stop) {
  std::vector<PoolSpec> pools;
  PoolRecorder record;
  {
    std::lock_guard<std::mutex> lock(mu_);
    pools = pools_;
    record = recorder_;
  }
  for (const PoolSpec& pool : pools) {
    // Idle clusters past their max age make room for fresh ones.
    for (;;) {
      std::string stale;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto& idle = idle_[pool.name];
        if (!idle.empty() && clock_->Now() - idle.front().second >= pool.max_age) {
          stale = idle.front().first;
          idle.erase(idle.begin());
        }
      }
      if (stale.empty()) break;
      std::shared_ptr<Live> live = Find(stale);
      nlohmann::json handle = live ? live->cluster->handle().ToJson() : nlohmann::json();
      if (Delete(stale, handle, /*keep_logs=*/false).ok()) {
        record(pool.name, stale, handle, "deleted").IgnoreError();
      }
    }
    for (;;) {
      if (stop.stop_requested()) return;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto b = backoff_until_.find(pool.name);
        if (b != backoff_until_.end() && clock_->Now() < b->second) break;
        if (static_cast<int>(idle_[pool.name].size()) >= pool.size) break;
      }
      ClusterRequest request;
      request.name = "pool-" + pool.name + "-" + std::to_string(ToUnixMillis(clock_->Now()));
      request.workers = pool.workers;
      request.worker_cores = pool.worker_cores;
      request.worker_memory = pool.worker_memory;
      // The guard's backstop; the pool itself replaces an idle cluster at max_age.
      request.lifetime.deadline = clock_->Now() + pool.max_age + Millis(60000);
      const std::string name = request.name;
      Result<nlohmann::json> made = Create(request, stop, [&](const nlohmann::json& h) {
        return record(pool.name, name, h, "creating");
      });
      if (!made.ok()) {
        record(pool.name, name, nlohmann::json::object(), "failed").IgnoreError();
        if (logger_ != nullptr) {
          logger_->Warn("clusters", "warm pool '" + pool.name + "' could not start a cluster: " +
                                        made.status().message() + "; trying again in 30 s");
        }
        std::lock_guard<std::mutex> lock(mu_);
        backoff_until_[pool.name] = clock_->Now() + Millis(30000);
        break;
      }
      if (!record(pool.name, name, *made, "ready").ok()) {
        Delete(name, *made, /*keep_logs=*/false).IgnoreError();
        break;
      }
      std::lock_guard<std::mutex> lock(mu_);
      idle_[pool.name].emplace_back(name, clock_->Now());
    }
  }
}

std::optional<TakenCluster> LocalClusterBackend::Take(const ClusterRequest& request) {
  if (!request.master_conf.empty() || !request.worker_conf.empty() ||
      !request.kubernetes_fields.empty()) {
    return std::nullopt;
  }
  TakenCluster taken;
  std::shared_ptr<Live> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const PoolSpec& pool : pools_) {
      auto& idle = idle_[pool.name];
      if (pool.workers != request.workers || pool.worker_cores != request.worker_cores ||
          pool.worker_memory != request.worker_memory || idle.empty()) {
        continue;
      }
      taken.pool = pool.name;
      taken.pooled_name = idle.front().first;
      idle.erase(idle.begin());
      break;
    }
    if (taken.pool.empty()) return std::nullopt;
    auto it = live_.find(taken.pooled_name);
    if (it == live_.end()) return std::nullopt;
    live = it->second;
    live_.erase(it);
    live_[request.name] = live;
  }
  pool_cv_.notify_all();  // refill
  {
    std::lock_guard<std::mutex> lock(live->mu);
    live->lifetime = request.lifetime;
  }
  taken.handle = live->cluster->handle().ToJson();
  taken.handle.update(request.lifetime.ToJson());
  if (!options_.guard_command.empty()) {
    WriteGuardedHandle(HandleFile(live->cluster->dir()), taken.handle).IgnoreError();
  }
  return taken;
}

}  // namespace sp::clusters
