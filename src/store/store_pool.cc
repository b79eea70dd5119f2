// StorePool (see store_pool.h).
#include "store/store_pool.h"

#include <algorithm>

namespace sp::store {

StorePool::StorePool(std::vector<std::unique_ptr<Store>> stores) : stores_(std::move(stores)) {
  for (auto& s : stores_) free_.push_back(s.get());
}

template <typename Fn>
auto StorePool::With(Fn fn) {
  Store* s;
  {
    std::unique_lock<std::mutex> lock(mu_);
    freed_.wait(lock, [&] { return !free_.empty(); });
    s = free_.back();
    free_.pop_back();
  }
  struct Return {
    StorePool* pool;
    Store* s;
    ~Return() {
      {
        std::lock_guard<std::mutex> lock(pool->mu_);
        pool->free_.push_back(s);
      }
      pool->freed_.notify_one();
    }
  } give_back{this, s};
  return fn(*s);
}

Status StorePool::Commit(const Mutation& m) {
  return With([&](Store& s) { return s.Commit(m); });
}
Result<std::vector<DagRecord>> StorePool::ListDags() {
  return With([&](Store& s) { return s.ListDags(); });
}
Result<std::optional<DagRecord>> StorePool::GetDag(const std::string& dag_id) {
  return With([&](Store& s) { return s.GetDag(dag_id); });
}
Result<std::vector<DagRun>> StorePool::ListRuns(const RunFilter& filter) {
  return With([&](Store& s) { return s.ListRuns(filter); });
}
Result<std::optional<DagRun>> StorePool::GetRun(int64_t id) {
  return With([&](Store& s) { return s.GetRun(id); });
}
Result<std::optional<DagRun>> StorePool::FindRun(const std::string& dag_id,
                                                 const std::string& run_id) {
  return With([&](Store& s) { return s.FindRun(dag_id, run_id); });
}
Result<std::vector<TaskInstance>> StorePool::ListTaskInstances(int64_t run_id) {
  return With([&](Store& s) { return s.ListTaskInstances(run_id); });
}
Result<std::optional<TaskInstance>> StorePool::GetTaskInstance(int64_t run_id,
                                                               const std::string& task_id) {
  return With([&](Store& s) { return s.GetTaskInstance(run_id, task_id); });
}
Result<std::vector<TaskInstance>> StorePool::ListTaskInstancesOfRuns(
    const std::vector<int64_t>& run_ids) {
  return With([&](Store& s) { return s.ListTaskInstancesOfRuns(run_ids); });
}
Result<StateCounts> StorePool::CountStates() {
  return With([&](Store& s) { return s.CountStates(); });
}
Result<std::vector<StateEvent>> StorePool::ListEvents(int64_t run_id) {
  return With([&](Store& s) { return s.ListEvents(run_id); });
}
Result<std::vector<StateEvent>> StorePool::ListEventsAfter(int64_t after_id, int limit) {
  return With([&](Store& s) { return s.ListEventsAfter(after_id, limit); });
}
Result<int64_t> StorePool::MaxEventId() {
  return With([&](Store& s) { return s.MaxEventId(); });
}

Result<int64_t> StorePool::RunsVersion() {
  return With([&](Store& s) { return s.RunsVersion(); });
}
Result<int64_t> StorePool::MaxRunId() {
  return With([&](Store& s) { return s.MaxRunId(); });
}
Result<std::vector<ClusterRecord>> StorePool::ListClusters(bool include_deleted) {
  return With([&](Store& s) { return s.ListClusters(include_deleted); });
}
Result<std::vector<ConnectionRecord>> StorePool::ListConnections() {
  return With([&](Store& s) { return s.ListConnections(); });
}
Result<std::optional<ConnectionRecord>> StorePool::GetConnection(const std::string& conn_id) {
  return With([&](Store& s) { return s.GetConnection(conn_id); });
}

}  // namespace sp::store
