// ReapOrphanClusters; see cluster_reaper.h.
#include "operators/cluster_reaper.h"

#include <vector>

#include "operators/internal/cluster_records.h"
#include "store/store.h"

namespace sp::operators {

Status ReapOrphanClusters(const Services& services,
                          std::function<bool(int64_t run_key)> run_is_active) {
  if (services.store == nullptr || services.clock == nullptr) {
    return FailedPreconditionError("cluster reaper: no store or clock");
  }
  if (!run_is_active) return InvalidArgumentError("cluster reaper: no run_is_active function");
  ASSIGN_OR_RETURN(std::vector<store::ClusterRecord> records,
                   services.store->ListClusters(/*include_deleted=*/false));
  Status first;
  for (store::ClusterRecord& record : records) {
    if (record.run_id == 0 || record.state == internal::kClusterDeleted) continue;
    if (run_is_active(record.run_id)) continue;
    Status torn = internal::TearDownCluster(record, internal::kClusterStopGrace,
                                            spark::DirCleanup::kKeepLogs);
    if (!torn.ok()) {
      if (services.logger != nullptr) {
        services.logger->Warn("clusters", "could not reap cluster '" + record.name + "' of run " +
                                              std::to_string(record.run_id) + ": " +
                                              torn.message());
      }
      if (first.ok()) first = torn.With("reaping cluster '" + record.name + "'");
      continue;
    }
    std::string was = record.state;
    record.state = internal::kClusterDeleted;
    record.deleted_at = services.clock->Now();
    Status saved = internal::CommitCluster(*services.store, record);
    if (!saved.ok()) {
      if (first.ok()) first = saved;
      continue;
    }
    if (services.logger != nullptr) {
      services.logger->Info("clusters", "reaped cluster '" + record.name + "' (was " + was +
                                            "): its run " + std::to_string(record.run_id) +
                                            " is no longer active");
    }
  }
  return first;
}

}  // namespace sp::operators
