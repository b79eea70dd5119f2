// The DAG model's small behaviours: locations, trigger rule names, retry delays and lookups.
#include "dag/dag.h"

#include <algorithm>
#include <array>
#include <utility>

namespace sp::dag {

std::string SourceLocation::ToString() const {
  std::string out = file;
  if (line > 0) {
    if (!out.empty()) out += ':';
    out += std::to_string(line);
    if (column > 0) out += ':' + std::to_string(column);
  }
  return out;
}

namespace {

constexpr std::array<std::pair<TriggerRule, const char*>, 7> kTriggerRuleNames = {{
    {TriggerRule::kAllSuccess, "all_success"},
    {TriggerRule::kAllFailed, "all_failed"},
    {TriggerRule::kAllDone, "all_done"},
    {TriggerRule::kOneSuccess, "one_success"},
    {TriggerRule::kOneFailed, "one_failed"},
    {TriggerRule::kNoneFailed, "none_failed"},
    {TriggerRule::kNoneSkipped, "none_skipped"},
}};

}  // namespace

const char* TriggerRuleName(TriggerRule r) {
  for (const auto& [rule, name] : kTriggerRuleNames) {
    if (rule == r) return name;
  }
  return "unknown";
}

std::optional<TriggerRule> ParseTriggerRule(const std::string& s) {
  for (const auto& [rule, name] : kTriggerRuleNames) {
    if (s == name) return rule;
  }
  return std::nullopt;
}

Millis RetryPolicy::DelayAfter(int failed_try) const {
  if (!exponential_backoff) return retry_delay;
  const int doublings = std::max(failed_try, 1) - 1;
  const int64_t base = retry_delay.count();
  const int64_t cap = max_retry_delay.count();
  if (base <= 0) return Millis(0);
  // base * 2^doublings without overflow: once it exceeds the cap, the cap wins.
  if (doublings >= 62 || base > (cap >> doublings)) return max_retry_delay;
  return Millis(std::min(base << doublings, cap));
}

const TaskSpec* Dag::FindTask(const std::string& task_id) const {
  for (const TaskSpec& t : tasks) {
    if (t.id == task_id) return &t;
  }
  return nullptr;
}

std::vector<std::string> Dag::Downstream(const std::string& task_id) const {
  std::vector<std::string> out;
  for (const TaskSpec& t : tasks) {
    if (std::find(t.depends_on.begin(), t.depends_on.end(), task_id) != t.depends_on.end()) {
      out.push_back(t.id);
    }
  }
  return out;
}

}  // namespace sp::dag
