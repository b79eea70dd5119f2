// ClusterBackends: the backends by name ("local", "kubernetes"), made once per owner (the
// spark_cluster task type, a reaper pass, a sweep). The Kubernetes client connects on first
// use, so a server that never uses Kubernetes never needs a kubeconfig.
#pragma once

#include <string>
#include <string_view>

#include "clusters/cluster_backend.h"
#include "clusters/kubernetes_backend.h"
#include "clusters/local_backend.h"

namespace sp::clusters {

struct BackendsConfig {
  LocalBackendOptions local;
  KubeBackendOptions kubernetes;
};

class ClusterBackends {
 public:
  // `processes` (may be null: no local clusters), `clock` and `logger` (may be null) must
  // outlive the set.
  ClusterBackends(BackendsConfig config, executor::ProcessSupervisor* processes, const Clock* clock,
                  Logger* logger);

  // InvalidArgument naming the known backends for any other name.
  Result<ClusterBackend*> Get(std::string_view name);
  LocalClusterBackend& local() { return local_; }
  KubeBackend& kubernetes() { return kubernetes_; }

 private:
  LocalClusterBackend local_;
  KubeBackend kubernetes_;
};

}  // namespace sp::clusters
