#include "cli/runtime.h"

#include <filesystem>

#include "store/open.h"

namespace sp::cli {

Result<std::unique_ptr<Runtime>> OpenRuntime(const ConfigFlags& flags, ClusterOwner owner,
                                             int64_t fence_epoch) {
  auto rt = std::make_unique<Runtime>();
  ASSIGN_OR_RETURN(rt->config, ResolveConfig(flags));
  RETURN_IF_ERROR(EnsureDataDirs(rt->config));
  rt->logger = std::make_unique<Logger>(rt->clock, rt->config.log_level);
  ASSIGN_OR_RETURN(rt->store, store::OpenStore(rt->config.StoreLocation()));
  if (fence_epoch != 0) rt->store->FenceWrites(fence_epoch);
  rt->processes = std::make_unique<executor::ProcessSupervisor>(executor::DefaultPassEnv(),
                                                                rt->config.task_nice);
  rt->services.clock = &rt->clock;
  rt->services.logger = rt->logger.get();
  rt->services.processes = rt->processes.get();
  rt->services.store = rt->store.get();
  rt->services.config.data_dir = rt->config.data_dir;
  rt->services.config.spark_home = rt->config.spark_home;
  rt->services.config.python = rt->config.python;
  rt->services.config.default_cluster_backend = rt->config.default_cluster_backend;
  rt->services.config.secret_key_path = rt->config.secret_key_file;
  rt->services.config.kubeconfig = rt->config.kubeconfig;
  rt->services.config.kube_context = rt->config.kube_context;
  rt->services.config.kube_namespace = rt->config.kube_namespace;
  rt->services.config.spark_image = rt->config.spark_image;
  rt->services.config.spark_history_pvc = rt->config.spark_history_pvc;
  rt->services.config.driver_port = rt->config.driver_port;
  rt->services.config.block_manager_port = rt->config.block_manager_port;
  rt->services.config.pod_ip = rt->config.pod_ip;
  rt->services.config.cluster_max_age = rt->config.cluster_max_age;
  rt->services.config.cluster_owner_grace = rt->config.cluster_owner_grace;
  // Local clusters get a guard (clusters/lifetime.h): this very program, `cluster guard`.
  std::error_code ec;
  std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (!ec) rt->services.config.cluster_guard_command = {self, "cluster", "guard"};
  if (owner == ClusterOwner::kServerLock) {
    rt->services.config.cluster_owner_lock = rt->config.LockPath();
    rt->services.config.cluster_pools = rt->config.cluster_pools;
  }
  rt->registry = operators::BuildRegistry(&rt->services);
  return rt;
}

}  // namespace sp::cli
