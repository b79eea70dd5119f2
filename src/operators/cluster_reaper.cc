// ReapOrphanClusters; see cluster_reaper.h.
#include "operators/cluster_reaper.h"

#include <memory>
#include <optional>
#include <vector>

#include "k8s/client.h"
#include "k8s/kubernetes_cluster_backend.h"
#include "operators/internal/cluster_records.h"
#include "store/store.h"

namespace sp::operators {

namespace {

constexpr char kKubernetesBackend[] = "kubernetes";
constexpr Millis kKubeDeleteTimeout{120000};

// The Kubernetes side of one reaper pass: a client made on first use.
class KubeReaper {
 public:
  explicit KubeReaper(const Services& services) : services_(services) {}

  Result<k8s::KubernetesClusterBackend*> Backend() {
    if (backend_) return backend_.get();
    const RuntimeConfig& c = services_.config;
    ASSIGN_OR_RETURN(client_, k8s::ConnectKube({c.kubeconfig, c.kube_context, c.kube_namespace},
                                               *services_.clock, services_.logger));
    backend_ = std::make_unique<k8s::KubernetesClusterBackend>(client_.get());
    return backend_.get();
  }
  const std::string& namespace_name() const { return client_->default_namespace(); }

  Status TearDown(const store::ClusterRecord& record) {
    if (record.handle.is_null() || (record.handle.is_object() && record.handle.empty())) {
      return OkStatus();
    }
    Result<k8s::KubeClusterHandle> handle = k8s::KubeClusterHandle::FromJson(record.handle);
    if (!handle.ok()) {
      return FailedPreconditionError("its recorded handle is unreadable (" +
                                     handle.status().message() + ")");
    }
    ASSIGN_OR_RETURN(k8s::KubernetesClusterBackend * backend, Backend());
    return backend->Delete(handle->namespace_name, handle->parent, kKubeDeleteTimeout).status();
  }

 private:
  const Services& services_;
  std::unique_ptr<k8s::KubeClient> client_;
  std::unique_ptr<k8s::KubernetesClusterBackend> backend_;
};

void Warn(const Services& services, const std::string& message) {
  if (services.logger != nullptr) services.logger->Warn("clusters", message);
}
void Info(const Services& services, const std::string& message) {
  if (services.logger != nullptr) services.logger->Info("clusters", message);
}

}  // namespace

Status ReapOrphanClusters(const Services& services,
                          std::function<bool(int64_t run_key)> run_is_active) {
  if (services.store == nullptr || services.clock == nullptr) {
    return FailedPreconditionError("cluster reaper: no store or clock");
  }
  if (!run_is_active) return InvalidArgumentError("cluster reaper: no run_is_active function");
  ASSIGN_OR_RETURN(std::vector<store::ClusterRecord> records,
                   services.store->ListClusters(/*include_deleted=*/false));
  Status first;
  KubeReaper kube(services);

  // Parents in Kubernetes are listed before the records are read again: a create commits its
  // record before it creates the parent, so every parent listed here either has its record in
  // the second read or has none at all.
  bool kubernetes = services.config.default_cluster_backend == kKubernetesBackend;
  for (const store::ClusterRecord& r : records) kubernetes |= r.backend == kKubernetesBackend;
  std::optional<std::vector<k8s::ManagedCluster>> parents;
  if (kubernetes) {
    Result<k8s::KubernetesClusterBackend*> backend = kube.Backend();
    Result<std::vector<k8s::ManagedCluster>> listed =
        backend.ok() ? (*backend)->ListClusters(kube.namespace_name())
                     : Result<std::vector<k8s::ManagedCluster>>(backend.status());
    if (listed.ok()) {
      parents = std::move(*listed);
    } else {
      Warn(services, "could not list Spark clusters in Kubernetes: " + listed.status().message());
      first = listed.status().With("listing Spark clusters in Kubernetes");
    }
    ASSIGN_OR_RETURN(records, services.store->ListClusters(/*include_deleted=*/false));
  }

  for (store::ClusterRecord& record : records) {
    if (record.state == internal::kClusterDeleted) continue;
    const bool abandoned = internal::Abandoned(record);
    if (record.run_id == 0 ? !abandoned : run_is_active(record.run_id)) continue;
    Status torn = record.backend == kKubernetesBackend
                      ? kube.TearDown(record)
                      : internal::TearDownCluster(record, internal::kClusterStopGrace,
                                                  spark::DirCleanup::kKeepLogs);
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
             (abandoned ? std::string("the command that made it is gone")
                        : "its run " + std::to_string(record.run_id) + " is no longer active"));
  }

  // Parents no record accounts for: their store record is missing (another data directory, a
  // lost database), or says the cluster is gone while Kubernetes still has it.
  if (parents) {
    for (const k8s::ManagedCluster& parent : *parents) {
      if (parent.deleting) continue;  // the garbage collector is on it
      bool accounted = false;
      for (const store::ClusterRecord& r : records) {
        if (r.backend != kKubernetesBackend || r.name != parent.name) continue;
        if (!internal::MayBeRunning(r) && r.state != internal::kClusterFailed) continue;
        Result<k8s::KubeClusterHandle> h = k8s::KubeClusterHandle::FromJson(r.handle);
        if (h.ok() && h->parent == parent.parent && h->namespace_name == kube.namespace_name()) {
          // A live record; a failed one is accounted for by the pass above only when its run
          // is still active (a retry may be about to reuse the name).
          accounted = internal::MayBeRunning(r) || (r.run_id != 0 && run_is_active(r.run_id));
        }
      }
      if (accounted) continue;
      Result<k8s::KubernetesClusterBackend*> backend = kube.Backend();
      Result<bool> deleted = backend.ok() ? (*backend)->Delete(kube.namespace_name(), parent.parent,
                                                               kKubeDeleteTimeout)
                                          : Result<bool>(backend.status());
      if (!deleted.ok()) {
        Warn(services, "could not reap Kubernetes Spark cluster '" + parent.name +
                           "': " + deleted.status().message());
        if (first.ok()) first = deleted.status().With("reaping cluster '" + parent.name + "'");
        continue;
      }
      Info(services, "reaped Kubernetes Spark cluster '" + parent.name + "' (configmap " +
                         parent.parent + ", run " + std::to_string(parent.run_key) +
                         "): no live record of it in the store");
    }
  }
  return first;
}

}  // namespace sp::operators
