// SweepExpired: what `sparkplane cluster sweep` does, so that a Kubernetes cluster cannot outlive
// its lifetime even when no scheduler runs (issue 14). deploy/base/sweep.yaml runs it every
// minute as a CronJob in the scheduler's namespace, with the scheduler's service account.
//
// It lists the parent ConfigMaps of the namespace (k8s::KubernetesClusterBackend::ListClusters:
// the lifetime annotations the parent builder wrote, k8s/spark_cluster_objects.h) and deletes,
// one after the other, in the foreground and waited for (KubeBackend::DeleteParent), every
// cluster that is expired (clusters::Expired):
//   - its deadline (sparkplane.io/deadline, max_age after its creation) has passed;
//   - it has an idle timeout (sparkplane.io/idle-timeout) and has run no application for that
//     long. Idleness is read from the master's web UI (/json/, KubeBackend::ActiveApplications),
//     which only pods the cluster's NetworkPolicy admits can reach: the scheduler's and the
//     sweep's. The idle clock is the parent's sparkplane.io/last-busy annotation, which the sweep
//     sets to now whenever the master runs an application, and when it first finds the master
//     answering with none (as the local guard, lifetime.h, starts counting once the cluster
//     answers). A master that cannot be asked (from outside the cluster's network, or while it
//     starts) changes nothing: the cluster is kept and the report says why. So a sweep run from
//     a laptop enforces deadlines only; the CronJob enforces both, to within its schedule (a
//     minute) plus the time to delete.
// A parent already being deleted is left to the garbage collector. The records in the
// scheduler's store are not touched: the reaper marks a cluster it finds gone as deleted
// (ClusterBackend::Running).
//
// Thread safety: one sweep at a time per backend is the intended use (the CronJob forbids
// overlapping runs); two sweeps at once only repeat each other's idempotent deletes.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "clusters/kubernetes_backend.h"
#include "common/clock.h"
#include "common/status.h"
#include "k8s/kubernetes_cluster_backend.h"

namespace sp::clusters {

enum class SweepMode { kDelete, kDryRun };

struct SweepOptions {
  SweepMode mode = SweepMode::kDelete;  // kDryRun: delete nothing, mark nothing, report all
  // The running applications of a master, from its web UI URL; Unavailable when it cannot be
  // asked. Empty: KubeBackend::ActiveApplications. Tests replace it.
  std::function<Result<int>(const std::string& ui_url)> active_applications;
};

// What to do with one parent (the pure part of a sweep).
struct SweepDecision {
  bool expired = false;
  std::string reason;             // why it is expired ("" when not)
  std::optional<Time> mark_busy;  // set the parent's last-busy annotation to this
};

// `active_applications`: the master's running applications, or nullopt when it could not be
// asked (or was not: no idle timeout). A parent being deleted is never expired here.
SweepDecision DecideSweep(const k8s::ManagedCluster& cluster, Time now,
                          std::optional<int> active_applications);

struct SweptCluster {
  std::string name;    // the cluster's name
  std::string parent;  // its parent ConfigMap
  std::string reason;  // why it was expired
  Status status;       // OK: deleted (dry run: would be); else why the delete failed
};

struct SweepReport {
  std::string namespace_name;
  bool dry_run = false;
  std::vector<SweptCluster> expired;  // in the order they were deleted
  int kept = 0;                       // live clusters left alone
  int already_deleting = 0;           // parents with a deletionTimestamp
  // Idle timeouts that could not be checked and marks that could not be written: not errors,
  // the next sweep tries again.
  std::vector<std::string> notes;

  // Every expired cluster was deleted.
  bool ok() const;
};

// See the header comment. An error only when the parents cannot be listed (or the client cannot
// connect); a failed delete is in the report and the sweep goes on with the others.
Result<SweepReport> SweepExpired(KubeBackend& backend, const Clock& clock,
                                 const SweepOptions& options = {});

}  // namespace sp::clusters
