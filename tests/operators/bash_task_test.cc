// BashTaskType against real processes: outputs from marker lines, exit codes, argv without a
// shell, validation messages, cancel and recovery after a restart.
#include "operators/bash_task.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "executor/process.h"
#include "executor/supervisor_protocol.h"
#include "operators/recording_task_context.h"

namespace sp::operators {
namespace {

using executor::ExitInfo;
using executor::ProcessHandle;
using executor::ProcessLiveness;
using executor::ProcessSupervisor;
using executor::SpawnSpec;
using testing::ContextIdentity;
using ::testing::HasSubstr;
using testing::ReadFile;
using testing::RecordingTaskContext;
using testing::ScratchDir;
using Json = nlohmann::json;

// The identity of the tries these tests start: run manual__2026-01-01 of DAG etl, try 2.
ContextIdentity ExtractTry() {
  ContextIdentity id;
  id.run_id = "manual__2026-01-01";
  id.task_id = "extract";
  id.try_number = 2;
  return id;
}

class BashTaskTest : public ::testing::Test {
 protected:
  BashTaskTest() { services_.processes = &processes_; }

  std::shared_ptr<RecordingTaskContext> Context(Json fields,
                                                std::map<std::string, std::string> env = {}) {
    return std::make_shared<RecordingTaskContext>(&services_, std::move(fields), log_, ExtractTry(),
                                                  std::move(env));
  }

  TaskResult Run(Json fields, std::map<std::string, std::string> env = {}) {
    auto ctx = Context(std::move(fields), std::move(env));
    bash_.Start(ctx);
    std::optional<TaskResult> result = ctx->WaitForResult();
    EXPECT_TRUE(result.has_value()) << "the try never completed";
    return result.value_or(TaskResult{});
  }

  ScratchDir dir_;
  std::string log_ = dir_.File("logs/etl/run/extract/2.log");
  ProcessSupervisor processes_;
  Services services_;
  BashTaskType bash_{&services_};
};

TEST_F(BashTaskTest, SucceedsAndCollectsOutputsFromMarkerLines) {
  TaskResult r =
      Run({{"command",
            "echo hello; echo '::sparkplane-output rows=42'; "
            "echo '::sparkplane-output path=/a b=c'; echo '::sparkplane-output rows=43'; "
            "echo ' ::sparkplane-output ignored=1'; echo '::sparkplane-output bad key=1'"}});
  EXPECT_TRUE(r.success) << r.message;
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.outputs, Json({{"rows", "43"}, {"path", "/a b=c"}}));
  std::string log = ReadFile(log_);
  EXPECT_THAT(log, HasSubstr("hello\n"));
  EXPECT_THAT(log, HasSubstr("[sparkplane] started process "));
}

TEST_F(BashTaskTest, SavesTheHandleBeforeTheCommandRuns) {
  std::string marker = dir_.File("ran");
  auto ctx = Context({{"command", Json::array({"touch", marker})}});
  bash_.Start(ctx);
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->success) << r->message;
  std::optional<Json> handle = ctx->WaitForHandle();
  ASSERT_TRUE(handle.has_value());
  Result<ProcessHandle> h = ProcessHandle::FromJson(*handle);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_GT(h->start_ticks, 0u);
  EXPECT_TRUE(std::filesystem::exists(marker));
}

TEST_F(BashTaskTest, OnlyThisTrysOutputCounts) {
  std::filesystem::create_directories(std::filesystem::path(log_).parent_path());
  { std::ofstream(log_) << "::sparkplane-output stale=1\n"; }
  TaskResult r = Run({{"command", "echo '::sparkplane-output fresh=2'"}});
  EXPECT_TRUE(r.success) << r.message;
  EXPECT_EQ(r.outputs, Json({{"fresh", "2"}}));
}

TEST_F(BashTaskTest, PassesTaskEnvironmentAndIdentity) {
  TaskResult r = Run({{"command",
                       "echo \"::sparkplane-output ids=$SPARKPLANE_DAG_ID/$SPARKPLANE_RUN_ID/"
                       "$SPARKPLANE_TASK_ID/$SPARKPLANE_TRY_NUMBER\"; "
                       "echo \"::sparkplane-output table=$TABLE\""}},
                     {{"TABLE", "sales"}});
  EXPECT_TRUE(r.success) << r.message;
  EXPECT_EQ(r.outputs["ids"], "etl/manual__2026-01-01/extract/2");
  EXPECT_EQ(r.outputs["table"], "sales");
}

// Issue 12: Airflow's BashOperator skips the task on exit code 99 by default; skip_on_exit_code
// chooses the codes (an int or a list), null or [] turns it off.
TEST_F(BashTaskTest, Issue12ExitCode99SkipsTheTaskByDefault) {
  TaskResult r = Run({{"command", "exit 99"}});
  EXPECT_TRUE(r.skipped);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.exit_code, 99);
  EXPECT_EQ(r.message, "command exited with code 99: skipped (skip_on_exit_code)");
  EXPECT_THAT(ReadFile(log_), HasSubstr("[sparkplane] command exited with code 99: skipped"));
}

TEST_F(BashTaskTest, Issue12SkipOnExitCodeChoosesTheCodes) {
  struct Case {
    Json skip;
    int code;
    bool skipped;
  };
  for (const Case& c : {Case{3, 3, true}, Case{3, 99, false}, Case{Json::array({1, 4}), 4, true},
                        Case{Json::array({1, 4}), 2, false}, Case{Json::array(), 99, false},
                        Case{nullptr, 99, false}, Case{Json::array({0}), 0, true}}) {
    SCOPED_TRACE(c.skip.dump() + " exit " + std::to_string(c.code));
    TaskResult r =
        Run({{"command", "exit " + std::to_string(c.code)}, {"skip_on_exit_code", c.skip}});
    EXPECT_EQ(r.skipped, c.skipped);
    EXPECT_EQ(r.success, !c.skipped && c.code == 0);
    EXPECT_EQ(r.exit_code, c.code);
  }
}

TEST_F(BashTaskTest, NonZeroExitFailsWithTheCode) {
  TaskResult r = Run({{"command", "echo '::sparkplane-output partial=yes'; exit 3"}});
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.message, "command exited with code 3");
  EXPECT_TRUE(r.retryable);
  EXPECT_EQ(r.outputs["partial"], "yes");
  EXPECT_THAT(ReadFile(log_), HasSubstr("[sparkplane] command exited with code 3"));
}

TEST_F(BashTaskTest, ListFormRunsWithoutAShell) {
  TaskResult r =
      Run({{"command", Json::array({"printf", "%s|", "a string with spaces", "$HOME", "*"})}});
  EXPECT_TRUE(r.success) << r.message;
  EXPECT_THAT(ReadFile(log_), HasSubstr("a string with spaces|$HOME|*|"));
}

TEST_F(BashTaskTest, ShellFalseRunsTheStringAsOneProgram) {
  std::string script = dir_.File("my script.sh");
  { std::ofstream(script) << "#!/bin/sh\necho '::sparkplane-output via=script'\n"; }
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  TaskResult r = Run({{"command", script}, {"shell", false}});
  EXPECT_TRUE(r.success) << r.message;
  EXPECT_EQ(r.outputs["via"], "script");
}

TEST_F(BashTaskTest, RunsInCwd) {
  std::filesystem::create_directories(dir_.File("work"));
  TaskResult r =
      Run({{"command", "echo \"::sparkplane-output cwd=$(pwd)\""}, {"cwd", dir_.File("work")}});
  EXPECT_TRUE(r.success) << r.message;
  EXPECT_EQ(r.outputs["cwd"], std::filesystem::canonical(dir_.File("work")).string());
}

TEST_F(BashTaskTest, MissingProgramFailsWithoutRetry) {
  TaskResult r = Run({{"command", Json::array({"no-such-program-sparkplane", "x"})}});
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.retryable);
  EXPECT_THAT(r.message, HasSubstr("program 'no-such-program-sparkplane' not found in PATH"));
  EXPECT_THAT(ReadFile(log_), HasSubstr("not found in PATH"));
}

TEST_F(BashTaskTest, InvalidRenderedFieldsFailWithoutRetry) {
  TaskResult r = Run({{"command", 42}});
  EXPECT_FALSE(r.success);
  EXPECT_FALSE(r.retryable);
  EXPECT_THAT(r.message, HasSubstr("command: expected a shell command string"));
}

TEST_F(BashTaskTest, FailedSaveHandleKillsTheGatedChildAndFails) {
  std::string marker = dir_.File("ran");
  auto ctx = Context({{"command", Json::array({"touch", marker})}});
  ctx->FailSaveHandle(UnavailableError("store is down"));
  bash_.Start(ctx);
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_TRUE(r->retryable);
  EXPECT_THAT(r->message, HasSubstr("could not record the process handle"));
  EXPECT_THAT(r->message, HasSubstr("store is down"));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (processes_.RunningCount() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(processes_.RunningCount(), 0u);
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_EQ(ctx->complete_calls(), 1);
}

TEST_F(BashTaskTest, CancelStopsTheCommand) {
  auto ctx = Context({{"command", "sleep 30"}});
  auto start = std::chrono::steady_clock::now();
  bash_.Start(ctx);
  std::optional<Json> handle = ctx->WaitForHandle();
  ASSERT_TRUE(handle.has_value());
  bash_.Cancel(ctx, *handle, Millis(5000));
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_EQ(r->exit_code, 128 + SIGTERM);
  EXPECT_THAT(r->message, HasSubstr("signal 15 (SIGTERM)"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(BashTaskTest, CancelStopsAProcessFromBeforeARestart) {
  ProcessSupervisor previous_server;
  SpawnSpec spec;
  spec.argv = {"sleep", "30"};
  Result<ProcessHandle> h = previous_server.Spawn(spec, nullptr);
  ASSERT_TRUE(h.ok());
  auto ctx = Context({{"command", "sleep 30"}});
  bash_.Cancel(ctx, h->ToJson(), Millis(5000));
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_THAT(r->message, HasSubstr("cancelled"));
  EXPECT_NE(executor::CheckProcess(*h), ProcessLiveness::kRunning);
}

TEST_F(BashTaskTest, RecoverOfADeadProcessFails) {
  ProcessSupervisor previous_server;
  SpawnSpec spec;
  spec.argv = {"true"};
  std::mutex mu;
  std::condition_variable cv;
  bool exited = false;
  Result<ProcessHandle> h = previous_server.Spawn(spec, [&](const ExitInfo&) {
    std::lock_guard<std::mutex> lock(mu);
    exited = true;
    cv.notify_all();
  });
  ASSERT_TRUE(h.ok());
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return exited; }));
  }
  auto ctx = Context({{"command", "true"}});
  bash_.Recover(ctx, h->ToJson());
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_TRUE(r->retryable);
  EXPECT_EQ(r->message, "lost on restart: process " + std::to_string(h->pid) + " is gone");
}

TEST_F(BashTaskTest, RecoverStopsAProcessStillRunning) {
  ProcessSupervisor previous_server;
  SpawnSpec spec;
  spec.argv = {"sleep", "30"};
  Result<ProcessHandle> h = previous_server.Spawn(spec, nullptr);
  ASSERT_TRUE(h.ok());
  auto ctx = Context({{"command", "sleep 30"}});
  bash_.Recover(ctx, h->ToJson());
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_TRUE(r->retryable);
  EXPECT_EQ(r->message, "the server restarted while the try ran; it was stopped");
  EXPECT_NE(executor::CheckProcess(*h), ProcessLiveness::kRunning);
}

// A try adopted from another host or pod (a fake: the handle of a try started here, its space
// rewritten) is followed through its log's heartbeat and its exit record on the shared volume,
// never by a pid that means nothing here.
class BashTaskElsewhereTest : public BashTaskTest {
 protected:
  BashTaskElsewhereTest() { services_.config.try_silence = Millis(5000); }

  // Starts `command` as the other server did, and returns its handle as this one reads it.
  Json StartElsewhere(const std::string& command) {
    first_ = Context({{"command", command}});
    bash_.Start(first_);
    std::optional<Json> handle = first_->WaitForHandle();
    EXPECT_TRUE(handle.has_value());
    Json h = handle.value_or(Json::object());
    h["space"] = "another-host-boot-id/4026531836";
    return h;
  }

  std::shared_ptr<RecordingTaskContext> first_;
  BashTaskType adopter_{&services_};
};

// The try outlives the silence allowed (only the heartbeat keeps it alive), and the adopting
// server has a data directory of its own: the heartbeat and the outputs are read where the handle
// says the try writes, not at this server's name for the log.
TEST_F(BashTaskElsewhereTest, RecoverTakesTheRecordedEndOfATryElsewhere) {
  const std::string command = "echo '::sparkplane-output rows=5'; sleep 7; exit 4";
  Json handle = StartElsewhere(command);
  EXPECT_EQ(handle.value("log", ""), log_);
  const std::string adopter_log = dir_.File("adopter/logs/etl/run/extract/2.log");
  auto ctx = std::make_shared<RecordingTaskContext>(&services_, Json{{"command", command}},
                                                    adopter_log, ExtractTry());
  adopter_.Recover(ctx, handle);
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->exit_code, 4) << r->message;
  EXPECT_EQ(r->outputs, Json({{"rows", "5"}}));
  EXPECT_THAT(ReadFile(adopter_log), HasSubstr("through its log and exit record"));
}

TEST_F(BashTaskElsewhereTest, RecoverFailsATryElsewhereThatFellSilent) {
  Json handle = StartElsewhere("sleep 60");
  ASSERT_TRUE(executor::SignalGroup(handle["pid"].get<pid_t>(), SIGKILL).ok());
  ASSERT_TRUE(first_->WaitForResult().has_value());
  auto ctx = Context({{"command", "sleep 60"}});
  adopter_.Recover(ctx, handle);
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_TRUE(r->retryable);
  EXPECT_THAT(r->message, HasSubstr("showed no sign of life for 5 s"));
}

TEST_F(BashTaskElsewhereTest, CancelStopsATryElsewhereThroughItsStopFile) {
  Json handle = StartElsewhere("trap 'exit 7' TERM; echo ready; sleep 60 & wait");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (ReadFile(log_).find("ready\n") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto ctx = Context({{"command", "sleep 60"}});
  adopter_.Cancel(ctx, handle, Millis(5000));
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(r->message, HasSubstr("cancelled"));
  std::optional<executor::ExitInfo> record = executor::ReadExitRecord(log_ + ".exit");
  ASSERT_TRUE(record.has_value()) << "the cancel returned before the try ended";
  EXPECT_EQ(record->exit_code, 7);
  // The supervisor ended with its group (SIGKILL) once the end was recorded.
  ASSERT_TRUE(first_->WaitForResult().has_value());
}

// The server dies after its try's handle is durable and before the try's start gate opens (a
// kill -9 in that window; here a forked "server" that _exits inside SaveHandle). The command never
// ran, and the supervisor says so in the exit record, so the adopting server's Recover reports a
// try that never started (scheduled again without spending a try) instead of a lost one.
TEST_F(BashTaskTest, RecoverOfATryWhoseGateNeverOpenedSaysItNeverStarted) {
  const std::string marker = dir_.File("ran");
  const Json fields = {{"command", Json::array({"touch", marker})}};
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t server = ::fork();
  ASSERT_GE(server, 0);
  if (server == 0) {
    ::close(pipe_fds[0]);
    // Dies the moment the handle is saved, before the bash type opens the gate.
    class DiesAfterSavingTheHandle : public RecordingTaskContext {
     public:
      using RecordingTaskContext::RecordingTaskContext;
      int fd = -1;
      Status SaveHandle(const Json& handle) override {
        const std::string text = handle.dump();
        (void)!::write(fd, text.data(), text.size());
        ::_exit(0);
      }
    };
    ProcessSupervisor processes;
    Services services;
    services.processes = &processes;
    BashTaskType bash(&services);
    auto ctx = std::make_shared<DiesAfterSavingTheHandle>(&services, fields, log_, ExtractTry());
    ctx->fd = pipe_fds[1];
    bash.Start(ctx);
    ::sleep(30);
    ::_exit(1);
  }
  ::close(pipe_fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) text.append(buf, n);
  ::close(pipe_fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(server, &status, 0), server);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the server did not die as planned";
  Json handle = Json::parse(text, nullptr, false);
  ASSERT_TRUE(handle.is_object()) << text;

  auto ctx = Context(fields);
  bash_.Recover(ctx, handle);
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->never_started) << r->message;
  EXPECT_FALSE(r->success);
  EXPECT_THAT(r->message, HasSubstr("never started"));
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_THAT(ReadFile(log_), HasSubstr("never started its command"));
  std::optional<executor::ExitInfo> record = executor::ReadExitRecord(log_ + ".exit");
  ASSERT_TRUE(record.has_value());
  EXPECT_TRUE(record->never_started);
  EXPECT_EQ(record->exit_code, executor::kGateClosedExitCode);
}

TEST_F(BashTaskTest, RecoverWithAnUnreadableHandleFails) {
  auto ctx = Context({{"command", "true"}});
  bash_.Recover(ctx, Json{{"pid", "x"}});
  std::optional<TaskResult> r = ctx->WaitForResult();
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->success);
  EXPECT_THAT(r->message, HasSubstr("lost on restart"));
}

struct ValidationCase {
  const char* name;
  const char* fields;   // JSON
  const char* field;    // expected DagError::field
  const char* message;  // expected substring
};

class BashValidationTest : public ::testing::TestWithParam<ValidationCase> {};

TEST_P(BashValidationTest, ReportsLocatedErrors) {
  const ValidationCase& c = GetParam();
  dag::TaskSpec spec;
  spec.id = "load";
  spec.type = "bash";
  spec.fields = Json::parse(c.fields);
  spec.location = {"dags/etl.yaml", 10, 5};
  spec.field_locations["command"] = {"dags/etl.yaml", 12, 7};
  spec.field_locations["shell"] = {"dags/etl.yaml", 13, 7};
  Services services;
  BashTaskType bash(&services);
  std::vector<dag::DagError> errors;
  bash.Validate(spec, &errors);
  ASSERT_EQ(errors.size(), 1u) << c.name;
  EXPECT_EQ(errors[0].field, c.field);
  EXPECT_THAT(errors[0].message, HasSubstr(c.message));
  EXPECT_EQ(errors[0].location.file, "dags/etl.yaml");
  std::string key = c.field;
  key = key.substr(0, key.find('['));
  int expected_line = key == "command" ? 12 : key == "shell" ? 13 : 10;  // cwd has no location
  EXPECT_EQ(errors[0].location.line, expected_line) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BashValidationTest,
    ::testing::Values(
        ValidationCase{"missing", R"({})", "command", "missing required field 'command'"},
        ValidationCase{"empty string", R"({"command": "  "})", "command", "must not be empty"},
        ValidationCase{"number", R"({"command": 5})", "command",
                       "expected a shell command string or a list of strings; got number 5"},
        ValidationCase{"empty list", R"({"command": []})", "command", "must not be an empty list"},
        ValidationCase{"list item", R"({"command": ["ls", 3]})", "command[1]", "expected a string"},
        ValidationCase{"empty program", R"({"command": ["", "x"]})", "command[0]",
                       "the program name must not be empty"},
        ValidationCase{"shell with list", R"({"command": ["ls"], "shell": true})", "shell",
                       "shell: true needs a string command"},
        ValidationCase{"shell not bool", R"({"command": "ls", "shell": "yes"})", "shell",
                       "expected true or false; got string \"yes\""},
        ValidationCase{"cwd not string", R"({"command": "ls", "cwd": 1})", "cwd",
                       "expected a directory path string"},
        ValidationCase{"skip code string", R"({"command": "ls", "skip_on_exit_code": "99"})",
                       "skip_on_exit_code", "expected an exit code from 0 to 255; got string"},
        ValidationCase{"skip code range", R"({"command": "ls", "skip_on_exit_code": [1, 256]})",
                       "skip_on_exit_code[1]",
                       "expected an exit code from 0 to 255; got number 256"}),
    [](const ::testing::TestParamInfo<ValidationCase>& info) {
      std::string name = info.param.name;
      for (char& ch : name) {
        if (ch == ' ') ch = '_';
      }
      return name;
    });

TEST(BashValidFieldsTest, AcceptsValidForms) {
  Services services;
  BashTaskType bash(&services);
  for (const char* fields :
       {R"({"command": "echo {{ ds }}"})", R"({"command": ["ls", "-l"], "shell": false})",
        R"({"command": "ls", "shell": true, "cwd": "/tmp"})",
        R"({"command": "ls", "skip_on_exit_code": 3})",
        R"({"command": "ls", "skip_on_exit_code": [1, 2]})",
        R"({"command": "ls", "skip_on_exit_code": null})"}) {
    dag::TaskSpec spec;
    spec.id = "t";
    spec.fields = Json::parse(fields);
    std::vector<dag::DagError> errors;
    bash.Validate(spec, &errors);
    EXPECT_TRUE(errors.empty()) << fields << ": " << errors[0].message;
  }
}

TEST(OutputMarkerScannerTest, HandlesChunksAndOddLines) {
  std::string text =
      "noise ::sparkplane-output no=1\n"
      "::sparkplane-output a=1\r\n"
      "::sparkplane-output empty=\n"
      "::sparkplane-output =novalue\n"
      "::sparkplane-output key.with-dots_1=x=y\n"
      "::sparkplane-outputx=1\n"
      "::sparkplane-output last=no newline";
  for (size_t chunk : {1u, 3u, 7u, 4096u}) {
    OutputMarkerScanner scanner;
    for (size_t i = 0; i < text.size(); i += chunk) scanner.Feed(text.substr(i, chunk));
    scanner.Finish();
    EXPECT_EQ(scanner.outputs(),
              Json({{"a", "1"}, {"empty", ""}, {"key.with-dots_1", "x=y"}, {"last", "no newline"}}))
        << "chunk " << chunk;
  }
}

TEST(OutputMarkerScannerTest, ReplacesInvalidUtf8) {
  OutputMarkerScanner scanner;
  scanner.Feed("::sparkplane-output k=caf\xC3\xA9 \xFF\xC3 ok\n");
  scanner.Finish();
  EXPECT_EQ(scanner.outputs()["k"], "caf\xC3\xA9 \xEF\xBF\xBD\xEF\xBF\xBD ok");
  EXPECT_NO_FATAL_FAILURE(scanner.outputs().dump());
}

TEST(TaskContextTest, AppendLogCreatesTheFileAndDirectoriesPrivately) {
  ScratchDir dir;
  Services services;
  RecordingTaskContext ctx(&services, Json::object(), dir.File("a/b/c.log"));
  ctx.AppendLog("[sparkplane] one");
  ctx.AppendLog("two");
  EXPECT_EQ(ReadFile(dir.File("a/b/c.log")), "[sparkplane] one\ntwo\n");
  struct stat st {};
  for (const char* d : {"a", "a/b"}) {
    ASSERT_EQ(::stat(dir.File(d).c_str(), &st), 0) << d;
    EXPECT_EQ(st.st_mode & 0777, 0700u) << d;
  }
  ASSERT_EQ(::stat(dir.File("a/b/c.log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

}  // namespace
}  // namespace sp::operators
