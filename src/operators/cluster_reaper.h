// ReapOrphanClusters: makes sure no Spark cluster outlives the run that created it. A run that
// ends without its delete task (a crash, a cancelled run, a user marking tasks) would otherwise
// leave daemons behind. The server calls it at start and every 30 s, off the scheduler's loop
// thread (it blocks while daemons stop).
//
// Every ClusterRecord that is not deleted, belongs to a run (run_id != 0) and whose run is not
// active is torn down from its recorded handle (daemons still running get SIGTERM, SIGKILL after
// a 10 s grace; work dirs removed, daemon logs kept) and marked deleted with deleted_at. Ad-hoc
// clusters (run_id 0) are left alone. Records in state failed are reaped too: their daemons
// are already gone, and deleted is the state that says nothing is left.
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

Status ReapOrphanClusters(const Services& services,
                          std::function<bool(int64_t run_key)> run_is_active);

}  // namespace sp::operators
