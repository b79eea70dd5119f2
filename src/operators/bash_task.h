// BashTaskType ("bash"): runs a command as a child process of the server, one process group per
// try, with stdout and stderr appended to the try's log file.
//
// YAML fields:
//   command  required. A string is run by `/bin/bash -c` (shell: true, the default for a
//            string). A list of strings is the program and its arguments, run without a shell:
//            no expansion of $VARS, globs or quotes.
//   shell    bool. `shell: false` with a string runs that string as one program path without
//            arguments; `shell: true` with a list is an error.
//   cwd      string. Working directory of the process (default: the server's).
//   skip_on_exit_code  int or list of ints (0-255). An exit with one of them ends the try
//            `skipped` instead of failed (no retry), as Airflow's BashOperator; default 99;
//            null or [] turns it off.
//
// Environment: the allowlisted part of the server's (executor::DefaultPassEnv; never its
// SPARKPLANE_* secrets), plus the task's rendered `env:`, plus SPARKPLANE_DAG_ID,
// SPARKPLANE_RUN_ID, SPARKPLANE_TASK_ID and SPARKPLANE_TRY_NUMBER.
//
// Outputs: a line the command prints that is exactly
//     ::sparkplane-output KEY=VALUE
// (KEY of [A-Za-z0-9_.-]+, VALUE the rest of the line, a trailing \r dropped) sets
// outputs[KEY] = VALUE for downstream templates ({{ tasks.ID.outputs.KEY }}); the last line for
// a key wins. Only what this try wrote to the log is scanned.
//
// Flow of a try: Spawn gated with an exit record (`<log>.exit`) -> SaveHandle({"pid",
// "start_ticks", "space", "exit_record", "log", "log_offset"}) -> Release -> the exit callback
// (supervisor's reaper thread) scans the log and Completes: success iff exit code 0 (skipped for
// a skip_on_exit_code). After a server restart the process is no longer our child: Recover takes
// its result from the exit record, watching a command that still runs until it ends (through its
// files when it runs in another process space: executor/try_files.h), so a restart never runs
// finished work again. A command that ended without a record (killed with its supervisor, or
// silent for `try_silence` elsewhere) fails retryably. Handles saved without an exit record: a
// still-running process is stopped and the try fails retryably.
//
// Thread safety: all methods may run concurrently; work that blocks runs on TaskThreads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "operators/internal/task_threads.h"
#include "operators/task_type.h"

namespace sp::operators {

class BashTaskType : public TaskType {
 public:
  // `services` (its `processes` in particular) must outlive the type and every try it starts.
  explicit BashTaskType(const Services* services) : services_(services) {}
  ~BashTaskType() override { stopping_->store(true); }

  std::string Name() const override { return "bash"; }
  std::vector<std::string> FieldNames() const override;
  void Validate(const dag::TaskSpec& spec, std::vector<dag::DagError>* errors) const override;
  // `command` when it is a string run by bash (not a list, not `shell: false`).
  std::vector<std::string> ShellScriptFields(const nlohmann::json& fields) const override;

  void Start(std::shared_ptr<TaskContext> ctx) override;
  void Cancel(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle,
              Millis grace) override;
  void Recover(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle) override;

 private:
  const Services* services_;
  // Set when the type goes away: watchers of adopted commands return (the next server
  // recovers those tries again).
  std::shared_ptr<std::atomic<bool>> stopping_ = std::make_shared<std::atomic<bool>>(false);
  // Log scans and foreign-process stops; shared with exit callbacks, which the process
  // supervisor may still run after this type is gone. Its destructor waits for the work.
  std::shared_ptr<internal::TaskThreads> threads_ = std::make_shared<internal::TaskThreads>();
};

// What a bash task runs, from its rendered fields.
struct BashCommand {
  std::vector<std::string> argv;
  std::string cwd;
};
// InvalidArgument (with the field name) when the fields are not what Validate accepts.
Result<BashCommand> BuildBashCommand(const nlohmann::json& fields);

// Collects `::sparkplane-output KEY=VALUE` lines from text fed in arbitrary chunks.
class OutputMarkerScanner {
 public:
  void Feed(std::string_view data);
  // Call once at the end: a last line without a newline still counts.
  void Finish();
  const nlohmann::json& outputs() const { return outputs_; }

 private:
  void Line(std::string_view line);

  std::string line_;       // the current line, while it can still be a marker
  bool skipping_ = false;  // the current line is not a marker; skip to its end
  nlohmann::json outputs_ = nlohmann::json::object();
};

// Scans `path` from byte `offset` to its end. NotFound when the file cannot be opened.
Result<nlohmann::json> ReadOutputMarkers(const std::string& path, uint64_t offset);

}  // namespace sp::operators
