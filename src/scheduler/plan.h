// Plan: what Decide concluded. All state transitions in a Plan are committed in one store
// transaction by Apply; only then are its effects (launch a try, stop a try) carried out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "dag/dag.h"
#include "store/records.h"

namespace sp::scheduler {

struct LaunchTry {
  int64_t run = 0;
  std::string task;
  int try_number = 0;
};

struct StopTry {
  int64_t run = 0;
  std::string task;
  int try_number = 0;
  std::string reason;  // "timed out after 1h", "run cancelled"
};

struct Plan {
  // A command the event carried was refused (unknown DAG, bad conf, ...): nothing else is set.
  Status refused;

  std::vector<store::DagRecord> dags;
  // DAG definitions to fold into the snapshot with `dags` (null: the file is gone or broken).
  std::vector<std::pair<std::string, dag::DagPtr>> definitions;
  std::vector<store::DagRun> runs;                  // created or changed
  std::vector<store::TaskInstance> task_instances;  // created or changed
  std::vector<store::StateEvent> events;
  // Finished runs to delete (retention); their task logs are removed once the delete commits.
  std::vector<store::DagRun> deleted_runs;

  std::vector<LaunchTry> launches;
  std::vector<StopTry> stops;

  std::vector<int64_t> created_runs;  // keys of runs this plan creates, in creation order
  std::optional<Time> next_wakeup;    // when a Tick is needed next

  bool empty() const {
    return dags.empty() && definitions.empty() && runs.empty() && task_instances.empty() &&
           launches.empty() && stops.empty() && deleted_runs.empty();
  }
};

}  // namespace sp::scheduler
