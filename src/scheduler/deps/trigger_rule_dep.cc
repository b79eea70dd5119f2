#include "scheduler/deps/trigger_rule_dep.h"

namespace sp::scheduler {
namespace {

using dag::TriggerRule;
using store::TaskState;

// Upstream states counted as Airflow counts them; `done` = in a terminal state.
struct Counts {
  int total = 0, success = 0, failed = 0, upstream_failed = 0, skipped = 0, done = 0;
  int setups = 0, setups_success = 0, setups_skipped = 0;
  std::vector<std::string> pending;

  int any_failed() const { return failed + upstream_failed; }
  bool all_done() const { return done == total; }
};

Counts Count(const std::vector<UpstreamState>& upstream) {
  Counts c;
  for (const UpstreamState& u : upstream) {
    ++c.total;
    switch (u.state) {
      case TaskState::kSuccess:
        ++c.success;
        break;
      case TaskState::kFailed:
        ++c.failed;
        break;
      case TaskState::kUpstreamFailed:
        ++c.upstream_failed;
        break;
      case TaskState::kSkipped:
        ++c.skipped;
        break;
      default:
        c.pending.push_back(u.task_id);
        break;
    }
    if (store::IsTerminal(u.state)) ++c.done;
    if (u.is_setup) {
      ++c.setups;
      if (u.state == TaskState::kSuccess) ++c.setups_success;
      if (u.state == TaskState::kSkipped) ++c.setups_skipped;
    }
  }
  return c;
}

// Names of the first few entries of `tasks`, for a reason.
std::string Names(const std::vector<std::string>& tasks) {
  std::string names;
  for (size_t i = 0; i < tasks.size() && i < 5; ++i) names += (i ? ", " : "") + tasks[i];
  if (tasks.size() > 5) names += ", ...";
  return names;
}

std::string WaitingReason(const Counts& c) {
  return "waiting for " + std::to_string(c.pending.size()) + " of " + std::to_string(c.total) +
         " upstream tasks (" + Names(c.pending) + ")";
}

TriggerDecision Make(TriggerVerdict v, std::string reason) {
  return TriggerDecision{v,
                         DepStatus{"TriggerRuleDep", v == TriggerVerdict::kRun, std::move(reason)}};
}

TriggerDecision Run(const std::string& why) {
  return Make(TriggerVerdict::kRun, why);
}
TriggerDecision Skip(const char* rule, const std::string& why) {
  return Make(TriggerVerdict::kSkip, std::string(rule) + ": " + why);
}
TriggerDecision UpstreamFailed(const char* rule, const std::string& why) {
  return Make(TriggerVerdict::kUpstreamFailed, std::string(rule) + ": " + why);
}

// The rule applied to the direct upstream tasks.
TriggerDecision EvaluateDirect(TriggerRule rule, const std::vector<UpstreamState>& upstream) {
  const Counts c = Count(upstream);
  const char* name = dag::TriggerRuleName(rule);

  switch (rule) {
    case TriggerRule::kAllSuccess:
      if (c.any_failed() > 0) return UpstreamFailed(name, "an upstream task failed");
      if (c.skipped > 0) return Skip(name, "an upstream task was skipped");
      if (c.success == c.total) return Run("all upstream tasks succeeded");
      break;
    case TriggerRule::kAllFailed:
      if (c.success > 0 || c.skipped > 0) return Skip(name, "an upstream task did not fail");
      if (c.any_failed() == c.total) return Run("all upstream tasks failed");
      break;
    case TriggerRule::kAllDone:
      if (c.all_done()) return Run("all upstream tasks are done");
      break;
    case TriggerRule::kOneSuccess:
      if (c.success > 0) return Run("an upstream task succeeded");
      if (c.all_done()) {
        if (c.skipped == c.total) return Skip(name, "all upstream tasks were skipped");
        return UpstreamFailed(name, "no upstream task succeeded");
      }
      break;
    case TriggerRule::kOneFailed:
      if (c.any_failed() > 0) return Run("an upstream task failed");
      if (c.all_done()) return Skip(name, "no upstream task failed");
      break;
    case TriggerRule::kOneDone:
      // Airflow counts only tasks that ran: upstream_failed is neither a success nor a failure.
      if (c.success + c.failed > 0) return Run("an upstream task succeeded or failed");
      if (c.all_done()) return Skip(name, "no upstream task succeeded or failed");
      break;
    case TriggerRule::kNoneFailed:
      if (c.any_failed() > 0) return UpstreamFailed(name, "an upstream task failed");
      if (c.success + c.skipped == c.total) return Run("no upstream task failed");
      break;
    case TriggerRule::kNoneFailedMinOneSuccess:
      if (c.any_failed() > 0) return UpstreamFailed(name, "an upstream task failed");
      if (c.skipped == c.total) return Skip(name, "all upstream tasks were skipped");
      if (c.success + c.skipped == c.total) {
        return Run("no upstream task failed and at least one succeeded");
      }
      break;
    case TriggerRule::kNoneSkipped:
      if (c.skipped > 0) return Skip(name, "an upstream task was skipped");
      if (c.all_done()) return Run("no upstream task was skipped");
      break;
    case TriggerRule::kAllSkipped:
      if (c.success > 0 || c.any_failed() > 0)
        return Skip(name, "an upstream task was not skipped");
      if (c.skipped == c.total) return Run("all upstream tasks were skipped");
      break;
    case TriggerRule::kAllDoneSetupSuccess:
      if (!c.all_done()) break;
      if (c.setups > 0 && c.setups_skipped >= c.setups) {
        return Skip(name, "all of its setup tasks were skipped");
      }
      if (c.setups > 0 && c.setups_success == 0) {
        return UpstreamFailed(name, "none of its setup tasks succeeded");
      }
      return Run(c.setups > 0 ? "upstream tasks are done and a setup task succeeded"
                              : "all upstream tasks are done");
    case TriggerRule::kAllDoneMinOneSuccess:
      // Skipped upstreams do not count as done here: one skip skips the task at once.
      if (c.skipped > 0) return Skip(name, "an upstream task was skipped");
      if (c.all_done()) {
        if (c.success == 0) return UpstreamFailed(name, "no upstream task succeeded");
        return Run("all upstream tasks are done and at least one succeeded");
      }
      break;
    case TriggerRule::kAlways:
      break;  // handled above
  }
  return Make(TriggerVerdict::kWait, std::string(name) + ": " + WaitingReason(c));
}

}  // namespace

TriggerDecision TriggerRuleDep::Evaluate(TriggerRule rule, dag::TaskRole role,
                                         const std::vector<UpstreamState>& upstream,
                                         const std::vector<UpstreamState>& indirect_setups) {
  if (rule == TriggerRule::kAlways) return Run("trigger rule 'always'");
  if (upstream.empty()) return Run("no upstream tasks");
  if (role == dag::TaskRole::kTeardown || indirect_setups.empty()) {
    return EvaluateDirect(rule, upstream);
  }
  // Airflow decides on a failed or skipped setup before it looks at the task's own rule.
  std::vector<std::string> not_done;
  for (const UpstreamState& s : indirect_setups) {
    if (s.state == TaskState::kFailed || s.state == TaskState::kUpstreamFailed) {
      return Make(TriggerVerdict::kUpstreamFailed,
                  "setup task '" + s.task_id + "' " + store::TaskStateName(s.state));
    }
  }
  for (const UpstreamState& s : indirect_setups) {
    if (s.state == TaskState::kSkipped) {
      return Make(TriggerVerdict::kSkip, "setup task '" + s.task_id + "' skipped");
    }
    if (s.state != TaskState::kSuccess) not_done.push_back(s.task_id);
  }
  TriggerDecision direct = EvaluateDirect(rule, upstream);
  if (direct.verdict != TriggerVerdict::kRun || not_done.empty()) return direct;
  return Make(TriggerVerdict::kWait, "waiting for " + std::to_string(not_done.size()) +
                                         " setup task(s) to succeed (" + Names(not_done) + ")");
}

}  // namespace sp::scheduler
