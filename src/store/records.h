// Records kept by the store: DAGs (paused flag), DAG runs, task instances, clusters and
// connections. Plain values; the scheduler owns the in-memory copies of active runs and the store
// is their durable form.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/clock.h"

namespace sp::store {

enum class RunState { kQueued, kRunning, kSuccess, kFailed, kCancelled };
enum class RunType { kScheduled, kManual, kBackfill, kTest };

enum class TaskState {
  kNone,       // not yet considered
  kScheduled,  // dependencies met, waiting for a parallelism slot
  kQueued,     // launch decided and committed, process not started yet
  kRunning,    // started; handle recorded
  kSuccess,
  kFailed,
  kUpForRetry,  // failed, another try after next_try_at
  kUpstreamFailed,
  kSkipped,
};

const char* RunStateName(RunState s);    // "running"
const char* RunTypeName(RunType t);      // "scheduled"
const char* TaskStateName(TaskState s);  // "up_for_retry"
std::optional<RunState> ParseRunState(const std::string& s);
std::optional<RunType> ParseRunType(const std::string& s);
std::optional<TaskState> ParseTaskState(const std::string& s);

bool IsTerminal(RunState s);   // success, failed, cancelled
bool IsTerminal(TaskState s);  // success, failed, upstream_failed, skipped
// A try is in flight: queued or running (a process may exist).
bool IsActive(TaskState s);

struct DagRecord {
  std::string dag_id;
  std::string file;
  bool paused = false;
  std::string fingerprint;
  // Logical date of the last run created by the schedule (for catchup and next-run math).
  std::optional<Time> last_scheduled_logical_date;
  bool operator==(const DagRecord&) const = default;
};

struct DagRun {
  int64_t id = 0;  // store key, assigned by the scheduler's id source
  std::string dag_id;
  std::string run_id;  // "scheduled__2026-11-26T00:00:00+00:00", "manual__...", unique per DAG
  RunType type = RunType::kManual;
  Time logical_date{};
  Time data_interval_start{};
  Time data_interval_end{};
  nlohmann::json conf = nlohmann::json::object();
  RunState state = RunState::kQueued;
  Time created_at{};
  std::optional<Time> started_at;
  std::optional<Time> ended_at;
  std::string note;  // why it ended that way ("cancelled by user", "task t failed")
  // Set by a cancel: no new non-teardown task starts, running ones are stopped, teardowns run.
  bool cancel_requested = false;

  bool operator==(const DagRun&) const = default;
};

struct TaskInstance {
  int64_t run_id = 0;  // DagRun::id
  std::string task_id;
  TaskState state = TaskState::kNone;
  int try_number = 0;  // tries started so far (1 = first try)
  int max_tries = 1;   // retries + 1, fixed when the run is created
  std::optional<Time> started_at;
  std::optional<Time> ended_at;
  std::optional<Time> next_try_at;  // for up_for_retry
  std::optional<int> exit_code;
  nlohmann::json outputs = nlohmann::json::object();
  std::string log_path;
  // Serializable handle of the running try (pid + start time, app id, cluster name, ...),
  // written before the try counts as started so a restarted server can recover it.
  nlohmann::json handle;  // null when nothing runs
  std::string reason;     // last state change's reason, shown to users
};

// One state change, recorded in the same transaction as the change itself (audit trail).
struct StateEvent {
  int64_t run_id = 0;
  std::string task_id;  // empty for run-level events
  int try_number = 0;
  std::string from_state;
  std::string to_state;
  std::string reason;
  Time at{};
  int64_t id = 0;  // assigned by the store when committed, increasing, never reused; 0 before
};

// An on-demand Spark cluster created by a run; kept until deleted so none is ever leaked.
struct ClusterRecord {
  std::string name;
  std::string backend;    // "local", "kubernetes"
  int64_t run_id = 0;     // 0 for ad-hoc clusters
  std::string state;      // "creating", "ready", "deleting", "deleted", "failed"
  nlohmann::json handle;  // backend's handle: pids, ports, object names
  Time created_at{};
  std::optional<Time> deleted_at;
};

// A named connection (Airflow-like). `password` and `extras` arrive here already encrypted by
// the caller when they are secret; the store never sees clear secrets.
struct ConnectionRecord {
  std::string conn_id;
  std::string conn_type;
  std::string host;
  int port = 0;
  std::string schema;
  std::string login;
  std::string password_sealed;  // encrypted; empty when none
  nlohmann::json extras = nlohmann::json::object();
  std::string extras_sealed;   // encrypted JSON of secret extras; empty when none
  int64_t created_by_run = 0;  // 0 when added by a user
};

}  // namespace sp::store
