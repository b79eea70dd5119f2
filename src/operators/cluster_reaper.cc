// ReapOrphanClusters; see cluster_reaper.h.
#include "operators/cluster_reaper.h"

#include <memory>
#include <optional>
#include <vector>

#include "clusters/backends.h"
#include "operators/internal/cluster_records.h"
#include "store/store.h"

namespace sp::operators {

namespace {

using clusters::kKubernetesBackend;

void Warn(const Services& services, const std::string& message) {
  if (services.logger != nullptr) services.logger->Warn("clusters", message);
}
void Info(const Services& services, const std::string& message) {
  if (services.logger != nullptr) services.logger->Info("clusters", message);
}

}  // namespace

Status ReapOrphanClusters(const Services& services,
                          std::function<bool(int64_t run_key)> run_is_active,
                          std::function<bool(int64_t run_key)> schedules_run) {
  if (services.store == nullptr || services.clock == nullptr) {
    return FailedPreconditionError("cluster reaper: no store or clock");
  }
  if (!run_is_active) return InvalidArgumentError("cluster reaper: no run_is_active function");
  ASSIGN_OR_RETURN(std::vector<store::ClusterRecord> records,
                   services.store->ListClusters(/*include_deleted=*/false));
  Status first;
  clusters::ClusterBackends backends(internal::BackendsConfigOf(services.config),
                                     services.processes, services.clock, services.logger);
  clusters::KubeBackend& kube = backends.kubernetes();

  // Parents in Kubernetes are listed before the records are read again: a create commits its
  // record before it creates the parent, so every parent listed here either has its record in
  // the second read or has none at all.
  bool kubernetes = services.config.default_cluster_backend == kKubernetesBackend;
  for (const store::ClusterRecord& r : records) kubernetes |= r.backend == kKubernetesBackend;
  std::optional<std::vector<clusters::ManagedCluster>> parents;
  std::string namespace_name;
  if (kubernetes) {
    Result<k8s::KubeClient*> client = kube.Client();
    Result<std::vector<clusters::ManagedCluster>> listed =
        client.ok() ? kube.List() : Result<std::vector<clusters::ManagedCluster>>(client.status());
    if (listed.ok()) {
      parents = std::move(*listed);
      namespace_name = (*client)->default_namespace();
    } else {
      Warn(services, "could not list Spark clusters in Kubernetes: " + listed.status().message());
      first = listed.status().With("listing Spark clusters in Kubernetes");
    }
    ASSIGN_OR_RETURN(records, services.store->ListClusters(/*include_deleted=*/false));
  }

  for (store::ClusterRecord& record : records) {
    if (record.state == internal::kClusterDeleted) continue;
    const bool abandoned = internal::Abandoned(record);
    // Past its deadline, any cluster goes (the guard or the sweep may have been first).
    const clusters::Lifetime lifetime = clusters::Lifetime::FromJson(record.handle);
    const bool expired = record.state == internal::kClusterReady &&
                         clusters::Expired(lifetime, services.clock->Now(), std::nullopt);
    // Deleted behind the scheduler's back (its guard, the sweep, a user): only the record is left.
    bool vanished = false;
    if (!expired && record.state == internal::kClusterReady) {
      Result<clusters::ClusterBackend*> backend = backends.Get(record.backend);
      Result<bool> running =
          backend.ok() ? (*backend)->Running(record.handle) : Result<bool>(backend.status());
      vanished = running.ok() && !*running;
    }
    if (!expired && !vanished && (record.run_id == 0 ? !abandoned : run_is_active(record.run_id))) {
      // Kept for its active run, which this server now schedules (perhaps after a takeover).
      if (record.run_id != 0 && record.state == internal::kClusterReady &&
          (!schedules_run || schedules_run(record.run_id))) {
        Result<clusters::ClusterBackend*> backend = backends.Get(record.backend);
        Status adopted = backend.ok() ? (*backend)->Adopt(record.handle) : backend.status();
        if (!adopted.ok()) Warn(services, adopted.message());
      }
      continue;
    }
    Status torn = internal::TearDown(backends, record, /*keep_logs=*/true);
    if (!torn.ok()) {
      Warn(services, "could not reap cluster '" + record.name + "' of run " +
                         std::to_string(record.run_id) + ": " + torn.message());
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
    Info(services,
         "reaped cluster '" + record.name + "' (was " + was + "): " +
             (expired ? "its max age was reached (deadline " + FormatTime(*lifetime.deadline) + ")"
              : vanished  ? std::string("nothing of it runs any more (its guard, the "
                                         "sweep or a user deleted it)")
              : abandoned ? std::string("the command that made it is gone")
                          : "its run " + std::to_string(record.run_id) + " is no longer active"));
  }

  // Parents no record accounts for: their store record is missing (another data directory, a
  // lost database), or says the cluster is gone while Kubernetes still has it.
  if (parents) {
    for (const clusters::ManagedCluster& parent : *parents) {
      if (parent.deleting) continue;  // the garbage collector is on it
      bool accounted = false;
      for (const store::ClusterRecord& r : records) {
        if (r.backend != kKubernetesBackend || r.name != parent.name) continue;
        if (!internal::MayBeRunning(r) && r.state != internal::kClusterFailed) continue;
        if (r.handle.is_object() && r.handle.value("parent", "") == parent.id &&
            r.handle.value("namespace", "") == namespace_name) {
          // A live record; a failed one is accounted for by the pass above only when its run
          // is still active (a retry may be about to reuse the name).
          accounted = internal::MayBeRunning(r) || (r.run_id != 0 && run_is_active(r.run_id));
        }
      }
      if (accounted) continue;
      Result<bool> deleted = kube.DeleteParent(parent.id);
      if (!deleted.ok()) {
        Warn(services, "could not reap Kubernetes Spark cluster '" + parent.name +
                           "': " + deleted.status().message());
        if (first.ok()) first = deleted.status().With("reaping cluster '" + parent.name + "'");
        continue;
      }
      Info(services, "reaped Kubernetes Spark cluster '" + parent.name + "' (configmap " +
                         parent.id + ", run " + std::to_string(parent.run_key) +
                         "): no live record of it in the store");
    }
  }
  return first;
}

}  // namespace sp::operators
