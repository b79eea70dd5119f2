// SweepExpired; see sweep.h.
#include "clusters/sweep.h"

#include <utility>

#include "k8s/spark_cluster_objects.h"

namespace sp::clusters {

SweepDecision DecideSweep(const k8s::ManagedCluster& cluster, Time now,
                          std::optional<int> active_applications) {
  SweepDecision d;
  if (cluster.deleting) return d;
  if (cluster.deadline && Expired({cluster.deadline, Millis(0)}, now, std::nullopt)) {
    d.expired = true;
    d.reason = "its deadline " + FormatTime(*cluster.deadline) + " has passed";
    return d;
  }
  if (cluster.idle_timeout.count() <= 0 || !active_applications) return d;
  if (*active_applications > 0 || !cluster.last_busy) {
    // Busy now, or first seen idle: the idle clock starts (again) here.
    d.mark_busy = now;
    return d;
  }
  if (Expired({std::nullopt, cluster.idle_timeout}, now, cluster.last_busy)) {
    d.expired = true;
    d.reason = "it has run no application since " + FormatTime(*cluster.last_busy) +
               " (idle timeout " + k8s::FormatIdleTimeout(cluster.idle_timeout) + ")";
  }
  return d;
}

bool SweepReport::ok() const {
  for (const SweptCluster& c : expired) {
    if (!c.status.ok()) return false;
  }
  return true;
}

Result<SweepReport> SweepExpired(KubeBackend& backend, const Clock& clock,
                                 const SweepOptions& options) {
  ASSIGN_OR_RETURN(k8s::KubeClient * client, backend.Client());
  SweepReport report;
  report.namespace_name = client->default_namespace();
  report.dry_run = options.mode == SweepMode::kDryRun;
  k8s::KubernetesClusterBackend kube(client);
  Result<std::vector<k8s::ManagedCluster>> parents = kube.ListClusters(report.namespace_name);
  if (!parents.ok()) {
    return parents.status().With("listing the Spark clusters of namespace " +
                                 report.namespace_name);
  }
  const Time now = clock.Now();
  for (const k8s::ManagedCluster& c : *parents) {
    if (c.deleting) {
      ++report.already_deleting;
      continue;
    }
    std::optional<int> active;
    if (c.idle_timeout.count() > 0 && !(c.deadline && now >= *c.deadline)) {
      Result<int> asked = options.active_applications
                              ? options.active_applications(c.ui_url)
                              : backend.ActiveApplications({{"ui_url", c.ui_url}});
      if (asked.ok()) {
        active = *asked;
      } else {
        report.notes.push_back("cluster '" + c.name + "': idle timeout not checked, its master (" +
                               c.ui_url +
                               ") cannot be asked from here: " + asked.status().message());
      }
    }
    SweepDecision d = DecideSweep(c, now, active);
    if (!d.expired) {
      ++report.kept;
      if (d.mark_busy && !report.dry_run) {
        Status marked = kube.MarkBusy(report.namespace_name, c.parent, *d.mark_busy);
        if (!marked.ok() && marked.code() != StatusCode::kNotFound) {
          report.notes.push_back("cluster '" + c.name +
                                 "': its idle mark was not written: " + marked.message());
        }
      }
      continue;
    }
    SweptCluster swept{c.name, c.parent, d.reason, OkStatus()};
    if (!report.dry_run) {
      Result<bool> deleted = backend.DeleteParent(c.parent);
      if (!deleted.ok()) swept.status = deleted.status();
    }
    report.expired.push_back(std::move(swept));
  }
  return report;
}

}  // namespace sp::clusters
