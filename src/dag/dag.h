// The DAG model: what a YAML file under the dags folder declares, after loading and validation.
// A Dag is immutable once loaded; the scheduler holds shared_ptr<const Dag> and a reload swaps
// the pointer, so runs in flight keep the definition they started with.
//
// Task-type specific fields (e.g. `command` for bash, `application` for spark_submit) are kept
// as JSON in TaskSpec::fields with their source positions, validated by the task type's
// Validate() and rendered (templates) just before a try starts.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "dag/cron.h"

namespace sp::dag {

// Where a value came from, for located errors ("dags/a.yaml:12:5").
struct SourceLocation {
  std::string file;
  int line = 0;                  // 1-based; 0 = unknown
  int column = 0;                // 1-based; 0 = unknown
  std::string ToString() const;  // "file:line:column" (omits unknown parts)
};

enum class TriggerRule {
  kAllSuccess,
  kAllFailed,
  kAllDone,
  kOneSuccess,
  kOneFailed,
  kNoneFailed,
  kNoneSkipped,
  kNoneFailedMinOneSuccess,
  kOneDone,
  kAllSkipped,
  kAlways,
  kAllDoneSetupSuccess,
  kAllDoneMinOneSuccess,
};
const char* TriggerRuleName(TriggerRule r);  // "all_success"
std::optional<TriggerRule> ParseTriggerRule(const std::string& s);
const std::vector<std::string>& TriggerRuleNames();  // every rule, for messages

// Airflow's setup/teardown: a teardown's default rule is all_done_setup_success (it runs once
// its upstream is done if one of its setups succeeded), and it counts for the run's final state
// only with on_failure_fail_dagrun.
enum class TaskRole { kNormal, kSetup, kTeardown };

struct RetryPolicy {
  int retries = 0;                 // extra tries after the first
  Millis retry_delay = Millis(0);  // delay before try n+1
  // Airflow's retry_exponential_backoff: 0 = off (false), 2 = true, or any multiplier > 0.
  double backoff_multiplier = 0;
  Millis max_retry_delay = Millis(24 * 3600 * 1000);

  // Delay before the try after `failed_try` (1-based). Without backoff, retry_delay. With it, as
  // Airflow computes it: base = ceil(retry_delay_s * multiplier^(failed_try-1)) seconds, at
  // least 1; a deterministic jitter from `jitter_key` (dag#task#logical_date#try) gives a delay
  // in [base, 2*base) seconds, capped at 24 h and then at max_retry_delay.
  Millis DelayAfter(int failed_try, std::string_view jitter_key = {}) const;
};

struct TaskSpec {
  std::string id;
  std::string type;  // "bash", "spark_submit", ...
  std::vector<std::string> depends_on;
  TriggerRule trigger_rule = TriggerRule::kAllSuccess;
  TaskRole role = TaskRole::kNormal;
  RetryPolicy retry;
  // A teardown's own failure fails the run (Airflow's on_failure_fail_dagrun).
  bool on_failure_fail_dagrun = false;
  std::optional<Millis> execution_timeout;
  std::map<std::string, std::string> env;            // values are templates
  nlohmann::json fields = nlohmann::json::object();  // type-specific fields, unrendered
  // Source position of each type-specific field (key -> location), for the task type's errors.
  std::map<std::string, SourceLocation> field_locations;
  SourceLocation location;  // of the task's mapping
};

struct Param {
  nlohmann::json default_value;  // null when the param has no default
  std::string description;
};

// How a cron schedule becomes runs (dag/timetable.h): Airflow's CronDataIntervalTimetable, the
// default (`timetable: cron_data_interval`), or CronTriggerTimetable (`timetable: cron_trigger`).
enum class TimetableKind { kCronDataInterval, kCronTrigger };

struct Dag {
  std::string id;
  std::string description;
  std::optional<Schedule> schedule;  // none = manual only; evaluated in `timezone`
  TimeZone timezone;                 // `timezone:`; start/end dates without offset are local
  TimetableKind timetable = TimetableKind::kCronDataInterval;
  Millis trigger_interval{0};  // cron_trigger's `interval`: the data interval before a fire
  std::optional<Time> start_date;
  std::optional<Time> end_date;
  bool catchup = false;
  int max_active_runs = 16;
  std::map<std::string, Param> params;
  std::vector<std::string> tags;
  std::vector<TaskSpec> tasks;  // in topological order after validation

  std::string file;         // path of the YAML file it came from
  std::string fingerprint;  // hash of the file's bytes; a change means reload

  // Builds the id index, downstream lists and setup scopes; call once the tasks are final (the
  // loader does). The accessors below need it: they are on the scheduler's hot path. Costs
  // O(setups x (tasks + edges)).
  void Link();
  const TaskSpec* FindTask(const std::string& task_id) const;
  // Direct downstream ids of `task_id` (empty for an unknown id).
  const std::vector<std::string>& Downstream(const std::string& task_id) const;
  // Airflow's indirect setup scope (get_upstreams_only_setups less the direct upstreams): the
  // setups upstream of `task_id` through at least one other task, each either without teardowns
  // or with one of its teardowns downstream of `task_id`. Empty for a teardown. The task cannot
  // run until all of them succeeded (TriggerRuleDep), whatever its trigger rule.
  const std::vector<std::string>& IndirectSetups(const std::string& task_id) const;
  // The tasks whose IndirectSetups include `setup_id`, in task order: what a setup's end may
  // move besides its direct downstream.
  const std::vector<std::string>& IndirectSetupDependents(const std::string& setup_id) const;

 private:
  struct Index {
    std::unordered_map<std::string, size_t> by_id;
    std::vector<std::vector<std::string>> downstream;        // parallel to tasks
    std::vector<std::vector<std::string>> indirect_setups;   // parallel to tasks
    std::vector<std::vector<std::string>> setup_dependents;  // parallel to tasks
  };
  void LinkSetupScopes(Index& index) const;
  std::shared_ptr<const Index> index_;
};

using DagPtr = std::shared_ptr<const Dag>;

}  // namespace sp::dag
