// Application summaries from Spark event logs: what a finished (or running) Spark application
// did, read from a history directory without a History Server.
//
// Status rule. The event log cannot see the driver's exit: a Python driver that raises still
// writes ApplicationEnd with "ExitCode":0 (observed, 4.3). The driver's exit code is the truth
// for a run's outcome, so whoever runs spark-submit records it beside the event log
// (RecordDriverExit: a hidden sidecar file `.driver-exit_<appId>.json`, mode 0600, that Spark's
// History Server skips as it skips every hidden file). SummarizeApplication and
// ListApplications merge it: with a recorded exit, status is succeeded for exit code 0 and
// failed otherwise, whatever the log says (status_reason then says what the log said when it
// disagrees). Without one, the status describes the log alone:
//   succeeded   ApplicationEnd present, its ExitCode (4.x) absent or 0, and no job failed
//   failed      ApplicationEnd present, and a non-zero ExitCode or at least one JobFailed
//               (also when the app caught the job's exception and carried on)
//   running     no ApplicationEnd and the log is still marked in progress (.inprogress file or
//               appstatus_*.inprogress marker). A driver killed with SIGKILL leaves this state
//               forever: callers who know the driver has exited should read it as incomplete.
//   incomplete  no ApplicationEnd and the log is not marked in progress (cut short)
//   unreadable  ListApplications only: the log could not be read (see `error`)
//
// Metrics source: the "Task Metrics" object of every SparkListenerTaskEnd, summed over all
// task attempts (failed ones included), which is what the History Server's stage totals add
// up. Task metrics are always written, while accumulable names and their presence in
// TaskEnd/StageCompleted events vary with versions and settings
// (spark.eventLog.includeTaskMetricsAccumulators). Shuffle read = remote + local bytes read.
//
// Logs are streamed line by line; only the events the summary needs are JSON-parsed (the event
// name is read from the line's prefix first), so memory stays bounded by the longest line.
// Malformed lines are counted, not fatal (a log being written can end mid-line).
//
// Thread safety: free functions; thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "spark/event_log.h"

namespace sp::spark {

enum class AppStatus { kSucceeded, kFailed, kRunning, kIncomplete, kUnreadable };

const char* AppStatusName(AppStatus status);  // "succeeded", "failed", ...

struct AppSummary {
  std::string app_id;  // from ApplicationStart (the log's name when absent)
  std::string name;
  std::string user;
  std::string spark_version;
  int64_t start_ms = 0;     // ApplicationStart timestamp; 0 when absent
  int64_t end_ms = 0;       // ApplicationEnd timestamp; 0 while running
  int64_t duration_ms = 0;  // end - start, or last event time - start when not ended
  AppStatus status = AppStatus::kIncomplete;
  std::string status_reason;  // why failed/incomplete, for users
  // The application's exit code: the driver's when one was recorded (exit_code_from_driver),
  // else ApplicationEnd's "ExitCode" (Spark 4.x), else none.
  std::optional<int> exit_code;
  bool exit_code_from_driver = false;
  std::optional<int> event_log_exit_code;  // ApplicationEnd "ExitCode" as logged

  int jobs_succeeded = 0;
  int jobs_failed = 0;
  int jobs_running = 0;      // started, no JobEnd
  int stages_completed = 0;  // stage attempts that completed without a failure reason
  int stages_failed = 0;
  int64_t tasks_succeeded = 0;
  int64_t tasks_failed = 0;
  int64_t tasks_killed = 0;
  int executors_added = 0;
  int executors_removed = 0;

  int64_t input_bytes = 0;
  int64_t input_records = 0;
  int64_t output_bytes = 0;
  int64_t output_records = 0;
  int64_t shuffle_read_bytes = 0;
  int64_t shuffle_write_bytes = 0;

  std::string log_path;  // the event-log file or eventlog_v2_* dir
  EventLogCodec codec = EventLogCodec::kNone;
  bool log_in_progress = false;
  int64_t log_bytes = 0;
  int64_t malformed_lines = 0;
  std::string error;  // set with kUnreadable
};

// How one driver (spark-submit) ended, as its launcher saw it.
struct DriverExit {
  std::string app_id;
  int exit_code = 0;          // 128+N when killed by signal N
  std::optional<int> signal;  // set when killed by a signal
  // Who ran it, for people reading the file: Sparkplane's DAG, run and task (optional).
  std::string dag_id;
  std::string run_id;
  std::string task_id;
  int try_number = 0;
  int64_t recorded_ms = 0;  // Unix millis; 0 = unknown

  nlohmann::json ToJson() const;
  // InvalidArgument when app_id or exit_code is missing or mistyped.
  static Result<DriverExit> FromJson(const nlohmann::json& j);
};

// `<history_dir>/.driver-exit_<app_id>.json`. InvalidArgument for an app id that is empty,
// holds '/' or starts with '.'.
Result<std::string> DriverExitPath(const std::string& history_dir, const std::string& app_id);

// Writes the sidecar of `exit.app_id` in `history_dir` (0600, atomically: a temporary file
// renamed over it; a later try of the same app id replaces it). Unavailable on I/O errors.
Status RecordDriverExit(const std::string& history_dir, const DriverExit& exit);

// The recorded exit of `app_id`; nullopt when none was recorded. FailedPrecondition when the
// sidecar is unreadable or malformed.
Result<std::optional<DriverExit>> ReadDriverExit(const std::string& history_dir,
                                                 const std::string& app_id);

// Applies a recorded driver exit to a summary (the status rule above).
void ApplyDriverExit(const DriverExit& exit, AppSummary* summary);

// Summarises one log (the log alone: no sidecar). Errors: unreadable or unsupported files
// (FailedPrecondition).
Result<AppSummary> SummarizeEventLog(const EventLogLocation& log);

// Summarises `app_id`'s log in `history_dir`, with its recorded driver exit merged. NotFound
// when there is no log. A malformed sidecar is ignored (the summary then describes the log).
Result<AppSummary> SummarizeApplication(const std::string& history_dir, const std::string& app_id);

// Every application in `history_dir`, sorted by start time (then id), recorded driver exits
// merged. Summaries are kept in an index file in the directory (.sparkplane-summaries.json):
// only logs whose files changed since the last listing are read again. Logs that cannot be read are
// listed with status kUnreadable and `error` (and the recorded exit code, when there is one).
// NotFound when the dir does not exist.
Result<std::vector<AppSummary>> ListApplications(const std::string& history_dir);

// Retention: removes the logs of finished applications (not in progress) whose newest event
// file was last written before `before_ms` (Unix millis), with their recorded driver exits.
// Returns the app ids removed (with dry_run: that would be). NotFound when the dir is missing.
Result<std::vector<std::string>> PruneEventLogs(const std::string& history_dir, int64_t before_ms,
                                                bool dry_run);

}  // namespace sp::spark
