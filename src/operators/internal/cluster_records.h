// Cluster records (store::ClusterRecord) as the Spark task types and the orphan reaper use them:
// the state names, finding a record by name, master URL or creating task, and the cluster
// backends (clusters/backends.h) configured from the server's RuntimeConfig.
//
// A create stamps its task id into the record's handle (kCreatedByTaskKey, next to the
// backend's own fields, which the backends' FromJson ignore) from the first commit on, and
// every later handle update keeps it (ReplaceHandle). With the record's run_id this lets a
// teardown find the cluster its run's create task made, whatever happened to that create
// (FindClustersCreatedBy): the create's outputs may never have been published.
//
// An ad-hoc cluster (run 0, made by `sparkplane cluster create`) has no run to outlive, so its
// handle names its owner instead (kOwnerProcessKey: the pid + start time of the process that
// creates it, or deletes it; a local cluster's daemons live as long as that process). A record
// whose owner is gone while it was still being created or deleted — or, for the local backend,
// at all — is abandoned (Abandoned): the orphan reaper and the next create of the name tear it
// down. A ready Kubernetes cluster made from the CLI is meant to outlive the command: kept.
//
// Private to operators/. Free functions; thread-safe (the store is).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "clusters/backends.h"
#include "common/clock.h"
#include "common/status.h"
#include "operators/task_type.h"
#include "store/records.h"
#include "store/store.h"

namespace sp::operators::internal {

// ClusterRecord::state values.
inline constexpr char kClusterCreating[] = "creating";
inline constexpr char kClusterReady[] = "ready";
inline constexpr char kClusterDeleting[] = "deleting";
inline constexpr char kClusterDeleted[] = "deleted";
inline constexpr char kClusterFailed[] = "failed";

// How long daemons get between SIGTERM and SIGKILL when a cluster is stopped.
inline constexpr Millis kClusterStopGrace{10000};

// A cluster whose daemons may be running: creating, ready or deleting.
bool MayBeRunning(const store::ClusterRecord& record);

// The record named `name`, deleted ones included; nullopt when there is none.
Result<std::optional<store::ClusterRecord>> FindClusterRecord(store::Store& store,
                                                              const std::string& name);

// The not-deleted record whose handle's master_url is `master_url`; nullopt when none.
Result<std::optional<store::ClusterRecord>> FindClusterByMasterUrl(store::Store& store,
                                                                   const std::string& master_url);

// The handle key that names the task (of the record's run) whose create made the cluster.
inline constexpr char kCreatedByTaskKey[] = "created_by_task";

// `handle` with `task_id` recorded as its creator (unchanged when `task_id` is empty or the
// handle is not an object).
nlohmann::json WithCreator(nlohmann::json handle, const std::string& task_id);

// The creating task a record's handle names; "" when none.
std::string CreatorTask(const store::ClusterRecord& record);

// The handle key naming the warm pool a pooled cluster belongs to (while it is idle).
inline constexpr char kPoolKey[] = "pool";

// The handle key of an ad-hoc cluster's owner process (executor::ProcessHandle as JSON).
inline constexpr char kOwnerProcessKey[] = "owner_process";

// `handle` with the calling process recorded as its owner (unchanged when not an object).
nlohmann::json WithOwner(nlohmann::json handle);

// True for an ad-hoc record (run 0, not deleted) whose owner process is gone and that is not a
// ready cluster of a backend that outlives its command (see the header comment).
bool Abandoned(const store::ClusterRecord& record);

// Sets record->handle to `handle`, keeping the creator and owner the old handle named.
void ReplaceHandle(store::ClusterRecord* record, nlohmann::json handle);

// The records of run `run_id` whose creator is `task_id`, deleted ones included, oldest first.
Result<std::vector<store::ClusterRecord>> FindClustersCreatedBy(store::Store& store, int64_t run_id,
                                                                const std::string& task_id);

// The cluster backends' configuration from the server's (clusters dir, Spark, Kubernetes
// connection, the local guard and its owner lock).
clusters::BackendsConfig BackendsConfigOf(const RuntimeConfig& config);

// Tears down the cluster a record's handle names with its backend (see ClusterBackend::Delete).
Status TearDown(clusters::ClusterBackends& backends, const store::ClusterRecord& record,
                bool keep_logs);

// Upserts one record.
Status CommitCluster(store::Store& store, const store::ClusterRecord& record);

}  // namespace sp::operators::internal
