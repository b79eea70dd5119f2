// The DAG model's small behaviours: locations, trigger rule names, retry delays and lookups.
#include "dag/dag.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>

#include "common/status.h"

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

constexpr std::array<std::pair<TriggerRule, const char*>, 13> kTriggerRuleNames = {{
    {TriggerRule::kAllSuccess, "all_success"},
    {TriggerRule::kAllFailed, "all_failed"},
    {TriggerRule::kAllDone, "all_done"},
    {TriggerRule::kOneSuccess, "one_success"},
    {TriggerRule::kOneFailed, "one_failed"},
    {TriggerRule::kNoneFailed, "none_failed"},
    {TriggerRule::kNoneSkipped, "none_skipped"},
    {TriggerRule::kNoneFailedMinOneSuccess, "none_failed_min_one_success"},
    {TriggerRule::kOneDone, "one_done"},
    {TriggerRule::kAllSkipped, "all_skipped"},
    {TriggerRule::kAlways, "always"},
    {TriggerRule::kAllDoneSetupSuccess, "all_done_setup_success"},
    {TriggerRule::kAllDoneMinOneSuccess, "all_done_min_one_success"},
}};

// FNV-1a 64: stable across builds, unlike std::hash.
uint64_t StableHash(std::string_view bytes) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

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

const std::vector<std::string>& TriggerRuleNames() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const auto& [rule, name] : kTriggerRuleNames) names.emplace_back(name);
    return names;
  }();
  return kNames;
}

Millis RetryPolicy::DelayAfter(int failed_try, std::string_view jitter_key) const {
  // Airflow: a multiplier of 1 (or none) keeps retry_delay as it is, without jitter.
  if (!(backoff_multiplier > 0) || backoff_multiplier == 1.0) return retry_delay;
  constexpr double kMaxDelaySeconds = 24.0 * 3600;  // Airflow's MAX_RETRY_DELAY
  const double exponent = std::max(failed_try, 1) - 1;
  const double grown =
      static_cast<double>(retry_delay.count()) / 1000.0 * std::pow(backoff_multiplier, exponent);
  // Past the 24 h cap the exact value no longer matters (and pow may be inf).
  const int64_t base = !(grown < kMaxDelaySeconds) ? static_cast<int64_t>(kMaxDelaySeconds)
                                                   : std::max<int64_t>(1, std::ceil(grown));
  const int64_t jittered =
      base + static_cast<int64_t>(StableHash(jitter_key) % static_cast<uint64_t>(base));
  const Millis delay(std::min<int64_t>(jittered, static_cast<int64_t>(kMaxDelaySeconds)) * 1000);
  return std::min(delay, max_retry_delay);
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
  LinkSetupScopes(*index);
  index_ = std::move(index);
}

// For each setup: the tasks it reaches through another task (its downstream closure less its
// direct downstream), kept when they are not teardowns and are upstream of one of its teardowns
// (or it has none). Two graph walks per setup, one more per teardown of it.
void Dag::LinkSetupScopes(Index& index) const {
  const size_t n = tasks.size();
  index.indirect_setups.assign(n, {});
  index.setup_dependents.assign(n, {});
  auto position = [&](const std::string& id) -> int {
    auto it = index.by_id.find(id);
    return it == index.by_id.end() ? -1 : static_cast<int>(it->second);
  };
  // Marks in `seen` every task reachable from `start` (excluded) downstream or upstream.
  auto walk = [&](size_t start, bool downstream, std::vector<char>& seen) {
    std::vector<size_t> stack{start};
    while (!stack.empty()) {
      const size_t cur = stack.back();
      stack.pop_back();
      const std::vector<std::string>& next =
          downstream ? index.downstream[cur] : tasks[cur].depends_on;
      for (const std::string& id : next) {
        const int pos = position(id);
        if (pos < 0 || seen[pos]) continue;
        seen[pos] = 1;
        stack.push_back(static_cast<size_t>(pos));
      }
    }
  };
  for (size_t s = 0; s < n; ++s) {
    if (tasks[s].role != TaskRole::kSetup) continue;
    std::vector<char> reached(n, 0), in_scope(n, 0);
    walk(s, /*downstream=*/true, reached);
    bool has_teardown = false;
    for (const std::string& down : index.downstream[s]) {
      const int pos = position(down);
      if (pos >= 0 && tasks[pos].role == TaskRole::kTeardown) {
        has_teardown = true;
        walk(static_cast<size_t>(pos), /*downstream=*/false, in_scope);
      }
    }
    for (const std::string& down : index.downstream[s]) {
      if (const int pos = position(down); pos >= 0) reached[pos] = 0;  // direct, not indirect
    }
    for (size_t t = 0; t < n; ++t) {
      if (!reached[t] || t == s || tasks[t].role == TaskRole::kTeardown) continue;
      if (has_teardown && !in_scope[t]) continue;
      index.indirect_setups[t].push_back(tasks[s].id);
      index.setup_dependents[s].push_back(tasks[t].id);
    }
  }
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

const std::vector<std::string>& Dag::IndirectSetups(const std::string& task_id) const {
  static const std::vector<std::string> kNone;
  SP_CHECK(index_ != nullptr);
  auto it = index_->by_id.find(task_id);
  return it == index_->by_id.end() ? kNone : index_->indirect_setups[it->second];
}

const std::vector<std::string>& Dag::IndirectSetupDependents(const std::string& setup_id) const {
  static const std::vector<std::string> kNone;
  SP_CHECK(index_ != nullptr);
  auto it = index_->by_id.find(setup_id);
  return it == index_->by_id.end() ? kNone : index_->setup_dependents[it->second];
}

}  // namespace sp::dag
