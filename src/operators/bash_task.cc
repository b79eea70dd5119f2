// BashTaskType; see bash_task.h.
#include "operators/bash_task.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <optional>
#include <thread>
#include <utility>

#include "executor/process.h"
#include "executor/supervisor_protocol.h"
#include "operators/internal/adopted_tries.h"
#include "operators/internal/results.h"

namespace sp::operators {

namespace {

using executor::ExitInfo;
using executor::ProcessHandle;
using executor::ProcessLiveness;
using executor::ProcessSupervisor;

constexpr std::string_view kMarker = "::sparkplane-output ";
// A marker line longer than this is ignored (it is not an output anyone templates with).
constexpr size_t kMaxMarkerLine = 1 << 20;
// Logs with more new bytes than this are scanned off the supervisor's reaper thread.
constexpr uint64_t kInlineScanLimit = 1 << 20;
// How long a process found running after a restart gets between SIGTERM and SIGKILL.
constexpr Millis kRecoveryGrace{10000};
// Airflow's BashOperator: a command exiting with 99 skips the task unless skip_on_exit_code says
// otherwise.
constexpr int kDefaultSkipExitCode = 99;

std::string Describe(const nlohmann::json& v) {
  std::string text = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return std::string(v.type_name()) + " " + text;
}

struct FieldProblem {
  std::string key;    // the YAML field it is about (for its location)
  std::string field;  // "command", "command[2]", ...
  std::string message;
};

// The checks shared by Validate (unrendered fields) and Start (rendered fields).
std::vector<FieldProblem> CheckFields(const nlohmann::json& fields) {
  std::vector<FieldProblem> problems;
  auto command = fields.find("command");
  if (command == fields.end()) {
    problems.push_back({"command", "command",
                        "missing required field 'command': give a shell command as a string, "
                        "or a program and its arguments as a list of strings"});
  } else if (command->is_string()) {
    const std::string& s = command->get_ref<const std::string&>();
    if (s.find_first_not_of(" \t\r\n") == std::string::npos) {
      problems.push_back({"command", "command", "must not be empty"});
    }
  } else if (command->is_array()) {
    if (command->empty()) {
      problems.push_back(
          {"command", "command", "must not be an empty list: give the program and its arguments"});
    }
    for (size_t i = 0; i < command->size(); ++i) {
      const nlohmann::json& arg = (*command)[i];
      std::string field = "command[" + std::to_string(i) + "]";
      if (!arg.is_string()) {
        problems.push_back({"command", field,
                            "expected a string (list items are passed to the program as "
                            "arguments); got " +
                                Describe(arg)});
      } else if (i == 0 && arg.get_ref<const std::string&>().empty()) {
        problems.push_back({"command", field, "the program name must not be empty"});
      }
    }
  } else {
    problems.push_back(
        {"command", "command",
         "expected a shell command string or a list of strings; got " + Describe(*command)});
  }
  auto shell = fields.find("shell");
  if (shell != fields.end()) {
    if (!shell->is_boolean()) {
      problems.push_back({"shell", "shell", "expected true or false; got " + Describe(*shell)});
    } else if (shell->get<bool>() && command != fields.end() && command->is_array()) {
      problems.push_back({"shell", "shell",
                          "shell: true needs a string command; a list is run as a program and "
                          "its arguments without a shell (write the command as one string, or "
                          "drop shell: true)"});
    }
  }
  auto cwd = fields.find("cwd");
  if (cwd != fields.end() && !cwd->is_string()) {
    problems.push_back({"cwd", "cwd", "expected a directory path string; got " + Describe(*cwd)});
  }
  if (auto skip = fields.find("skip_on_exit_code"); skip != fields.end() && !skip->is_null()) {
    auto check = [&](const nlohmann::json& v, const std::string& field) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 255) {
        problems.push_back({"skip_on_exit_code", field,
                            "expected an exit code from 0 to 255; got " + Describe(v)});
      }
    };
    if (skip->is_array()) {
      for (size_t i = 0; i < skip->size(); ++i) {
        check((*skip)[i], "skip_on_exit_code[" + std::to_string(i) + "]");
      }
    } else {
      check(*skip, "skip_on_exit_code");
    }
  }
  return problems;
}

// The exit codes that mean "skipped": Airflow's BashOperator default is 99; null or [] = none.
bool IsSkipExitCode(const nlohmann::json& fields, int exit_code) {
  auto skip = fields.find("skip_on_exit_code");
  if (skip == fields.end()) return exit_code == kDefaultSkipExitCode;
  auto same = [&](const nlohmann::json& v) {
    return v.is_number_integer() && v.get<int64_t>() == exit_code;
  };
  if (skip->is_array()) return std::any_of(skip->begin(), skip->end(), same);
  return same(*skip);
}

std::string ExitMessage(const ExitInfo& exit, const std::string& log_path) {
  if (exit.signal) {
    const char* name = ::sigabbrev_np(*exit.signal);
    return "command was killed by signal " + std::to_string(*exit.signal) +
           (name != nullptr ? std::string(" (SIG") + name + ")" : "");
  }
  if (exit.exit_code < 0) return "command ended but its exit status could not be collected";
  std::string message = "command exited with code " + std::to_string(exit.exit_code);
  if (exit.exit_code == 127) message += " (command not found?)";
  if (exit.exit_code == 126) message += " (not executable?)";
  struct stat st;
  if (exit.exit_code == executor::kOutputFailedExitCode && ::stat(log_path.c_str(), &st) != 0) {
    // The supervisor could not make the log: the command never ran.
    message = "the try's log '" + log_path + "' could not be created (" + strerror(errno) +
              "); the command did not run";
  }
  return message;
}

// `log`: where the command wrote (the context's log, or an adopted try's as its handle names it).
void CompleteFromExit(const std::shared_ptr<TaskContext>& ctx, const std::string& log,
                      uint64_t log_offset, const ExitInfo& exit) {
  TaskResult result;
  result.exit_code = exit.exit_code;
  result.skipped =
      !exit.signal && exit.exit_code >= 0 && IsSkipExitCode(ctx->fields(), exit.exit_code);
  result.success = !result.skipped && exit.exit_code == 0;
  Result<nlohmann::json> outputs = ReadOutputMarkers(log, log_offset);
  if (outputs.ok()) result.outputs = std::move(*outputs);
  if (result.skipped) {
    result.message = "command exited with code " + std::to_string(exit.exit_code) +
                     ": skipped (skip_on_exit_code)";
  } else if (!result.success) {
    result.message = ExitMessage(exit, log);
  }
  ctx->AppendLog("[sparkplane] " +
                 (result.success ? std::string("command exited with code 0") : result.message));
  ctx->Complete(std::move(result));
}

using internal::Failed;

// Per-try state shared between Start and the exit callback.
struct TryState {
  // Set when Start has already completed the try itself; the exit callback then stays quiet.
  std::atomic<bool> abandoned{false};
};

// Output values end up in JSON documents, which must be valid UTF-8: invalid sequences in what
// a command printed become U+FFFD.
std::string ToValidUtf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(in[k]); };
    unsigned char c = byte(i);
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (c < 0x80) {
      len = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    }
    bool ok = len > 0 && i + len <= in.size();
    for (size_t k = 1; ok && k < len; ++k) {
      unsigned char b = byte(i + k);
      ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    }
    if (ok) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out.append("\xEF\xBF\xBD");
      ++i;
    }
  }
  return out;
}

}  // namespace

Result<BashCommand> BuildBashCommand(const nlohmann::json& fields) {
  if (!fields.is_object()) {
    return InvalidArgumentError("bash task fields: expected a mapping; got " + Describe(fields));
  }
  std::vector<FieldProblem> problems = CheckFields(fields);
  if (!problems.empty()) {
    return InvalidArgumentError(problems[0].field + ": " + problems[0].message);
  }
  BashCommand command;
  const nlohmann::json& c = fields["command"];
  auto shell = fields.find("shell");
  if (c.is_array()) {
    for (const nlohmann::json& arg : c) command.argv.push_back(arg.get<std::string>());
  } else if (shell != fields.end() && !shell->get<bool>()) {
    command.argv = {c.get<std::string>()};
  } else {
    command.argv = {"/bin/bash", "-c", c.get<std::string>()};
  }
  if (auto cwd = fields.find("cwd"); cwd != fields.end()) command.cwd = cwd->get<std::string>();
  return command;
}

std::vector<std::string> BashTaskType::ShellScriptFields(const nlohmann::json& fields) const {
  if (!fields.is_object()) return {};
  auto command = fields.find("command");
  auto shell = fields.find("shell");
  bool no_shell = shell != fields.end() && shell->is_boolean() && !shell->get<bool>();
  if (command == fields.end() || !command->is_string() || no_shell) return {};
  return {"command"};
}

void OutputMarkerScanner::Feed(std::string_view data) {
  while (!data.empty()) {
    size_t newline = data.find('\n');
    std::string_view piece = data.substr(0, newline);
    if (!skipping_) {
      // Most lines are not markers: decide from their first bytes, without copying them.
      size_t have = line_.size();
      if (have < kMarker.size()) {
        size_t n = std::min(piece.size(), kMarker.size() - have);
        skipping_ = piece.substr(0, n) != kMarker.substr(have, n);
      }
      if (!skipping_ && have + piece.size() > kMaxMarkerLine) skipping_ = true;
      if (skipping_) {
        line_.clear();
      } else {
        line_.append(piece);
      }
    }
    if (newline == std::string_view::npos) return;
    if (!skipping_) Line(line_);
    line_.clear();
    skipping_ = false;
    data.remove_prefix(newline + 1);
  }
}

void OutputMarkerScanner::Finish() {
  if (!skipping_ && !line_.empty()) Line(line_);
  line_.clear();
  skipping_ = false;
}

void OutputMarkerScanner::Line(std::string_view line) {
  if (line.substr(0, kMarker.size()) != kMarker) return;
  std::string_view rest = line.substr(kMarker.size());
  size_t eq = rest.find('=');
  if (eq == 0 || eq == std::string_view::npos) return;
  std::string_view key = rest.substr(0, eq);
  for (char ch : key) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-';
    if (!ok) return;
  }
  std::string_view value = rest.substr(eq + 1);
  if (!value.empty() && value.back() == '\r') value.remove_suffix(1);
  outputs_[std::string(key)] = ToValidUtf8(value);
}

Result<nlohmann::json> ReadOutputMarkers(const std::string& path, uint64_t offset) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return NotFoundError("cannot read the log '" + path + "': " + std::string(strerror(errno)));
  }
  OutputMarkerScanner scanner;
  std::string buf(1 << 16, '\0');
  off_t pos = static_cast<off_t>(offset);
  for (;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), pos);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    scanner.Feed(std::string_view(buf.data(), static_cast<size_t>(n)));
    pos += n;
  }
  ::close(fd);
  scanner.Finish();
  return scanner.outputs();
}

std::vector<std::string> BashTaskType::FieldNames() const {
  return {"command", "shell", "cwd", "skip_on_exit_code"};
}

void BashTaskType::Validate(const dag::TaskSpec& spec, std::vector<dag::DagError>* errors) const {
  for (FieldProblem& p : CheckFields(spec.fields)) {
    dag::DagError e;
    auto loc = spec.field_locations.find(p.key);
    e.location = loc != spec.field_locations.end() ? loc->second : spec.location;
    e.field = p.field;  // the loader places it within the task ("tasks[2].command")
    e.message = std::move(p.message);
    errors->push_back(std::move(e));
  }
}

void BashTaskType::Start(std::shared_ptr<TaskContext> ctx) {
  Result<BashCommand> command = BuildBashCommand(ctx->fields());
  if (!command.ok()) {
    std::string message = "invalid bash task: " + command.status().message();
    ctx->AppendLog("[sparkplane] " + message);
    ctx->Complete(Failed(message, /*retryable=*/false));
    return;
  }
  executor::SpawnSpec spec;
  spec.argv = std::move(command->argv);
  spec.cwd = std::move(command->cwd);
  spec.env = ctx->env();
  spec.env["SPARKPLANE_DAG_ID"] = ctx->dag_id();
  spec.env["SPARKPLANE_RUN_ID"] = ctx->run_id();
  spec.env["SPARKPLANE_TASK_ID"] = ctx->task_id();
  spec.env["SPARKPLANE_TRY_NUMBER"] = std::to_string(ctx->try_number());
  spec.output_path = ctx->log_path();
  spec.gated = true;
  spec.announce_start = true;  // "[sparkplane] started process PID", off the loop thread
  // How the command ended survives the server: a restart never runs finished work again.
  spec.exit_record_path = ctx->log_path() + ".exit";

  // Outputs come only from what this try writes after this point.
  const uint64_t log_offset = internal::LogSize(ctx->log_path());
  auto state = std::make_shared<TryState>();
  ProcessSupervisor* processes = services_->processes;
  std::shared_ptr<internal::TaskThreads> threads = threads_;
  Result<ProcessHandle> handle =
      processes->Spawn(spec, [ctx, state, log_offset, threads](const ExitInfo& exit) {
        if (state->abandoned.load()) return;
        uint64_t size = internal::LogSize(ctx->log_path());
        // A big log would hold up every other exit on the reaper thread: scan it on a thread.
        if ((size > log_offset && size - log_offset > kInlineScanLimit) &&
            threads->Run([ctx, log_offset, exit] {
              CompleteFromExit(ctx, ctx->log_path(), log_offset, exit);
            })) {
          return;
        }
        CompleteFromExit(ctx, ctx->log_path(), log_offset, exit);
      });
  if (!handle.ok()) {
    const Status& s = handle.status();
    std::string message = "could not start the command: " + s.message();
    ctx->AppendLog("[sparkplane] " + message);
    // A missing program or directory stays missing on retry; a failed fork may not.
    bool retryable =
        s.code() != StatusCode::kFailedPrecondition && s.code() != StatusCode::kInvalidArgument;
    ctx->Complete(Failed(message, retryable));
    return;
  }

  nlohmann::json saved_handle = handle->ToJson();
  saved_handle["exit_record"] = spec.exit_record_path;
  saved_handle["log"] = spec.output_path;
  saved_handle["log_offset"] = log_offset;
  const pid_t pid = handle->pid;
  ctx->SaveHandleThen(
      saved_handle,
      [ctx, processes, pid] {
        Status released = processes->Release(pid);
        if (!released.ok()) {
          // It died at the gate (killed from outside); its exit callback completes the try.
          ctx->AppendLog("[sparkplane] " + released.message());
        }
      },
      [ctx, state, processes, pid](const Status& saved) {
        // The child is still at its gate: it has run nothing. Kill it and fail the try here.
        state->abandoned.store(true);
        processes->Terminate(pid, Millis(0));
        std::string message =
            "could not record the process handle, so the command was not started: " +
            saved.ToString();
        ctx->AppendLog("[sparkplane] " + message);
        ctx->Complete(Failed(message, /*retryable=*/true));
      });
}

void BashTaskType::Cancel(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle,
                          Millis grace) {
  Result<ProcessHandle> h = ProcessHandle::FromJson(handle);
  if (!h.ok()) {
    ctx->Complete(Failed("cancelled before the command started", /*retryable=*/true));
    return;
  }
  ProcessSupervisor* processes = services_->processes;
  if (processes->IsChild(*h)) {
    ctx->AppendLog("[sparkplane] stopping process " + std::to_string(h->pid));
    processes->Terminate(h->pid, grace);  // its exit callback completes the try
    return;
  }
  ProcessHandle foreign = *h;
  const executor::TryFiles files = internal::TryFilesOf(handle, ctx->log_path());
  const Millis silence = services_->config.try_silence;
  auto stop = [ctx, foreign, files, grace, silence] {
    Status s = internal::StopAdoptedTry(foreign, files, grace, silence);
    if (!s.ok()) ctx->AppendLog("[sparkplane] " + s.message());
    if (s.code() == StatusCode::kFailedPrecondition) {
      // It may still run: a retry would overlap it.
      ctx->Complete(Failed("cancelled, but " + s.message() + "; not retried", /*retryable=*/false));
      return;
    }
    ctx->AppendLog("[sparkplane] stopped process " + std::to_string(foreign.pid));
    ctx->Complete(Failed("cancelled; process " + std::to_string(foreign.pid) + " was stopped",
                         /*retryable=*/true));
  };
  if (!threads_->Run(stop)) stop();
}

void BashTaskType::Recover(std::shared_ptr<TaskContext> ctx, const nlohmann::json& handle) {
  Result<ProcessHandle> h = ProcessHandle::FromJson(handle);
  if (!h.ok()) {
    std::string message =
        "lost on restart: the saved handle is unreadable (" + h.status().message() + ")";
    ctx->AppendLog("[sparkplane] " + message);
    ctx->Complete(Failed(message, /*retryable=*/true));
    return;
  }
  const executor::TryFiles files = internal::TryFilesOf(handle, ctx->log_path());
  const uint64_t log_offset = handle.is_object() && handle.contains("log_offset") &&
                                      handle["log_offset"].is_number_unsigned()
                                  ? handle["log_offset"].get<uint64_t>()
                                  : internal::LogSize(files.output);
  if (!files.exit_record.empty()) {
    // Started with an exit record: the try's result stands whether it ended while the server
    // was down or ends later. A running command is adopted and watched, never restarted.
    ProcessHandle running = *h;
    const Millis silence = services_->config.try_silence;
    std::shared_ptr<std::atomic<bool>> stopping = stopping_;
    auto watch = [ctx, running, files, silence, log_offset, stopping] {
      const executor::TryEnd end = executor::AwaitTryEnd(running, files, silence, *stopping);
      // Stopping: the next server recovers it again from the same handle.
      if (end == executor::TryEnd::kStopping) return;
      if (std::optional<executor::ExitInfo> exit = executor::ReadExitRecord(files.exit_record)) {
        if (exit->never_started) {
          ctx->AppendLog("[sparkplane] process " + std::to_string(running.pid) +
                         " never started its command (the server stopped before opening its "
                         "start gate); the task is scheduled again");
          ctx->Complete(internal::NeverStarted());
          return;
        }
        ctx->AppendLog("[sparkplane] process " + std::to_string(running.pid) +
                       " ended while the server was away; its recorded exit is used");
        CompleteFromExit(ctx, files.output, log_offset, *exit);
        return;
      }
      std::string message = "lost on restart: process " + std::to_string(running.pid) + " " +
                            internal::DescribeLoss(running, silence);
      ctx->AppendLog("[sparkplane] " + message);
      ctx->Complete(Failed(message, /*retryable=*/true));
    };
    if (!internal::Watchable(running) || !threads_->Run(watch)) {
      watch();
    } else {
      ctx->AppendLog("[sparkplane] the server restarted while process " +
                     std::to_string(running.pid) + " ran; watching it" +
                     internal::DescribeWatch(running));
    }
    return;
  }
  // A handle saved before exit records existed: the exit code of a process that is not our
  // child is unknowable, so it is stopped, and the try completes only once it is gone so a
  // retry never overlaps it.
  if (executor::CheckProcess(*h) != ProcessLiveness::kRunning) {
    std::string message = "lost on restart: process " + std::to_string(h->pid) + " is gone";
    ctx->AppendLog("[sparkplane] " + message);
    ctx->Complete(Failed(message, /*retryable=*/true));
    return;
  }
  ProcessHandle running = *h;
  auto stop = [ctx, running] {
    ctx->AppendLog("[sparkplane] the server restarted while process " +
                   std::to_string(running.pid) + " ran; stopping it");
    ProcessSupervisor::TerminateForeign(running, kRecoveryGrace);
    ctx->Complete(Failed("the server restarted while the try ran; it was stopped",
                         /*retryable=*/true));
  };
  if (!threads_->Run(stop)) stop();
}

}  // namespace sp::operators
