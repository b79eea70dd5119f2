// KubeBackend: the ClusterBackend of the `kubernetes` backend, over
// k8s::KubernetesClusterBackend (see k8s/kubernetes_cluster_backend.h for the objects, the
// watches and the rollback). The client of the configured API server is made on first use and
// kept; clusters live in its default namespace. A request's lifetime becomes annotations of the
// parent object, read by `sparkplane cluster sweep` (a CronJob in the namespace) and the
// scheduler's reaper.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "clusters/cluster_backend.h"
#include "common/log.h"
#include "k8s/client.h"
#include "k8s/kubernetes_cluster_backend.h"

namespace sp::clusters {

struct KubeBackendOptions {
  k8s::KubeConnection connection;
  std::string spark_image = "apache/spark:4.0.1";              // when a request gives none
  std::string spark_history_pvc = "sparkplane-spark-history";  // "" : no event-log volume
  Millis delete_timeout{120000};
};

// The Kubernetes spec of a request in `namespace_name`, with the options' image and event-log
// claim where the request gives none.
k8s::SparkClusterSpec KubeSpec(const ClusterRequest& request, const std::string& namespace_name,
                               const KubeBackendOptions& options);

class KubeBackend : public ClusterBackend {
 public:
  // `clock` and `logger` (may be null) must outlive the backend.
  KubeBackend(KubeBackendOptions options, const Clock* clock, Logger* logger);
  // A backend over an existing client (which must outlive it).
  KubeBackend(KubeBackendOptions options, k8s::KubeClient* client, Logger* logger);

  std::string_view Name() const override { return kKubernetesBackend; }
  Result<nlohmann::json> Plan(const ClusterRequest& request) override;
  Result<nlohmann::json> Create(const ClusterRequest& request, std::stop_token stop,
                                const DurableHandle& durable) override;
  Result<nlohmann::json> Scale(const std::string& name, const nlohmann::json& handle, int workers,
                               Millis timeout, std::stop_token stop,
                               const DurableHandle& durable) override;
  Status Delete(const std::string& name, const nlohmann::json& handle, bool keep_logs) override;
  Result<bool> DeleteUnrecorded(const std::string& name) override;
  nlohmann::json Outputs(const nlohmann::json& handle) const override;
  // Every parent in the namespace, with its lifetime annotations.
  Result<std::vector<ManagedCluster>> List();
  Result<bool> Running(const nlohmann::json& handle) override;
  Status Adopt(const nlohmann::json&) override { return OkStatus(); }
  // Running applications on the cluster's master; Unavailable when the master cannot be
  // asked from here (the sweep's idle check then changes nothing).
  Result<int> ActiveApplications(const nlohmann::json& handle);

  // The client, connected on first use.
  Result<k8s::KubeClient*> Client();
  // Deletes the parent named `parent` in the client's namespace (a cluster found by List());
  // true when it existed.
  Result<bool> DeleteParent(const std::string& parent);

 private:
  const KubeBackendOptions options_;
  const Clock* clock_;
  Logger* logger_;
  std::mutex mu_;
  std::unique_ptr<k8s::KubeClient> owned_;  // guarded by mu_
  k8s::KubeClient* client_ = nullptr;       // guarded by mu_
};

}  // namespace sp::clusters
