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
//   - Airflow's setup scope: a task that is not a teardown runs only once every indirect setup
//     (dag::Dag::IndirectSetups) succeeded, whatever its rule (`always` aside, as in Airflow); one
//     that failed or was upstream_failed makes it upstream_failed, one that was skipped skips it,
//     without waiting for its other upstreams. Its rule then applies to its direct upstream.
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
  // `upstream`: the direct upstream tasks; `indirect_setups`: the states of the task's indirect
  // setups (ignored for a teardown, which has none in Airflow).
  static TriggerDecision Evaluate(dag::TriggerRule rule, dag::TaskRole role,
                                  const std::vector<UpstreamState>& upstream,
                                  const std::vector<UpstreamState>& indirect_setups = {});
};

}  // namespace sp::scheduler
