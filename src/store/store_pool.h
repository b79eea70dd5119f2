// StorePool: a Store over several connections to one database, so that concurrent readers (the
// HTTP API's handler threads) do not take turns on one connection's mutex. Each call borrows a
// free connection for its duration (waiting when all are busy). WAL lets the readers run while
// the scheduler's own connection writes.
//
// Thread safety: every method is safe to call from several threads.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/store.h"

namespace sp::store {

class StorePool final : public Store {
 public:
  explicit StorePool(std::vector<std::unique_ptr<Store>> stores);

  Status Commit(const Mutation& m) override;
  Result<std::vector<DagRecord>> ListDags() override;
  Result<std::optional<DagRecord>> GetDag(const std::string& dag_id) override;
  Result<std::vector<DagRun>> ListRuns(const RunFilter& filter) override;
  Result<std::optional<DagRun>> GetRun(int64_t id) override;
  Result<std::optional<DagRun>> FindRun(const std::string& dag_id,
                                        const std::string& run_id) override;
  Result<std::vector<TaskInstance>> ListTaskInstances(int64_t run_id) override;
  Result<std::optional<TaskInstance>> GetTaskInstance(int64_t run_id,
                                                      const std::string& task_id) override;
  Result<std::vector<TaskInstance>> ListTaskInstancesOfRuns(
      const std::vector<int64_t>& run_ids) override;
  Result<StateCounts> CountStates() override;
  Result<std::vector<StateEvent>> ListEvents(int64_t run_id) override;
  Result<std::vector<StateEvent>> ListEventsAfter(int64_t after_id, int limit) override;
  Result<int64_t> MaxEventId() override;
  Result<int64_t> RunsVersion() override;
  Result<int64_t> MaxRunId() override;
  Result<std::vector<ClusterRecord>> ListClusters(bool include_deleted) override;
  Result<std::vector<ConnectionRecord>> ListConnections() override;
  Result<std::optional<ConnectionRecord>> GetConnection(const std::string& conn_id) override;

 private:
  // Runs `fn` with a borrowed connection.
  template <typename Fn>
  auto With(Fn fn);

  std::mutex mu_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Store>> stores_;
  std::vector<Store*> free_;  // mu_
};

}  // namespace sp::store
