// LocalClusterBackend: clusters as spark::LocalCluster (a master and N workers as child
// processes of this process, on loopback, in <clusters_dir>/<name>).
//
// Clusters this process started are kept live here by name: Scale works only on them (the
// daemons of another process are not our children: no exit notices), and Delete stops them
// through their LocalCluster. Any other cluster is torn down from its handle (pid + start time
// of each daemon). The destructor stops the live clusters (StopAll first to learn which).
//
// Lifetime: a request with a deadline or an idle timeout gets a guard (lifetime.h) started
// before the first daemon, detached from this process (its own session, not our child), with
// the handle file it reads (<dir>/handle.json, 0600, rewritten at each handle update). The
// guard deletes the cluster at its deadline, after its idle timeout, or once the owner (the
// server's lock, or the owner process) has been gone for the grace period; it survives a
// restart of the server. Without a guard program configured, no guard starts (the server's
// reaper still enforces the lifetime while it runs).
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "clusters/cluster_backend.h"
#include "common/log.h"
#include "executor/process.h"
#include "spark/local_cluster.h"

namespace sp::clusters {

// A warm pool (Databricks' instance pools, for whole clusters): `size` idle clusters of one
// shape kept ready. A create of that shape (same workers, cores and memory, no daemon settings)
// takes one at once; each pooled cluster serves one run and is deleted with it (its app ids,
// work and log dirs are its own), and the pool starts a new one. An idle pooled cluster is
// replaced after `max_age`.
struct PoolSpec {
  std::string name;  // [a-z0-9-], at most 32 characters; clusters are pool-<name>-<n>
  int size = 1;
  int workers = 1;
  int worker_cores = 1;
  std::string worker_memory = "1g";
  Millis max_age{3600 * 1000};

  // InvalidArgument naming the bad field.
  Status Validate() const;
};

// What a pool reports about a cluster it makes: its handle while creating ("creating"), once
// ready ("ready"), when a create failed ("failed") or when an idle one was replaced
// ("deleted"). "creating" must return once the handle is durable (nothing starts before).
using PoolRecorder = std::function<Status(const std::string& pool, const std::string& name,
                                          const nlohmann::json& handle, std::string_view state)>;

// A pooled cluster a create took.
struct TakenCluster {
  std::string pool;
  std::string pooled_name;  // its name in the pool (the handle's name and dir)
  nlohmann::json handle;    // with the request's lifetime
};

struct LocalBackendOptions {
  std::string clusters_dir;  // absolute; each cluster's dir is <clusters_dir>/<name>
  std::string spark_home;    // "" : Spark is not installed (create fails, naming the fix)
  std::string python;        // PYSPARK_PYTHON for the daemons ("" : Spark's default)
  Millis stop_grace{10000};  // SIGTERM → SIGKILL
  // The guard (lifetime.h): the program and arguments that start it (e.g. {"/path/sparkplane",
  // "cluster", "guard"}); empty: no guard. `owner_lock`: the lock file whose holder owns the
  // clusters (the server's); "" : the creating process owns them.
  std::vector<std::string> guard_command;
  std::string owner_lock;
  Millis owner_grace{30000};
};

class LocalClusterBackend : public ClusterBackend {
 public:
  // `processes`, `clock` and `logger` (may be null) must outlive the backend.
  LocalClusterBackend(LocalBackendOptions options, executor::ProcessSupervisor* processes,
                      const Clock* clock, Logger* logger);
  ~LocalClusterBackend() override;

  std::string_view Name() const override { return kLocalBackend; }
  Result<nlohmann::json> Plan(const ClusterRequest& request) override;
  Result<nlohmann::json> Create(const ClusterRequest& request, std::stop_token stop,
                                const DurableHandle& durable) override;
  Result<nlohmann::json> Scale(const std::string& name, const nlohmann::json& handle, int workers,
                               Millis timeout, std::stop_token stop,
                               const DurableHandle& durable) override;
  Status Delete(const std::string& name, const nlohmann::json& handle, bool keep_logs) override;
  Result<bool> DeleteUnrecorded(const std::string& name) override { return false; }
  nlohmann::json Outputs(const nlohmann::json& handle) const override;
  Result<bool> Running(const nlohmann::json& handle) override;
  // Writes this server's lock (LocalBackendOptions::owner_lock) into the cluster's handle file
  // when another one is there; the guard reads it there (lifetime.h).
  Status Adopt(const nlohmann::json& handle) override;

  // Names of the clusters this process started and has not deleted.
  std::vector<std::string> LiveClusters() const;
  // Stops every live cluster (keeping daemon logs); the names stopped, each with the outcome.
  std::vector<std::pair<std::string, Status>> StopAll();

  // Startup time (start to ready) of a live cluster; 0 when not live.
  Millis StartupTime(const std::string& name) const;

  // Keeps `pools` filled on a thread of the backend's own until the backend is destroyed
  // (call once). Failed creates are retried after a back-off of 30 s.
  void StartPools(std::vector<PoolSpec> pools, PoolRecorder recorder);
  // Stops filling the pools (a create in progress is cancelled) and waits; idempotent.
  void StopPools();
  // An idle pooled cluster of the request's shape, live from now on under request.name with
  // the request's lifetime (the guard reads it from the handle file); nullopt when none.
  std::optional<TakenCluster> Take(const ClusterRequest& request);

 private:
  struct Live;
  std::shared_ptr<Live> Find(const std::string& name) const;
  // One pass of the pool thread: replaces idle clusters past their max age, creates missing
  // ones (blocking). `stop` ends it early.
  void FillPools(std::stop_token stop);
  // The handle file the guard reads, naming this server's lock as the owner's (when it has one).
  Status WriteGuardedHandle(const std::string& path, nlohmann::json handle);

  const LocalBackendOptions options_;
  executor::ProcessSupervisor* processes_;
  const Clock* clock_;
  Logger* logger_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<Live>> live_;
  // Pools (guarded by mu_): the specs, each pool's idle clusters (names in live_, oldest
  // first, with their creation time), and when a failed pool may try again.
  std::vector<PoolSpec> pools_;
  PoolRecorder recorder_;
  std::map<std::string, std::vector<std::pair<std::string, Time>>> idle_;
  std::map<std::string, Time> backoff_until_;
  std::condition_variable_any pool_cv_;
  std::jthread pool_thread_;  // last: stopped and joined first
};

}  // namespace sp::clusters
