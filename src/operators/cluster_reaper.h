// ReapOrphanClusters: makes sure no Spark cluster outlives the run that created it. A run that
// ends without its delete task (a crash, a cancelled run, a user marking tasks) would otherwise
// leave daemons or Kubernetes objects behind. The server calls it at start and every 30 s, off
// the scheduler's loop thread (it blocks while daemons stop and Kubernetes objects go).
//
// Every ClusterRecord that is not deleted, belongs to a run (run_id != 0) and whose run is not
// active is torn down from its recorded handle and marked deleted with deleted_at: local
// daemons still running get SIGTERM, SIGKILL after a 10 s grace (work dirs removed, daemon logs
// kept); a kubernetes cluster's parent ConfigMap is deleted in the foreground and waited for.
// A ready cluster past its deadline (max_age; clusters::Lifetime in its handle) is deleted too,
// whatever its run does. Ad-hoc clusters (run_id 0) are otherwise reaped only when abandoned
// (internal::Abandoned: the command that was creating or deleting one, or that holds a local one,
// is gone); a ready Kubernetes cluster made from the CLI is left alone. Records in state failed are
// reaped too: deleted is the state that says nothing is left.
//
// Kubernetes also keeps what a store may have lost: when the kubernetes backend is in use (the
// default backend, or any record of it), the parent ConfigMaps labelled
// app.kubernetes.io/managed-by=sparkplane in the configured namespace are listed — before the
// records are read, so a create in between (record first, then parent) is never mistaken for
// an orphan — and every parent that no live record (creating, ready, deleting; or failed for a
// run still active) accounts for is deleted the same way. One store per namespace: a second
// Sparkplane server with its own store in the same namespace would reap the first one's
// clusters.
//
// Returns the first error (with the cluster's name) after trying every orphan; clusters that
// could not be torn down keep their state and are tried again on the next call.
// Thread safety: may run concurrently with task types; teardown is idempotent.
#pragma once

#include <cstdint>
#include <functional>

#include "common/status.h"
#include "operators/task_type.h"

namespace sp::operators {

// `schedules_run`: whether this server schedules an active run (several active schedulers each
// adopt the clusters of their own runs only); empty: every run.
Status ReapOrphanClusters(const Services& services,
                          std::function<bool(int64_t run_key)> run_is_active,
                          std::function<bool(int64_t run_key)> schedules_run = nullptr);

}  // namespace sp::operators
