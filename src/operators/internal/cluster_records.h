// Cluster records (store::ClusterRecord) as the Spark task types and the orphan reaper use them:
// the state names, finding a record by name or master URL, and tearing a cluster down from the
// handle its record holds (the way to reach daemons this server process did not start).
//
// Private to operators/. Free functions; thread-safe (the store is).
#pragma once

#include <optional>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "spark/local_cluster.h"
#include "store/records.h"
#include "store/store.h"

namespace sp::operators::internal {

// ClusterRecord::state values.
inline constexpr char kClusterCreating[] = "creating";
inline constexpr char kClusterReady[] = "ready";
inline constexpr char kClusterDeleting[] = "deleting";
inline constexpr char kClusterDeleted[] = "deleted";
inline constexpr char kClusterFailed[] = "failed";

// ClusterRecord::backend values (the only one so far).
inline constexpr char kLocalBackend[] = "local";

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

// Stops every daemon the record's handle names that is still the same process (pid + start
// time), then cleans the cluster dir as `cleanup` says. OK when nothing ran or the handle is
// empty. FailedPrecondition for an unknown backend or an unreadable handle; Unavailable when
// a daemon survived SIGKILL.
Status TearDownCluster(const store::ClusterRecord& record, Millis grace, spark::DirCleanup cleanup);

// Upserts one record.
Status CommitCluster(store::Store& store, const store::ClusterRecord& record);

}  // namespace sp::operators::internal
