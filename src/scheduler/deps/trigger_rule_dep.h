// TriggerRuleDep: may a task run, given its upstream task states and its trigger rule?
// Implements Airflow 3's trigger rules with Airflow's counting (trigger_rule_dep.py):
//   - `failed` and `upstream_failed` are counted apart: one_done counts only own failures and
//     successes, the rules that fail on a failure treat both alike;
//   - some rules decide before every upstream is done (all_success skips at the first skipped
//     upstream, all_skipped at the first non-skipped one, one_success runs at the first success);
//   - `always` runs at once, whatever its upstream is doing;
//   - a teardown is an ordinary task with the rule all_done_setup_success by default: it waits
//     until every upstream is done, then runs if any of its setup upstreams succeeded, is
//     skipped when all of them were skipped, and is upstream_failed otherwise.
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
  // `role` is kept for callers' sake: Airflow gives a teardown no special case beyond its rule.
  static TriggerDecision Evaluate(dag::TriggerRule rule, dag::TaskRole role,
                                  const std::vector<UpstreamState>& upstream);
};

}  // namespace sp::scheduler
