// The DAG model's small behaviours: locations, trigger rule names, retry delays and lookups.
#include "dag/dag.h"

#include "common/status.h"

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

void Dag::Link() {
  auto index = std::make_shared<Index>();
  index->downstream.resize(tasks.size());
  for (size_t i = 0; i < tasks.size(); ++i) index->by_id.emplace(tasks[i].id, i);
  for (const TaskSpec& t : tasks) {
    for (const std::string& up : t.depends_on) {
      auto it = index->by_id.find(up);
      if (it != index->by_id.end()) index->downstream[it->second].push_back(t.id);
    }
  }
  index_ = std::move(index);
}

const TaskSpec* Dag::FindTask(const std::string& task_id) const {
  SP_CHECK(index_ != nullptr);  // Link() not called: a bug in whoever built this Dag
  auto it = index_->by_id.find(task_id);
  return it == index_->by_id.end() ? nullptr : &tasks[it->second];
}

const std::vector<std::string>& Dag::Downstream(const std::string& task_id) const {
  static const std::vector<std::string> kNone;
  SP_CHECK(index_ != nullptr);
  auto it = index_->by_id.find(task_id);
  return it == index_->by_id.end() ? kNone : index_->downstream[it->second];
}

}  // namespace sp::dag
