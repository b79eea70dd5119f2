// Events: everything that can make the scheduler decide something. Timers, task ends and user
// commands all arrive as one of these, on the loop thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "common/clock.h"
#include "dag/dag.h"
#include "operators/task_type.h"
#include "store/records.h"

namespace sp::scheduler {

// Time passed: schedules, retry periods and timeouts are due.
struct Tick {};

// A try recorded its handle: it counts as started (queued -> running).
struct TaskStarted {
  int64_t run = 0;
  std::string task;
  int try_number = 0;
  nlohmann::json handle;
};

struct TaskFinished {
  int64_t run = 0;
  std::string task;
  int try_number = 0;
  operators::TaskResult result;
};

struct TriggerRun {
  std::string dag_id;
  nlohmann::json conf = nlohmann::json::object();
  std::optional<Time> logical_date;  // default: now
  store::RunType type = store::RunType::kManual;
  std::string run_id;  // default: "<type>__<logical date>"
  // Only these tasks get instances (`tasks test`): they run without their upstreams.
  std::vector<std::string> only_tasks;
};

// Creates runs for every schedule interval whose logical date is in [from, to].
struct Backfill {
  std::string dag_id;
  Time from{};
  Time to{};
  nlohmann::json conf = nlohmann::json::object();
};

struct CancelRun {
  int64_t run = 0;
  std::string reason = "cancelled by user";
};

struct ClearTasks {
  int64_t run = 0;
  std::vector<std::string> tasks;
  bool include_downstream = false;
};

struct MarkTask {
  int64_t run = 0;
  std::string task;
  store::TaskState state = store::TaskState::kSuccess;  // success, failed or skipped
};

struct SetPaused {
  std::string dag_id;
  bool paused = true;
};

// The dags folder changed: DAGs loaded or reloaded, and DAGs whose file is gone or broken. A
// missing DAG keeps its record (paused flag, last scheduled date) and its runs; a file fixed
// later brings it back as it was.
struct DagsChanged {
  std::vector<dag::DagPtr> loaded;
  std::vector<std::string> missing;
};

// The server (re)started and loaded the active runs as the store holds them: tasks added to a
// run's DAG since it was created get instances, and tries that never started (no handle: the
// server stopped between deciding and starting them) are scheduled again without spending a try.
struct RecoverRuns {
  // Only these runs (a scheduler that took partitions over recovers their runs); empty: all.
  std::set<int64_t> only;
};

// Retention (`db clean`, the server's `retention` setting): finished runs that ended before
// `before` are deleted with their task instances, state events and task logs. Active runs are
// never touched. With dry_run the plan is returned, not applied.
struct PruneRuns {
  Time before{};
  bool dry_run = false;
};

using Event = std::variant<Tick, TaskStarted, TaskFinished, TriggerRun, Backfill, CancelRun,
                           ClearTasks, MarkTask, SetPaused, DagsChanged, PruneRuns, RecoverRuns>;

}  // namespace sp::scheduler
