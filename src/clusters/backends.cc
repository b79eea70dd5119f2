// ClusterBackends; see backends.h.
#include "clusters/backends.h"

#include <utility>

namespace sp::clusters {

ClusterBackends::ClusterBackends(BackendsConfig config, executor::ProcessSupervisor* processes,
                                 const Clock* clock, Logger* logger)
    : local_(std::move(config.local), processes, clock, logger),
      kubernetes_(std::move(config.kubernetes), clock, logger) {}

Result<ClusterBackend*> ClusterBackends::Get(std::string_view name) {
  if (name == kLocalBackend) return static_cast<ClusterBackend*>(&local_);
  if (name == kKubernetesBackend) return static_cast<ClusterBackend*>(&kubernetes_);
  return InvalidArgumentError("unknown cluster backend '" + std::string(name) +
                              "'; known backends: " + kLocalBackend + ", " + kKubernetesBackend);
}

}  // namespace sp::clusters
