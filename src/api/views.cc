// Views shared by the CLI and the HTTP API (see views.h).
#include "api/views.h"

namespace sp::api {

nlohmann::json TimeOrNull(const std::optional<Time>& t) {
  return t ? nlohmann::json(FormatTime(*t)) : nlohmann::json(nullptr);
}

nlohmann::json RunToJson(const store::DagRun& r) {
  auto t = TimeOrNull;
  return {{"key", r.id},
          {"dag_id", r.dag_id},
          {"run_id", r.run_id},
          {"type", store::RunTypeName(r.type)},
          {"state", store::RunStateName(r.state)},
          {"logical_date", FormatTime(r.logical_date)},
          {"data_interval_start", FormatTime(r.data_interval_start)},
          {"data_interval_end", FormatTime(r.data_interval_end)},
          {"conf", r.conf},
          {"created_at", FormatTime(r.created_at)},
          {"started_at", t(r.started_at)},
          {"ended_at", t(r.ended_at)},
          {"note", r.note},
          {"cancel_requested", r.cancel_requested}};
}

nlohmann::json TaskInstanceToJson(const store::TaskInstance& ti) {
  auto t = TimeOrNull;
  return {{"task_id", ti.task_id},
          {"state", store::TaskStateName(ti.state)},
          {"try_number", ti.try_number},
          {"max_tries", ti.max_tries},
          {"started_at", t(ti.started_at)},
          {"ended_at", t(ti.ended_at)},
          {"next_try_at", t(ti.next_try_at)},
          {"exit_code", ti.exit_code ? nlohmann::json(*ti.exit_code) : nlohmann::json(nullptr)},
          {"outputs", ti.outputs},
          {"log_path", ti.log_path},
          {"reason", ti.reason}};
}

nlohmann::json SparkSummaryToJson(const spark::AppSummary& s) {
  return {
      {"app_id", s.app_id},
      {"name", s.name},
      {"user", s.user},
      {"spark_version", s.spark_version},
      {"status", spark::AppStatusName(s.status)},
      {"status_reason", s.status_reason},
      {"exit_code", s.exit_code ? nlohmann::json(*s.exit_code) : nlohmann::json()},
      {"exit_code_source", !s.exit_code              ? ""
                           : s.exit_code_from_driver ? "driver"
                                                     : "event log"},
      {"start",
       s.start_ms ? nlohmann::json(FormatTime(FromUnixMillis(s.start_ms))) : nlohmann::json()},
      {"end", s.end_ms ? nlohmann::json(FormatTime(FromUnixMillis(s.end_ms))) : nlohmann::json()},
      {"duration_ms", s.duration_ms},
      {"jobs",
       {{"succeeded", s.jobs_succeeded}, {"failed", s.jobs_failed}, {"running", s.jobs_running}}},
      {"stages", {{"completed", s.stages_completed}, {"failed", s.stages_failed}}},
      {"tasks",
       {{"succeeded", s.tasks_succeeded}, {"failed", s.tasks_failed}, {"killed", s.tasks_killed}}},
      {"executors", {{"added", s.executors_added}, {"removed", s.executors_removed}}},
      {"input_bytes", s.input_bytes},
      {"input_records", s.input_records},
      {"output_bytes", s.output_bytes},
      {"shuffle_read_bytes", s.shuffle_read_bytes},
      {"shuffle_write_bytes", s.shuffle_write_bytes},
      {"log_path", s.log_path},
      {"log_in_progress", s.log_in_progress},
      {"error", s.error}};
}

nlohmann::json DagToJson(const dag::Dag& d) {
  nlohmann::json tasks = nlohmann::json::array();
  for (const auto& t : d.tasks) {
    const char* role = t.role == dag::TaskRole::kSetup      ? "setup"
                       : t.role == dag::TaskRole::kTeardown ? "teardown"
                                                            : "normal";
    tasks.push_back({{"task_id", t.id},
                     {"type", t.type},
                     {"upstream", t.depends_on},
                     {"trigger_rule", dag::TriggerRuleName(t.trigger_rule)},
                     {"role", role},
                     {"retries", t.retry.retries},
                     {"retry_delay", dag::FormatDuration(t.retry.retry_delay)},
                     {"execution_timeout", t.execution_timeout ? nlohmann::json(dag::FormatDuration(
                                                                     *t.execution_timeout))
                                                               : nlohmann::json()}});
  }
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [k, p] : d.params) {
    params[k] = {{"default", p.default_value}, {"description", p.description}};
  }
  return {{"dag_id", d.id},
          {"description", d.description},
          {"schedule", d.schedule ? nlohmann::json(d.schedule->text()) : nlohmann::json()},
          {"start_date", TimeOrNull(d.start_date)},
          {"end_date", TimeOrNull(d.end_date)},
          {"catchup", d.catchup},
          {"max_active_runs", d.max_active_runs},
          {"params", params},
          {"tags", d.tags},
          {"file", d.file},
          {"tasks", tasks}};
}

}  // namespace sp::api
