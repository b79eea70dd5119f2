// Event-log summaries; see history.h for the status rule and the metrics source.
#include "spark/history.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <system_error>

#include "common/file_text.h"
#include "spark/internal/json_fields.h"
#include "spark/internal/private_file.h"
#include "spark/internal/summary_index.h"

namespace sp::spark {
namespace {

using internal::AddCount;
using internal::GetInt;
using internal::GetObject;
using internal::GetString;
using internal::Has;
using nlohmann::json;

constexpr std::string_view kEventPrefix = "{\"Event\":\"";
constexpr std::string_view kDriverExitPrefix = ".driver-exit_";
constexpr std::string_view kDriverExitSuffix = ".json";
constexpr size_t kMaxReasonChars = 300;

enum class Kind {
  kIgnored,
  kLogStart,
  kAppStart,
  kAppEnd,
  kJobStart,
  kJobEnd,
  kStageCompleted,
  kTaskEnd,
  kExecutorAdded,
  kExecutorRemoved,
};

Kind KindOf(std::string_view event) {
  if (event.substr(0, 13) != "SparkListener") return Kind::kIgnored;
  std::string_view e = event.substr(13);
  if (e == "TaskEnd") return Kind::kTaskEnd;
  if (e == "JobStart") return Kind::kJobStart;
  if (e == "JobEnd") return Kind::kJobEnd;
  if (e == "StageCompleted") return Kind::kStageCompleted;
  if (e == "ExecutorAdded") return Kind::kExecutorAdded;
  if (e == "ExecutorRemoved") return Kind::kExecutorRemoved;
  if (e == "ApplicationStart") return Kind::kAppStart;
  if (e == "ApplicationEnd") return Kind::kAppEnd;
  if (e == "LogStart") return Kind::kLogStart;
  return Kind::kIgnored;
}

std::string Shorten(std::string s) {
  if (size_t nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  if (s.size() > kMaxReasonChars) {
    s.resize(kMaxReasonChars);
    s += "...";
  }
  return s;
}

// Accumulates one application's summary, event by event.
class Summarizer {
 public:
  explicit Summarizer(const EventLogLocation& log) {
    s_.app_id = log.app_id;
    s_.log_path = log.path;
    s_.codec = log.codec;
    s_.log_in_progress = log.in_progress;
    s_.log_bytes = log.size_bytes;
  }

  void Line(std::string_view line) {
    if (line.empty()) return;
    Kind kind;
    json event;
    // Spark writes "Event" first; read it from the prefix and parse only what is needed.
    if (line.substr(0, kEventPrefix.size()) == kEventPrefix) {
      std::string_view rest = line.substr(kEventPrefix.size());
      size_t quote = rest.find('"');
      if (quote == std::string_view::npos) {
        ++s_.malformed_lines;
        return;
      }
      ++events_seen_;
      kind = KindOf(rest.substr(0, quote));
      if (kind == Kind::kIgnored) return;
      event = json::parse(line, nullptr, /*allow_exceptions=*/false);
    } else {
      event = json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (event.is_discarded() || !event.is_object()) {
        ++s_.malformed_lines;
        return;
      }
      std::string name = GetString(event, "Event");
      if (name.empty()) {
        ++s_.malformed_lines;
        return;
      }
      ++events_seen_;
      kind = KindOf(name);
      if (kind == Kind::kIgnored) return;
    }
    if (event.is_discarded() || !event.is_object()) {
      ++s_.malformed_lines;
      return;
    }
    Apply(kind, event);
  }

  // Lines that named an event; zero in a non-empty, finished file means it is not an event log.
  int64_t events_seen() const { return events_seen_; }

  AppSummary Finish() {
    s_.jobs_running = static_cast<int>(running_jobs_.size());
    if (s_.end_ms > 0) {
      s_.duration_ms = s_.start_ms > 0 ? s_.end_ms - s_.start_ms : 0;
      if (s_.exit_code.value_or(0) != 0) {
        s_.status = AppStatus::kFailed;
        s_.status_reason = "driver exit code " + std::to_string(*s_.exit_code);
      } else if (s_.jobs_failed > 0) {
        s_.status = AppStatus::kFailed;
        s_.status_reason =
            std::to_string(s_.jobs_failed) + " job(s) failed; first: " + first_job_failure_;
      } else {
        s_.status = AppStatus::kSucceeded;
      }
    } else {
      s_.duration_ms =
          s_.start_ms > 0 && last_event_ms_ > s_.start_ms ? last_event_ms_ - s_.start_ms : 0;
      if (s_.log_in_progress) {
        s_.status = AppStatus::kRunning;
        s_.status_reason =
            "no ApplicationEnd yet and the log is marked in progress (driver running, or killed "
            "without a shutdown hook)";
      } else {
        s_.status = AppStatus::kIncomplete;
        s_.status_reason = "the log ends without ApplicationEnd";
      }
    }
    return std::move(s_);
  }

 private:
  void Seen(int64_t t) { last_event_ms_ = std::max(last_event_ms_, t); }

  void Apply(Kind kind, const json& e) {
    switch (kind) {
      case Kind::kIgnored:
        break;
      case Kind::kLogStart:
        s_.spark_version = GetString(e, "Spark Version");
        break;
      case Kind::kAppStart:
        s_.name = GetString(e, "App Name");
        if (std::string id = GetString(e, "App ID"); !id.empty()) s_.app_id = id;
        s_.user = GetString(e, "User");
        s_.start_ms = GetInt(e, "Timestamp");
        Seen(s_.start_ms);
        break;
      case Kind::kAppEnd:
        s_.end_ms = GetInt(e, "Timestamp");
        if (const json* code = internal::Field(e, "ExitCode");
            code != nullptr && code->is_number_integer()) {
          s_.exit_code = static_cast<int>(code->get<int64_t>());
          s_.event_log_exit_code = s_.exit_code;
        }
        Seen(s_.end_ms);
        break;
      case Kind::kJobStart:
        running_jobs_.insert(GetInt(e, "Job ID", -1));
        Seen(GetInt(e, "Submission Time"));
        break;
      case Kind::kJobEnd: {
        running_jobs_.erase(GetInt(e, "Job ID", -1));
        Seen(GetInt(e, "Completion Time"));
        const json& result = GetObject(e, "Job Result");
        if (GetString(result, "Result") == "JobSucceeded") {
          ++s_.jobs_succeeded;
        } else {
          ++s_.jobs_failed;
          if (first_job_failure_.empty()) {
            first_job_failure_ =
                "job " + std::to_string(GetInt(e, "Job ID", -1)) + ": " +
                Shorten(GetString(GetObject(result, "Exception"), "Message", "no message"));
          }
        }
        break;
      }
      case Kind::kStageCompleted: {
        const json& info = GetObject(e, "Stage Info");
        Seen(GetInt(info, "Completion Time"));
        if (Has(info, "Failure Reason")) {
          ++s_.stages_failed;
        } else {
          ++s_.stages_completed;
        }
        break;
      }
      case Kind::kTaskEnd:
        TaskEnd(e);
        break;
      case Kind::kExecutorAdded:
        ++s_.executors_added;
        Seen(GetInt(e, "Timestamp"));
        break;
      case Kind::kExecutorRemoved:
        ++s_.executors_removed;
        Seen(GetInt(e, "Timestamp"));
        break;
    }
  }

  void TaskEnd(const json& e) {
    std::string reason = GetString(GetObject(e, "Task End Reason"), "Reason");
    if (reason == "Success") {
      ++s_.tasks_succeeded;
    } else if (reason == "TaskKilled") {
      ++s_.tasks_killed;
    } else {
      ++s_.tasks_failed;
    }
    Seen(GetInt(GetObject(e, "Task Info"), "Finish Time"));
    const json& m = GetObject(e, "Task Metrics");
    const json& input = GetObject(m, "Input Metrics");
    AddCount(&s_.input_bytes, GetInt(input, "Bytes Read"));
    AddCount(&s_.input_records, GetInt(input, "Records Read"));
    const json& output = GetObject(m, "Output Metrics");
    AddCount(&s_.output_bytes, GetInt(output, "Bytes Written"));
    AddCount(&s_.output_records, GetInt(output, "Records Written"));
    const json& read = GetObject(m, "Shuffle Read Metrics");
    AddCount(&s_.shuffle_read_bytes, GetInt(read, "Remote Bytes Read"));
    AddCount(&s_.shuffle_read_bytes, GetInt(read, "Local Bytes Read"));
    AddCount(&s_.shuffle_write_bytes,
             GetInt(GetObject(m, "Shuffle Write Metrics"), "Shuffle Bytes Written"));
  }

  AppSummary s_;
  std::set<int64_t> running_jobs_;
  std::string first_job_failure_;
  int64_t last_event_ms_ = 0;
  int64_t events_seen_ = 0;
};

}  // namespace

const char* AppStatusName(AppStatus status) {
  switch (status) {
    case AppStatus::kSucceeded:
      return "succeeded";
    case AppStatus::kFailed:
      return "failed";
    case AppStatus::kRunning:
      return "running";
    case AppStatus::kIncomplete:
      return "incomplete";
    case AppStatus::kUnreadable:
      return "unreadable";
  }
  return "unknown";
}

Result<AppSummary> SummarizeEventLog(const EventLogLocation& log) {
  Summarizer summarizer(log);
  Status st;
  try {  // nlohmann is used without exceptions here; this is the boundary's safety net
    st = ForEachEventLine(log, [&](std::string_view line) {
      summarizer.Line(line);
      return OkStatus();
    });
  } catch (const std::exception& e) {
    return InternalError("summarizing " + log.path + ": " + e.what());
  }
  if (!st.ok()) return st.With("Spark app " + log.app_id);
  if (summarizer.events_seen() == 0 && log.size_bytes > 0 && !log.in_progress) {
    return FailedPreconditionError(log.path + " is not a Spark event log (no line names an event)");
  }
  return summarizer.Finish();
}

nlohmann::json DriverExit::ToJson() const {
  json j = {{"app_id", app_id}, {"exit_code", exit_code}};
  if (signal) j["signal"] = *signal;
  if (!dag_id.empty()) j["dag_id"] = dag_id;
  if (!run_id.empty()) j["run_id"] = run_id;
  if (!task_id.empty()) j["task_id"] = task_id;
  if (try_number > 0) j["try_number"] = try_number;
  if (recorded_ms > 0) j["recorded_ms"] = recorded_ms;
  return j;
}

Result<DriverExit> DriverExit::FromJson(const nlohmann::json& j) {
  DriverExit e;
  e.app_id = GetString(j, "app_id");
  const json* code = internal::Field(j, "exit_code");
  if (e.app_id.empty() || code == nullptr || !code->is_number_integer()) {
    return InvalidArgumentError(
        "a driver exit record needs app_id (a string) and exit_code (an "
        "integer)");
  }
  e.exit_code = static_cast<int>(code->get<int64_t>());
  if (const json* sig = internal::Field(j, "signal"); sig != nullptr && sig->is_number_integer()) {
    e.signal = static_cast<int>(sig->get<int64_t>());
  }
  e.dag_id = GetString(j, "dag_id");
  e.run_id = GetString(j, "run_id");
  e.task_id = GetString(j, "task_id");
  e.try_number = static_cast<int>(GetInt(j, "try_number"));
  e.recorded_ms = GetInt(j, "recorded_ms");
  return e;
}

Result<std::string> DriverExitPath(const std::string& history_dir, const std::string& app_id) {
  if (app_id.empty() || app_id.find('/') != std::string::npos || app_id[0] == '.') {
    return InvalidArgumentError("Spark app id '" + app_id +
                                "': expected a non-empty id without '/' that does not start "
                                "with '.'");
  }
  return history_dir + "/" + std::string(kDriverExitPrefix) + app_id +
         std::string(kDriverExitSuffix);
}

Status RecordDriverExit(const std::string& history_dir, const DriverExit& exit) {
  ASSIGN_OR_RETURN(std::string path, DriverExitPath(history_dir, exit.app_id));
  return internal::WritePrivateFileAtomically(path, exit.ToJson().dump() + "\n");
}

Result<std::optional<DriverExit>> ReadDriverExit(const std::string& history_dir,
                                                 const std::string& app_id) {
  ASSIGN_OR_RETURN(std::string path, DriverExitPath(history_dir, app_id));
  Result<std::string> text = ReadFileText(path, "driver exit record");
  if (!text.ok()) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return std::optional<DriverExit>();
    return text.status();
  }
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  Result<DriverExit> exit = DriverExit::FromJson(j);
  if (!exit.ok()) return FailedPreconditionError(path + ": " + exit.status().message());
  if (exit->app_id != app_id) {
    return FailedPreconditionError(path + " names app " + exit->app_id + ", not " + app_id);
  }
  return std::optional<DriverExit>(std::move(exit).value());
}

void ApplyDriverExit(const DriverExit& exit, AppSummary* s) {
  const AppStatus logged = s->status;
  const std::string logged_reason = s->status_reason;
  s->exit_code = exit.exit_code;
  s->exit_code_from_driver = true;
  if (logged == AppStatus::kUnreadable) return;  // the reason says why the log is unreadable
  // What the log alone said, when it disagrees with the driver.
  std::string log_said = std::string("the event log says ") + AppStatusName(logged);
  if (!logged_reason.empty()) log_said += " (" + logged_reason + ")";
  if (exit.exit_code != 0) {
    s->status = AppStatus::kFailed;
    s->status_reason = exit.signal ? "driver killed by signal " + std::to_string(*exit.signal) +
                                         " (exit code " + std::to_string(exit.exit_code) + ")"
                                   : "driver exit code " + std::to_string(exit.exit_code);
    if (logged == AppStatus::kSucceeded) {
      s->status_reason += "; the event log says succeeded";
      if (s->event_log_exit_code) {
        s->status_reason += " (ExitCode " + std::to_string(*s->event_log_exit_code) + ")";
      }
    } else if (logged != AppStatus::kFailed) {
      s->status_reason += "; " + log_said;
    } else if (!logged_reason.empty() && logged_reason != s->status_reason) {
      s->status_reason += "; " + logged_reason;
    }
    return;
  }
  s->status = AppStatus::kSucceeded;
  s->status_reason = logged == AppStatus::kSucceeded ? "" : "driver exit code 0; " + log_said;
}

namespace {

// The summary with the app's recorded driver exit, when there is a readable one.
void MergeDriverExit(const std::string& history_dir, AppSummary* s) {
  Result<std::optional<DriverExit>> exit = ReadDriverExit(history_dir, s->app_id);
  if (exit.ok() && *exit) ApplyDriverExit(**exit, s);
}

}  // namespace

Result<AppSummary> SummarizeApplication(const std::string& history_dir, const std::string& app_id) {
  ASSIGN_OR_RETURN(EventLogLocation log, FindEventLog(history_dir, app_id));
  ASSIGN_OR_RETURN(AppSummary summary, SummarizeEventLog(log));
  MergeDriverExit(history_dir, &summary);
  return summary;
}

Result<std::vector<AppSummary>> ListApplications(const std::string& history_dir) {
  ASSIGN_OR_RETURN(std::vector<EventLogLocation> logs, ScanEventLogs(history_dir));
  std::vector<AppSummary> apps;
  apps.reserve(logs.size());
  internal::SummaryIndex index = internal::SummaryIndex::Load(history_dir);
  for (const EventLogLocation& log : logs) {
    if (std::optional<AppSummary> cached = index.Find(log)) {
      MergeDriverExit(history_dir, &*cached);
      apps.push_back(std::move(*cached));
      continue;
    }
    Result<AppSummary> summary = SummarizeEventLog(log);
    if (summary.ok()) {
      index.Put(log, *summary);
      MergeDriverExit(history_dir, &*summary);
      apps.push_back(std::move(summary).value());
      continue;
    }
    AppSummary unreadable;
    unreadable.app_id = log.app_id;
    unreadable.status = AppStatus::kUnreadable;
    unreadable.error = summary.status().message();
    unreadable.status_reason = unreadable.error;
    unreadable.log_path = log.path;
    unreadable.codec = log.codec;
    unreadable.log_in_progress = log.in_progress;
    unreadable.log_bytes = log.size_bytes;
    MergeDriverExit(history_dir, &unreadable);
    apps.push_back(std::move(unreadable));
  }
  index.Save();
  std::sort(apps.begin(), apps.end(), [](const AppSummary& a, const AppSummary& b) {
    return a.start_ms != b.start_ms ? a.start_ms < b.start_ms : a.app_id < b.app_id;
  });
  return apps;
}

Result<std::vector<std::string>> PruneEventLogs(const std::string& history_dir, int64_t before_ms,
                                                bool dry_run) {
  namespace fs = std::filesystem;
  ASSIGN_OR_RETURN(std::vector<EventLogLocation> logs, ScanEventLogs(history_dir));
  std::vector<std::string> removed;
  for (const EventLogLocation& log : logs) {
    if (log.in_progress) continue;
    std::error_code ec;
    int64_t newest_ms = 0;
    for (const std::string& f : log.files) {
      fs::file_time_type t = fs::last_write_time(f, ec);
      if (ec) break;
      auto since_epoch = std::chrono::file_clock::to_sys(t).time_since_epoch();
      newest_ms = std::max<int64_t>(
          newest_ms, std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count());
    }
    if (ec || log.files.empty() || newest_ms >= before_ms) continue;
    if (!dry_run) {
      fs::remove_all(log.path, ec);
      if (ec) continue;  // kept whole or partly: listed again next time
      if (Result<std::string> sidecar = DriverExitPath(history_dir, log.app_id); sidecar.ok()) {
        fs::remove(*sidecar, ec);
      }
    }
    removed.push_back(log.app_id);
  }
  return removed;
}

}  // namespace sp::spark
