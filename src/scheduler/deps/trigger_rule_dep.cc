#include "scheduler/deps/trigger_rule_dep.h"

namespace sp::scheduler {
namespace {

using store::TaskState;

struct Counts {
  int total = 0, success = 0, failed = 0, skipped = 0, done = 0;
  int setups = 0, setups_ran = 0, setups_done = 0;
  std::vector<std::string> pending;
};

Counts Count(const std::vector<UpstreamState>& upstream) {
  Counts c;
  for (const UpstreamState& u : upstream) {
    ++c.total;
    switch (u.state) {
      case TaskState::kSuccess: ++c.success; break;
      case TaskState::kFailed:
      case TaskState::kUpstreamFailed: ++c.failed; break;
      case TaskState::kSkipped: ++c.skipped; break;
      default: c.pending.push_back(u.task_id); break;
    }
    if (store::IsTerminal(u.state)) ++c.done;
    if (u.is_setup) {
      ++c.setups;
      if (store::IsTerminal(u.state)) ++c.setups_done;
      if (u.state == TaskState::kSuccess || u.state == TaskState::kFailed) ++c.setups_ran;
    }
  }
  return c;
}

std::string WaitingReason(const Counts& c) {
  std::string names;
  for (size_t i = 0; i < c.pending.size() && i < 5; ++i) {
    names += (i ? ", " : "") + c.pending[i];
  }
  if (c.pending.size() > 5) names += ", ...";
  return "waiting for " + std::to_string(c.pending.size()) + " of " + std::to_string(c.total) +
         " upstream tasks (" + names + ")";
}

TriggerDecision Make(TriggerVerdict v, std::string reason) {
  return TriggerDecision{v, DepStatus{"TriggerRuleDep", v == TriggerVerdict::kRun,
                                      std::move(reason)}};
}

}  // namespace

TriggerDecision TriggerRuleDep::Evaluate(dag::TriggerRule rule, dag::TaskRole role,
                                         const std::vector<UpstreamState>& upstream) {
  const Counts c = Count(upstream);
  const bool all_done = c.done == c.total;
  const std::string rule_name = dag::TriggerRuleName(rule);

  if (role == dag::TaskRole::kTeardown) {
    if (!all_done) return Make(TriggerVerdict::kWait, WaitingReason(c));
    if (c.setups == 0 || c.setups_ran > 0) {
      return Make(TriggerVerdict::kRun, "teardown: upstream tasks are done");
    }
    return Make(TriggerVerdict::kSkip, "teardown skipped: none of its setup tasks ran");
  }
  if (c.total == 0) return Make(TriggerVerdict::kRun, "no upstream tasks");

  switch (rule) {
    case dag::TriggerRule::kAllSuccess:
      if (c.failed > 0) {
        return Make(TriggerVerdict::kUpstreamFailed, "all_success: an upstream task failed");
      }
      if (c.skipped > 0) return Make(TriggerVerdict::kSkip, "all_success: an upstream was skipped");
      if (c.success == c.total) return Make(TriggerVerdict::kRun, "all upstream tasks succeeded");
      break;
    case dag::TriggerRule::kAllFailed:
      if (c.success > 0 || c.skipped > 0) {
        return Make(TriggerVerdict::kSkip, "all_failed: an upstream task did not fail");
      }
      if (c.failed == c.total) return Make(TriggerVerdict::kRun, "all upstream tasks failed");
      break;
    case dag::TriggerRule::kAllDone:
      if (all_done) return Make(TriggerVerdict::kRun, "all upstream tasks are done");
      break;
    case dag::TriggerRule::kOneSuccess:
      if (c.success > 0) return Make(TriggerVerdict::kRun, "an upstream task succeeded");
      if (all_done) {
        if (c.skipped == c.total) return Make(TriggerVerdict::kSkip, "one_success: all skipped");
        return Make(TriggerVerdict::kUpstreamFailed, "one_success: no upstream task succeeded");
      }
      break;
    case dag::TriggerRule::kOneFailed:
      if (c.failed > 0) return Make(TriggerVerdict::kRun, "an upstream task failed");
      if (all_done) return Make(TriggerVerdict::kSkip, "one_failed: no upstream task failed");
      break;
    case dag::TriggerRule::kNoneFailed:
      if (c.failed > 0) {
        return Make(TriggerVerdict::kUpstreamFailed, "none_failed: an upstream task failed");
      }
      if (all_done) return Make(TriggerVerdict::kRun, "no upstream task failed");
      break;
    case dag::TriggerRule::kNoneSkipped:
      if (c.skipped > 0) return Make(TriggerVerdict::kSkip, "none_skipped: an upstream was skipped");
      if (all_done) return Make(TriggerVerdict::kRun, "no upstream task was skipped");
      break;
  }
  return Make(TriggerVerdict::kWait, rule_name + ": " + WaitingReason(c));
}

}  // namespace sp::scheduler
