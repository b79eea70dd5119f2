// TriggerRuleDep: may a task run, given its upstream task states and its trigger rule?
// Implements the seven trigger rules plus teardown semantics:
//   - upstream_failed counts as failed for every rule (as in Airflow);
//   - a teardown task waits until all upstreams are done and then runs if any of its setup
//     upstreams ran (succeeded or failed), whatever happened in between; when none ran, it is
//     skipped; a teardown without setup upstreams behaves like all_done.
#pragma once

#include <string>
#include <vector>

#include "dag/dag.h"
#include "scheduler/deps/dep.h"
#include "store/records.h"

namespace sp::scheduler {

struct UpstreamState {
  std::string task_id;
  store::TaskState state;
  bool is_setup = false;
};

enum class TriggerVerdict {
  kWait,            // not yet decidable
  kRun,             // dependencies met
  kSkip,            // the task will never run: skipped
  kUpstreamFailed,  // the task will never run: upstream_failed
};

struct TriggerDecision {
  TriggerVerdict verdict = TriggerVerdict::kWait;
  DepStatus status;
};

class TriggerRuleDep {
 public:
  static TriggerDecision Evaluate(dag::TriggerRule rule, dag::TaskRole role,
                                  const std::vector<UpstreamState>& upstream);
};

}  // namespace sp::scheduler
