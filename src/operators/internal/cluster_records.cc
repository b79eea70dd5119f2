// Cluster record helpers; see cluster_records.h.
#include "operators/internal/cluster_records.h"

#include <algorithm>
#include <filesystem>
#include <utility>

#include "executor/process.h"

namespace sp::operators::internal {

bool MayBeRunning(const store::ClusterRecord& record) {
  return record.state == kClusterCreating || record.state == kClusterReady ||
         record.state == kClusterDeleting;
}

Result<std::optional<store::ClusterRecord>> FindClusterRecord(store::Store& store,
                                                              const std::string& name) {
  ASSIGN_OR_RETURN(std::vector<store::ClusterRecord> all,
                   store.ListClusters(/*include_deleted=*/true));
  for (store::ClusterRecord& r : all) {
    if (r.name == name) return std::optional<store::ClusterRecord>(std::move(r));
  }
  return std::optional<store::ClusterRecord>();
}

Result<std::optional<store::ClusterRecord>> FindClusterByMasterUrl(store::Store& store,
                                                                   const std::string& master_url) {
  ASSIGN_OR_RETURN(std::vector<store::ClusterRecord> all,
                   store.ListClusters(/*include_deleted=*/false));
  for (store::ClusterRecord& r : all) {
    auto url = r.handle.is_object() ? r.handle.find("master_url") : r.handle.end();
    if (r.handle.is_object() && url != r.handle.end() && url->is_string() &&
        url->get_ref<const std::string&>() == master_url) {
      return std::optional<store::ClusterRecord>(std::move(r));
    }
  }
  return std::optional<store::ClusterRecord>();
}

nlohmann::json WithCreator(nlohmann::json handle, const std::string& task_id) {
  if (!task_id.empty() && handle.is_object()) handle[kCreatedByTaskKey] = task_id;
  return handle;
}

std::string CreatorTask(const store::ClusterRecord& record) {
  if (!record.handle.is_object()) return "";
  auto it = record.handle.find(kCreatedByTaskKey);
  return it != record.handle.end() && it->is_string() ? it->get<std::string>() : "";
}

nlohmann::json WithOwner(nlohmann::json handle) {
  if (handle.is_object()) handle[kOwnerProcessKey] = executor::CurrentProcess().ToJson();
  return handle;
}

bool Abandoned(const store::ClusterRecord& record) {
  if (record.run_id != 0 || record.state == kClusterDeleted || !record.handle.is_object()) {
    return false;
  }
  if (record.backend != clusters::kLocalBackend && record.state == kClusterReady) return false;
  auto owner = record.handle.find(kOwnerProcessKey);
  if (owner == record.handle.end()) return false;  // made before owners were recorded
  Result<executor::ProcessHandle> process = executor::ProcessHandle::FromJson(*owner);
  return process.ok() && executor::CheckProcess(*process) != executor::ProcessLiveness::kRunning;
}

void ReplaceHandle(store::ClusterRecord* record, nlohmann::json handle) {
  std::string creator = CreatorTask(*record);
  std::optional<nlohmann::json> owner;
  if (record->handle.is_object() && record->handle.contains(kOwnerProcessKey)) {
    owner = record->handle[kOwnerProcessKey];
  }
  record->handle = WithCreator(std::move(handle), creator);
  if (owner && record->handle.is_object()) record->handle[kOwnerProcessKey] = *owner;
}

Result<std::vector<store::ClusterRecord>> FindClustersCreatedBy(store::Store& store, int64_t run_id,
                                                                const std::string& task_id) {
  ASSIGN_OR_RETURN(std::vector<store::ClusterRecord> all,
                   store.ListClusters(/*include_deleted=*/true));
  std::vector<store::ClusterRecord> found;
  for (store::ClusterRecord& r : all) {
    if (run_id != 0 && r.run_id == run_id && CreatorTask(r) == task_id) {
      found.push_back(std::move(r));
    }
  }
  std::stable_sort(found.begin(), found.end(),
                   [](const store::ClusterRecord& a, const store::ClusterRecord& b) {
                     return a.created_at < b.created_at;
                   });
  return found;
}

clusters::BackendsConfig BackendsConfigOf(const RuntimeConfig& c) {
  clusters::BackendsConfig b;
  std::error_code ec;
  b.local.clusters_dir = std::filesystem::absolute(c.ClustersDir(), ec).lexically_normal().string();
  b.local.spark_home = c.spark_home;
  b.local.python = c.python;
  b.local.stop_grace = kClusterStopGrace;
  b.local.guard_command = c.cluster_guard_command;
  b.local.owner_lock = c.cluster_owner_lock;
  b.local.owner_grace = c.cluster_owner_grace;
  b.kubernetes.connection = {c.kubeconfig, c.kube_context, c.kube_namespace};
  b.kubernetes.spark_image = c.spark_image;
  b.kubernetes.spark_history_pvc = c.spark_history_pvc;
  return b;
}

Status TearDown(clusters::ClusterBackends& backends, const store::ClusterRecord& record,
                bool keep_logs) {
  ASSIGN_OR_RETURN(clusters::ClusterBackend * backend, backends.Get(record.backend));
  return backend->Delete(record.name, record.handle, keep_logs);
}

Status CommitCluster(store::Store& store, const store::ClusterRecord& record) {
  store::Mutation m;
  m.clusters.push_back(record);
  return store.Commit(m).With("recording cluster '" + record.name + "'");
}

}  // namespace sp::operators::internal
