// Store: the durable metadata seam. The scheduler depends only on this interface so that a
// PostgreSQL implementation can follow SqliteStore without touching it.
//
// Writes go through Commit(Mutation): every change in a Mutation is applied in one transaction,
// all or nothing; this is how a scheduler Plan becomes durable before any effect runs.
// Reads return copies.
//
// Thread safety: implementations are safe to call from several threads (the scheduler's loop
// writes; the CLI/API threads read).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "store/records.h"

namespace sp::store {

// A batch of writes applied atomically. Upserts are by natural key:
// DagRecord by dag_id, DagRun by id, TaskInstance by (run_id, task_id),
// ClusterRecord by name, ConnectionRecord by conn_id.
//
// New runs are inserted, never upserted: a run key or (dag_id, run_id) already used (by another
// process sharing the database, or an earlier run) fails the whole Mutation with AlreadyExists
// instead of silently replacing a run. The message says which of the two clashed.
struct Mutation {
  std::vector<DagRecord> dags;
  std::vector<std::string> delete_dags;  // `dags delete`: records only (runs are kept)
  std::vector<DagRun> new_runs;          // inserted
  std::vector<DagRun> runs;              // changed (upserted by id)
  std::vector<TaskInstance> task_instances;
  std::vector<StateEvent> events;
  std::vector<ClusterRecord> clusters;
  std::vector<ConnectionRecord> connections;
  std::vector<std::string> delete_connections;
  // Retention: each run with its task instances, state events and the records of its clusters
  // that are already deleted (a live cluster's record stays for the reaper). Applied last.
  std::vector<int64_t> delete_runs;
  // A command relayed through the database (store/postgres/command_relay.h) that this commit's
  // decision answers: marked done with `answer` in the same transaction, so a command is applied
  // once or not at all. The whole Mutation fails with FailedPrecondition when the command is no
  // longer pending (its sender withdrew it). PostgreSQL only. Applied last.
  struct CommandAnswer {
    int64_t id = 0;
    std::string answer;  // JSON text
  };
  std::optional<CommandAnswer> command_answer;

  bool empty() const {
    return dags.empty() && delete_dags.empty() && new_runs.empty() && runs.empty() &&
           task_instances.empty() && events.empty() && clusters.empty() && connections.empty() &&
           delete_connections.empty() && delete_runs.empty() && !command_answer;
  }
};

struct RunFilter {
  std::optional<std::string> dag_id;
  std::optional<RunState> state;
  bool only_active = false;  // queued or running
  // Finished runs (success, failed, cancelled) that ended before this time, oldest first.
  std::optional<Time> ended_before;
  int limit = 100;  // newest first (oldest first with ended_before)
  // Paging (newest first): only runs whose key is below this one (the last key of a page).
  std::optional<int64_t> before_key;
  // Only runs whose logical date is before this one, latest logical date first (then newest key):
  // with dag_id, state success and limit 1, the previous successful run of a run, as Airflow
  // finds it for the prev_*_success template values. Not combined with ended_before.
  std::optional<Time> logical_date_before;
};

// How many runs and task instances are in each state (for metrics); states with none are absent.
struct StateCounts {
  std::vector<std::pair<std::string, int64_t>> runs;
  std::vector<std::pair<std::string, int64_t>> task_instances;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Status Commit(const Mutation& m) = 0;

  virtual Result<std::vector<DagRecord>> ListDags() = 0;
  virtual Result<std::optional<DagRecord>> GetDag(const std::string& dag_id) = 0;

  virtual Result<std::vector<DagRun>> ListRuns(const RunFilter& filter) = 0;
  virtual Result<std::optional<DagRun>> GetRun(int64_t id) = 0;
  virtual Result<std::optional<DagRun>> FindRun(const std::string& dag_id,
                                                const std::string& run_id) = 0;
  virtual Result<std::vector<TaskInstance>> ListTaskInstances(int64_t run_id) = 0;
  // One task instance of a run (nullopt when the run has no such task).
  virtual Result<std::optional<TaskInstance>> GetTaskInstance(int64_t run_id,
                                                              const std::string& task_id) = 0;
  // The task instances of several runs in one query, ordered by run key then task id.
  virtual Result<std::vector<TaskInstance>> ListTaskInstancesOfRuns(
      const std::vector<int64_t>& run_ids) = 0;
  virtual Result<StateCounts> CountStates() = 0;
  virtual Result<std::vector<StateEvent>> ListEvents(int64_t run_id) = 0;
  // Every run's events with an id above `after_id`, in id order, at most `limit` (the feed of
  // the HTTP API's event stream: ids are its resumable positions).
  virtual Result<std::vector<StateEvent>> ListEventsAfter(int64_t after_id, int limit) = 0;
  // The largest state-event id so far (0 if none).
  virtual Result<int64_t> MaxEventId() = 0;
  // A number that changes whenever any run is created, deleted or has a field changed (by any
  // process), so that a reader may keep a rendered page of runs until it does.
  virtual Result<int64_t> RunsVersion() = 0;

  // The largest id ever used for a DagRun (0 if none), so ids keep growing after a restart.
  virtual Result<int64_t> MaxRunId() = 0;

  // Several schedulers on one database (PostgreSQL, store/postgres/lease.h): from now on every
  // Commit is refused with FailedPrecondition ("fenced") unless the scheduler lease still has
  // this epoch, checked in the Commit's own transaction. A no-op where one server per database
  // is guaranteed by a file lock (SQLite).
  void FenceWrites(int64_t lease_epoch) {
    FencePartitions(lease_epoch == 0 ? std::nullopt
                                     : std::optional<std::map<int, int64_t>>({{1, lease_epoch}}));
  }
  // Several active schedulers (lease.h): every Commit is refused unless each of these partitions
  // is still at its epoch; an empty map refuses every Commit (a scheduler that holds no
  // partition writes nothing); nullopt: no check.
  virtual void FencePartitions(std::optional<std::map<int, int64_t>> epochs) {}
  // Whether relayed command `id` (Mutation::command_answer) has been answered: how a commit that
  // answered it and lost its reply is known to have landed. Commands are relayed on PostgreSQL
  // only; elsewhere none ever is (false).
  virtual Result<bool> RelayedCommandAnswered(int64_t id) { return false; }

  virtual Result<std::vector<ClusterRecord>> ListClusters(bool include_deleted) = 0;
  virtual Result<std::vector<ConnectionRecord>> ListConnections() = 0;
  virtual Result<std::optional<ConnectionRecord>> GetConnection(const std::string& conn_id) = 0;
};

// Opens (creating if needed) the SQLite database at `path` in WAL mode and migrates it forward.
// A database written by a newer version is refused with FailedPrecondition.
Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path);

}  // namespace sp::store
