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
