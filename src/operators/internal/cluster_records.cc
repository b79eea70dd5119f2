// Cluster record helpers; see cluster_records.h.
#include "operators/internal/cluster_records.h"

#include <algorithm>
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
  if (record.backend != kLocalBackend && record.state == kClusterReady) return false;
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

Status TearDownCluster(const store::ClusterRecord& record, Millis grace,
                       spark::DirCleanup cleanup) {
  if (record.backend != kLocalBackend) {
    return FailedPreconditionError(
        "cluster '" + record.name + "' has backend '" + record.backend +
        "', which this server cannot tear down (known backends: " + kLocalBackend + ")");
  }
  if (record.handle.is_null() || (record.handle.is_object() && record.handle.empty())) {
    return OkStatus();  // recorded before anything was started
  }
  Result<spark::LocalClusterHandle> handle = spark::LocalClusterHandle::FromJson(record.handle);
  if (!handle.ok()) {
    return FailedPreconditionError("cluster '" + record.name +
                                   "': its recorded handle is unreadable (" +
                                   handle.status().message() + ")");
  }
  return spark::LocalCluster::TearDown(*handle, grace, cleanup);
}

Status CommitCluster(store::Store& store, const store::ClusterRecord& record) {
  store::Mutation m;
  m.clusters.push_back(record);
  return store.Commit(m).With("recording cluster '" + record.name + "'");
}

}  // namespace sp::operators::internal
