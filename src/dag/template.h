// Templates in DAG string fields: "{{ ds }}", "{{ params.table }}",
// "{{ tasks.create_cluster.outputs.master_url }}". A variable is a dotted path looked up in a
// JSON context; an unknown variable is an error, never an empty string.
//
// Context keys: Airflow 3's run values as Airflow renders them (RunTemplateValues: ds, ds_nodash,
// ts, ts_nodash, ts_nodash_with_tz, logical_date, data_interval_start, data_interval_end, run_id,
// task_instance_key_str, dag_run.*; PreviousSuccessTemplateValues: prev_*_success), dag.id,
// task.id, try_number, params.*, tasks.ID.outputs.*; conn.* is not offered. Airflow 2 names that
// Airflow 3 removed (next_ds, prev_ds, execution_date,
// ...) are load errors that say what replaces them.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sp::dag {

// One {{ ... }} occurrence.
struct TemplateRef {
  std::string path;   // "params.table"
  size_t offset = 0;  // byte offset of "{{" in the text
};

// Parses the references in `text`. InvalidArgument for an unclosed "{{" or an empty/malformed
// expression (message gives the offset).
Result<std::vector<TemplateRef>> ParseTemplate(const std::string& text);

// Renders `text` with `context`. Strings are inserted as is; numbers/bools as JSON text.
// NotFound "unknown template variable 'params.x'" for a missing path.
Result<std::string> RenderTemplate(const std::string& text, const nlohmann::json& context);

// A shell script rendered safely: every "{{ x }}" became a quoted reference to an environment
// variable that holds x's value, e.g. `echo "hi {{ params.name }}"` -> `echo "hi
// ${SP_params_name}"` with SP_params_name=<value>. A value is never parsed by the shell, so a
// value such as `"; rm -rf ~; "` stays one harmless word. The reference is quoted for where it
// stands: `"${V}"` outside quotes, `${V}` inside double quotes, `'"${V}"'` inside single quotes.
struct ShellRendering {
  std::string script;
  std::map<std::string, std::string> env;  // variable name -> value
};

// `taken` lists environment names already in use (the task's own env): generated names avoid
// them. Errors as RenderTemplate.
Result<ShellRendering> RenderShellTemplate(const std::string& script, const nlohmann::json& context,
                                           const std::map<std::string, std::string>& taken = {});

// Renders every string inside a JSON value (objects and arrays recursively).
Result<nlohmann::json> RenderJson(const nlohmann::json& value, const nlohmann::json& context);

// The variables available to every task, for validation of references at load time.
const std::vector<std::string>& BuiltinTemplateVariables();

// For a name Airflow 2 offered and Airflow 3 removed ("next_ds", "execution_date", ...): what to
// write instead. Empty for any other name.
std::string RemovedAirflowVariableHint(const std::string& path);

// A time as Python's datetime.isoformat() prints an aware UTC datetime:
// "2026-01-01T00:00:00+00:00", with ".123000" when it has milliseconds. `sep` is 'T' (isoformat) or
// ' ' (str(), as pendulum and so Airflow print {{ logical_date }}).
std::string FormatPythonIsoTime(Time t, char sep = 'T');

// What a run puts in every task's template context, formatted as Airflow 3 renders it:
//   ds "2026-01-01", ds_nodash "20260101", ts "2026-01-01T00:00:00+00:00",
//   ts_nodash "20260101T000000", ts_nodash_with_tz "20260101T000000+0000",
//   logical_date / data_interval_start / data_interval_end "2026-01-01 00:00:00+00:00",
//   run_id, task_instance_key_str "DAG__TASK__20260101",
//   dag_run {dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, conf}.
// `conf` is the run's conf over the params' defaults (the same object as params), so a
// `{{ dag_run.conf.NAME }}` checked at load always renders.
struct RunTemplateInput {
  std::string dag_id;
  std::string run_id;
  std::string run_type;  // "manual", "scheduled", "backfill"
  std::string task_id;
  Time logical_date{};
  Time data_interval_start{};
  Time data_interval_end{};
  nlohmann::json conf = nlohmann::json::object();
};
nlohmann::json RunTemplateValues(const RunTemplateInput& in);

// The previous successful run of the same DAG as Airflow 3 finds it for a task: state success,
// the latest logical date strictly before the task's run's (store::RunFilter::logical_date_before).
struct PreviousSuccessfulRun {
  Time data_interval_start{};
  Time data_interval_end{};
  std::optional<Time> start_date;  // the run's started_at
  std::optional<Time> end_date;    // the run's ended_at
};

// The template values Airflow 3 derives from it, each printed as str() of a datetime
// ("2026-01-01 00:00:00+00:00") or "None" (Jinja's rendering of Airflow's None) when there is no
// such run or time: prev_data_interval_start_success, prev_data_interval_end_success,
// prev_start_date_success, prev_end_date_success.
const std::vector<std::string>& PreviousSuccessTemplateVariables();
nlohmann::json PreviousSuccessTemplateValues(const std::optional<PreviousSuccessfulRun>& prev);

// True when a string anywhere in `value` (objects and arrays recursively) references one of
// `names` ("{{ name }}"). Strings that do not parse count as not referencing: rendering reports
// them.
bool ReferencesAnyOf(const nlohmann::json& value, const std::vector<std::string>& names);

}  // namespace sp::dag
