// Application summaries from Spark event logs: what a finished (or running) Spark application
// did, read from a history directory without a History Server.
//
// Status rule. The event log cannot see the driver's exit: a Python driver that raises still
// writes ApplicationEnd with "ExitCode":0 (observed, 4.3). The driver's exit code is the truth
// for a run's outcome; this status is a description of the log:
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
  std::string status_reason;     // why failed/incomplete, for users
  std::optional<int> exit_code;  // ApplicationEnd "ExitCode" (Spark 4.x)

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

// Summarises one log. Errors: unreadable or unsupported files (FailedPrecondition).
Result<AppSummary> SummarizeEventLog(const EventLogLocation& log);

// Summarises `app_id`'s log in `history_dir`. NotFound when there is none.
Result<AppSummary> SummarizeApplication(const std::string& history_dir, const std::string& app_id);

// Every application in `history_dir`, sorted by start time (then id). Logs that cannot be read
// are listed with status kUnreadable and `error`. NotFound when the dir does not exist.
Result<std::vector<AppSummary>> ListApplications(const std::string& history_dir);

}  // namespace sp::spark
