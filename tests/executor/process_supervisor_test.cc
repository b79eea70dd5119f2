// ProcessSupervisor against real processes: exit codes, output files, environment, gating,
// termination of whole process groups, liveness checks and many children at once.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "executor/internal/launch.h"
#include "executor/internal/pidfd.h"
#include "executor/internal/proc_stat.h"
#include "executor/process.h"
#include "executor/supervisor_protocol.h"
#include "executor/test_util.h"

namespace sp::executor {
namespace {

using ::sp::executor::testing::ExitRecorder;
using ::sp::executor::testing::ReadFile;
using ::sp::executor::testing::TempDir;
using ::sp::executor::testing::WaitFor;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

SpawnSpec Shell(const std::string& script, const std::string& output_path = "") {
  SpawnSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  spec.output_path = output_path;
  return spec;
}

// Spawns `spec` (releasing it when gated) and waits for its exit.
ExitInfo RunToExit(ProcessSupervisor& supervisor, const SpawnSpec& spec) {
  ExitRecorder recorder;
  Result<ProcessHandle> h = supervisor.Spawn(spec, recorder.Callback());
  EXPECT_TRUE(h.ok()) << h.status();
  if (h.ok() && spec.gated) {
    EXPECT_TRUE(supervisor.Release(h->pid).ok());
  }
  std::optional<ExitInfo> exit = recorder.Wait();
  EXPECT_TRUE(exit.has_value());
  return exit.value_or(ExitInfo{-999, std::nullopt});
}

TEST(ProcessSupervisorTest, ReportsExitCodes) {
  ProcessSupervisor supervisor;
  SpawnSpec ok;
  ok.argv = {"true"};
  EXPECT_EQ(RunToExit(supervisor, ok).exit_code, 0);
  EXPECT_EQ(RunToExit(supervisor, Shell("exit 3")).exit_code, 3);
  ExitInfo killed = RunToExit(supervisor, Shell("kill -9 $$"));
  EXPECT_EQ(killed.exit_code, 128 + 9);
  EXPECT_EQ(killed.signal, 9);
  EXPECT_EQ(supervisor.RunningCount(), 0u);
}

TEST(ProcessSupervisorTest, AppendsStdoutAndStderrToTheOutputFile) {
  TempDir dir;
  std::string log = dir.File("logs/nested/try.log");  // parent directories are created
  ProcessSupervisor supervisor;
  ASSERT_EQ(RunToExit(supervisor, Shell("echo out; echo err >&2", log)).exit_code, 0);
  ASSERT_EQ(RunToExit(supervisor, Shell("echo again", log)).exit_code, 0);
  EXPECT_EQ(ReadFile(log), "out\nerr\nagain\n");
  struct stat st;
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);  // task output may hold secrets: private
}

TEST(ProcessSupervisorTest, SeparateStderrPath) {
  TempDir dir;
  SpawnSpec spec = Shell("echo out; echo err >&2", dir.File("out.log"));
  spec.stderr_path = dir.File("err.log");
  ProcessSupervisor supervisor;
  ASSERT_EQ(RunToExit(supervisor, spec).exit_code, 0);
  EXPECT_EQ(ReadFile(dir.File("out.log")), "out\n");
  EXPECT_EQ(ReadFile(dir.File("err.log")), "err\n");
}

TEST(ProcessSupervisorTest, StdinIsDevNull) {
  TempDir dir;
  ProcessSupervisor supervisor;
  ASSERT_EQ(RunToExit(supervisor, Shell("cat; echo done", dir.File("o"))).exit_code, 0);
  EXPECT_EQ(ReadFile(dir.File("o")), "done\n");
}

TEST(ProcessSupervisorTest, EnvironmentOverridesAndIsolation) {
  TempDir dir;
  ProcessSupervisor supervisor;
  SpawnSpec inherit = Shell("echo \"$SP_TEST_VAR|${HOME:+home-set}\"", dir.File("a"));
  inherit.env = {{"SP_TEST_VAR", "value with spaces"}};
  ASSERT_EQ(RunToExit(supervisor, inherit).exit_code, 0);
  EXPECT_EQ(ReadFile(dir.File("a")), "value with spaces|home-set\n");

  SpawnSpec only;
  only.argv = {"/usr/bin/env"};
  only.env = {{"ONLY", "this"}};
  only.inherit_env = false;
  only.output_path = dir.File("b");
  ASSERT_EQ(RunToExit(supervisor, only).exit_code, 0);
  EXPECT_EQ(ReadFile(dir.File("b")), "ONLY=this\n");
}

// Issue 9 (secrets reach every task): a child gets the allowlisted environment, never the
// server's SPARKPLANE_* secrets or unrelated variables, and its log file is private.
TEST(ProcessSupervisorTest, ChildrenGetOnlyTheAllowlistedEnvironment) {
  TempDir dir;
  ::setenv("SPARKPLANE_SECRET_KEY", "planted-secret-42", 1);
  ::setenv("SP_UNLISTED_VAR", "unlisted", 1);
  ::setenv("LC_SPTEST", "passes-by-prefix", 1);
  ProcessSupervisor supervisor;
  SpawnSpec spec;
  spec.argv = {"/usr/bin/env"};
  spec.env = {{"SPARKPLANE_DAG_ID", "given-explicitly"}};
  spec.output_path = dir.File("env");
  ASSERT_EQ(RunToExit(supervisor, spec).exit_code, 0);
  std::string env = ReadFile(dir.File("env"));
  EXPECT_THAT(env, ::testing::Not(::testing::HasSubstr("planted-secret-42")));
  EXPECT_THAT(env, ::testing::Not(::testing::HasSubstr("SP_UNLISTED_VAR")));
  EXPECT_THAT(env, ::testing::HasSubstr("LC_SPTEST=passes-by-prefix"));
  EXPECT_THAT(env, ::testing::HasSubstr("PATH="));
  EXPECT_THAT(env, ::testing::HasSubstr("SPARKPLANE_DAG_ID=given-explicitly"));
  EXPECT_EQ(std::filesystem::status(dir.File("env")).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);

  ProcessSupervisor listed({"SP_UNLISTED_VAR", "SPARKPLANE_SECRET_KEY"});
  spec.output_path = dir.File("env2");
  ASSERT_EQ(RunToExit(listed, spec).exit_code, 0);
  std::string env2 = ReadFile(dir.File("env2"));
  EXPECT_THAT(env2, ::testing::HasSubstr("SP_UNLISTED_VAR=unlisted"));
  EXPECT_THAT(env2, ::testing::Not(::testing::HasSubstr("planted-secret-42")));
  ::unsetenv("SPARKPLANE_SECRET_KEY");
  ::unsetenv("SP_UNLISTED_VAR");
  ::unsetenv("LC_SPTEST");
}

TEST(ProcessSupervisorTest, RunsInTheWorkingDirectory) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("work"));
  SpawnSpec spec;
  spec.argv = {"pwd"};
  spec.cwd = dir.File("work");
  spec.output_path = dir.File("o");
  ProcessSupervisor supervisor;
  ASSERT_EQ(RunToExit(supervisor, spec).exit_code, 0);
  EXPECT_EQ(ReadFile(dir.File("o")), std::filesystem::canonical(dir.File("work")).string() + "\n");
}

// A gated try changes directory when it is released, not before: it runs where the directory
// is then, and a directory removed meanwhile is explained in the log (exit 127), never a run
// in a deleted directory.
TEST(ProcessSupervisorTest, GatedChildChangesDirectoryWhenReleased) {
  TempDir dir;
  std::filesystem::create_directories(dir.File("work"));
  ProcessSupervisor supervisor;
  for (bool remove_first : {false, true}) {
    SpawnSpec spec;
    spec.argv = {"pwd"};
    spec.cwd = dir.File("work");
    spec.output_path = dir.File(remove_first ? "gone.out" : "ok.out");
    spec.gated = true;
    spec.exit_record_path = dir.File("record");
    ExitRecorder recorder;
    Result<ProcessHandle> h = supervisor.Spawn(spec, recorder.Callback());
    ASSERT_TRUE(h.ok()) << h.status();
    if (remove_first) std::filesystem::remove(dir.File("work"));
    ASSERT_TRUE(supervisor.Release(h->pid).ok());
    std::optional<ExitInfo> exit = recorder.Wait();
    ASSERT_TRUE(exit.has_value());
    if (remove_first) {
      EXPECT_EQ(exit->exit_code, kLaunchFailedExitCode);
      EXPECT_THAT(ReadFile(dir.File("gone.out")),
                  HasSubstr("cannot change to working directory '" + dir.File("work") + "'"));
    } else {
      EXPECT_EQ(exit->exit_code, 0);
      EXPECT_EQ(ReadFile(dir.File("ok.out")),
                std::filesystem::canonical(dir.File("work")).string() + "\n");
    }
  }
}

TEST(ProcessSupervisorTest, ExplainsLaunchErrors) {
  TempDir dir;
  ProcessSupervisor supervisor;
  SpawnSpec missing;
  missing.argv = {"no-such-program-sparkplane"};
  Result<ProcessHandle> r = supervisor.Spawn(missing, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(),
              HasSubstr("program 'no-such-program-sparkplane' not found in PATH"));

  std::string script = dir.File("script.sh");
  { std::ofstream(script) << "#!/bin/sh\necho hi\n"; }
  SpawnSpec not_exec;
  not_exec.argv = {script};
  r = supervisor.Spawn(not_exec, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("'" + script + "' is not executable"));

  SpawnSpec bad_cwd;
  bad_cwd.argv = {"true"};
  bad_cwd.cwd = dir.File("nope");
  r = supervisor.Spawn(bad_cwd, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("working directory '" + dir.File("nope") + "'"));

  // Passes the checks before fork but execve refuses it (no #! line, not an ELF file).
  std::string garbage = dir.File("garbage");
  { std::ofstream(garbage) << "\x01\x02\x03 not a program"; }
  ::chmod(garbage.c_str(), 0755);
  SpawnSpec bad_format;
  bad_format.argv = {garbage};
  r = supervisor.Spawn(bad_format, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("cannot execute '" + garbage + "'"));
  EXPECT_EQ(supervisor.RunningCount(), 0u);
}

TEST(ProcessSupervisorTest, GatedExecFailureIsReportedThroughTheExit) {
  TempDir dir;
  std::string garbage = dir.File("garbage");
  { std::ofstream(garbage) << "\x01\x02\x03 not a program"; }
  ::chmod(garbage.c_str(), 0755);
  SpawnSpec spec;
  spec.argv = {garbage};
  spec.gated = true;
  spec.output_path = dir.File("o");
  ProcessSupervisor supervisor;
  ExitRecorder recorder;
  Result<ProcessHandle> h = supervisor.Spawn(spec, recorder.Callback());
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_TRUE(supervisor.Release(h->pid).ok());
  std::optional<ExitInfo> exit = recorder.Wait();
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 127);
  EXPECT_THAT(ReadFile(dir.File("o")), HasSubstr("cannot execute '" + garbage + "'"));
}

// A gated child waits at its gate as sparkplane-supervisor (never a fork() of this process),
// asleep, before the program runs.
bool BlockedBeforeExec(pid_t pid) {
  std::optional<internal::ProcStat> stat = internal::ReadProcStat(pid);
  if (!stat || stat->state != 'S') return false;
  std::error_code ec;
  return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).filename() ==
         kSupervisorName;
}

TEST(ProcessSupervisorTest, GatedChildWaitsForRelease) {
  TempDir dir;
  std::string marker = dir.File("ran");
  SpawnSpec spec;
  spec.argv = {"touch", marker};
  spec.gated = true;
  ProcessSupervisor supervisor;
  ExitRecorder recorder;
  Result<ProcessHandle> h = supervisor.Spawn(spec, recorder.Callback());
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_GT(h->start_ticks, 0u);
  ASSERT_TRUE(WaitFor([&] { return BlockedBeforeExec(h->pid); }));
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_EQ(CheckProcess(*h), ProcessLiveness::kRunning);

  ASSERT_TRUE(supervisor.Release(h->pid).ok());
  std::optional<ExitInfo> exit = recorder.Wait();
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_TRUE(std::filesystem::exists(marker));
  EXPECT_EQ(supervisor.Release(h->pid).code(), StatusCode::kNotFound);
}

TEST(ProcessSupervisorTest, ReleaseOfUnknownPidIsNotFound) {
  ProcessSupervisor supervisor;
  EXPECT_EQ(supervisor.Release(::getpid()).code(), StatusCode::kNotFound);
  SpawnSpec spec;
  spec.argv = {"sleep", "30"};
  ExitRecorder recorder;
  Result<ProcessHandle> h = supervisor.Spawn(spec, recorder.Callback());
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(supervisor.Release(h->pid).code(), StatusCode::kNotFound);  // not gated
  supervisor.Terminate(h->pid, Millis(0));
  ASSERT_TRUE(recorder.Wait().has_value());
}

TEST(ProcessSupervisorTest, GatedChildNeverRunsWhenTheSupervisorIsDestroyedFirst) {
  TempDir dir;
  std::string marker = dir.File("ran");
  ProcessHandle handle;
  {
    ProcessSupervisor supervisor;
    SpawnSpec spec;
    spec.argv = {"touch", marker};
    spec.gated = true;
    Result<ProcessHandle> h = supervisor.Spawn(spec, nullptr);
    ASSERT_TRUE(h.ok()) << h.status();
    handle = *h;
  }
  // The destructor reaped it.
  EXPECT_EQ(CheckProcess(handle), ProcessLiveness::kGone);
  EXPECT_FALSE(std::filesystem::exists(marker));
}

// The server dies (no destructor runs): the gate's write end closes with the process and the
// orphaned child exits without exec.
TEST(ProcessSupervisorTest, GatedChildExitsWhenTheServerDies) {
  TempDir dir;
  std::string marker = dir.File("ran");
  int report[2];
  ASSERT_EQ(::pipe(report), 0);
  pid_t server = ::fork();
  ASSERT_GE(server, 0);
  if (server == 0) {
    auto* supervisor = new ProcessSupervisor();  // deliberately never destroyed
    SpawnSpec spec;
    spec.argv = {"touch", marker};
    spec.gated = true;
    Result<ProcessHandle> h = supervisor->Spawn(spec, nullptr);
    pid_t pid = h.ok() ? h->pid : 0;
    ssize_t ignored = ::write(report[1], &pid, sizeof(pid));
    (void)ignored;
    ::_exit(0);
  }
  ::close(report[1]);
  pid_t gated = 0;
  ASSERT_EQ(::read(report[0], &gated, sizeof(gated)), static_cast<ssize_t>(sizeof(gated)));
  ::close(report[0]);
  ASSERT_GT(gated, 0);
  int pidfd = internal::PidfdOpen(gated);
  int status;
  ASSERT_EQ(::waitpid(server, &status, 0), server);
  if (pidfd >= 0) {  // else it is already gone
    pollfd p{pidfd, POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 10000), 1) << "the orphaned gated child did not exit";
    ::close(pidfd);
  }
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST(ProcessSupervisorTest, TerminateStopsAChildThatHonoursSigterm) {
  ProcessSupervisor supervisor;
  SpawnSpec spec;
  spec.argv = {"sleep", "30"};
  ExitRecorder recorder;
  Result<ProcessHandle> h = supervisor.Spawn(spec, recorder.Callback());
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(supervisor.IsChild(*h));
  supervisor.Terminate(h->pid, std::chrono::seconds(30));
  std::optional<ExitInfo> exit = recorder.Wait();
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 128 + SIGTERM);
  EXPECT_FALSE(supervisor.IsChild(*h));
}

TEST(ProcessSupervisorTest, TerminateEscalatesToSigkillAndKillsTheGroup) {
  TempDir dir;
  std::string pid_file = dir.File("grandchild.pid");
  SpawnSpec spec;
  spec.argv = {"/bin/bash", "-c", "trap '' TERM; sleep 30 & echo $! > " + pid_file + "; wait"};
  ProcessSupervisor supervisor;
  ExitRecorder recorder;
  Result<ProcessHandle> h = supervisor.Spawn(spec, recorder.Callback());
  ASSERT_TRUE(h.ok()) << h.status();
  pid_t grandchild = 0;
  ASSERT_TRUE(WaitFor([&] {
    std::string text = ReadFile(pid_file);
    if (text.empty() || text.back() != '\n') return false;
    grandchild = std::stoi(text);
    return true;
  }));
  std::optional<internal::ProcStat> stat = internal::ReadProcStat(grandchild);
  ASSERT_TRUE(stat.has_value());
  ProcessHandle grandchild_handle{grandchild, stat->start_ticks};
  EXPECT_EQ(stat->pgrp, h->pid);

  auto start = Clock::now();
  supervisor.Terminate(h->pid, Millis(300));
  std::optional<ExitInfo> exit = recorder.Wait();
  auto elapsed = Clock::now() - start;
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 128 + SIGKILL);
  EXPECT_GE(elapsed, Millis(250));
  EXPECT_TRUE(
      WaitFor([&] { return CheckProcess(grandchild_handle) != ProcessLiveness::kRunning; }));
}

TEST(ProcessSupervisorTest, TerminateBeforeReleaseKillsTheGatedChild) {
  TempDir dir;
  SpawnSpec spec;
  spec.argv = {"touch", dir.File("ran")};
  spec.gated = true;
  ProcessSupervisor supervisor;
  ExitRecorder recorder;
  Result<ProcessHandle> h = supervisor.Spawn(spec, recorder.Callback());
  ASSERT_TRUE(h.ok());
  supervisor.Terminate(h->pid, Millis(5000));
  std::optional<ExitInfo> exit = recorder.Wait();
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 128 + SIGTERM);
  EXPECT_FALSE(std::filesystem::exists(dir.File("ran")));
}

TEST(ProcessSupervisorTest, CheckProcessTellsRunningGoneAndNotOurs) {
  ProcessSupervisor supervisor;
  SpawnSpec spec;
  spec.argv = {"sleep", "30"};
  ExitRecorder recorder;
  Result<ProcessHandle> h = supervisor.Spawn(spec, recorder.Callback());
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(CheckProcess(*h), ProcessLiveness::kRunning);
  ProcessHandle reused{h->pid, h->start_ticks + 1};
  EXPECT_EQ(CheckProcess(reused), ProcessLiveness::kNotOurs);
  EXPECT_FALSE(supervisor.IsChild(reused));
  supervisor.Terminate(h->pid, Millis(0));
  ASSERT_TRUE(recorder.Wait().has_value());
  EXPECT_EQ(CheckProcess(*h), ProcessLiveness::kGone);
  EXPECT_EQ(CheckProcess(ProcessHandle{0, 0}), ProcessLiveness::kGone);
}

TEST(ProcessSupervisorTest, TerminateForeignStopsAProcessThatIsNotOurChild) {
  // A child of another supervisor stands in for a process left by a previous server.
  TempDir dir;
  ProcessSupervisor other;
  SpawnSpec spec;
  spec.argv = {"/bin/bash", "-c",
               "trap '' TERM; sleep 30 & echo ready > " + dir.File("ready") + "; wait"};
  ExitRecorder recorder;
  Result<ProcessHandle> h = other.Spawn(spec, recorder.Callback());
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(WaitFor([&] { return ReadFile(dir.File("ready")) == "ready\n"; }));
  ProcessSupervisor::TerminateForeign(*h, Millis(200));
  std::optional<ExitInfo> exit = recorder.Wait();
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 128 + SIGKILL);
  // A handle whose start time does not match is left alone.
  SpawnSpec sleeper;
  sleeper.argv = {"sleep", "30"};
  ExitRecorder sleeper_exit;
  Result<ProcessHandle> s = other.Spawn(sleeper, sleeper_exit.Callback());
  ASSERT_TRUE(s.ok());
  ProcessSupervisor::TerminateForeign(ProcessHandle{s->pid, s->start_ticks + 1}, Millis(10));
  EXPECT_EQ(CheckProcess(*s), ProcessLiveness::kRunning);
  other.Terminate(s->pid, Millis(0));
  ASSERT_TRUE(sleeper_exit.Wait().has_value());
}

TEST(ProcessSupervisorTest, HandleRoundTripsThroughJson) {
  ProcessHandle h{1234, 987654321};
  nlohmann::json j = h.ToJson();
  EXPECT_EQ(j, nlohmann::json::parse(R"({"pid":1234,"start_ticks":987654321})"));
  Result<ProcessHandle> back = ProcessHandle::FromJson(j);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->pid, 1234);
  EXPECT_EQ(back->start_ticks, 987654321u);
  for (const char* bad : {R"({"pid":"1"})", R"({"pid":0,"start_ticks":1})", R"([])",
                          R"({"pid":5,"start_ticks":-1})"}) {
    Result<ProcessHandle> r = ProcessHandle::FromJson(nlohmann::json::parse(bad));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("process handle"));
  }
}

size_t OpenFdCount() {
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)entry;
    ++n;
  }
  return n;
}

TEST(ProcessSupervisorTest, ChildInheritsOnlyStandardDescriptors) {
  TempDir dir;
  int leaky = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC: must still not reach the child
  ASSERT_GE(leaky, 0);
  ProcessSupervisor supervisor;
  SpawnSpec spec = Shell("ls /proc/$$/fd", dir.File("o"));
  spec.gated = true;
  ExitRecorder recorder;
  Result<ProcessHandle> h = supervisor.Spawn(spec, recorder.Callback());
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(supervisor.Release(h->pid).ok());
  ASSERT_TRUE(recorder.Wait().has_value());
  ::close(leaky);
  EXPECT_EQ(ReadFile(dir.File("o")), "0\n1\n2\n");
}

// With an exit record, the supervisor writes how the program ended (code or signal) and ends
// the same way, so the server learns it live or, after a restart, from the file.
TEST(ProcessSupervisorTest, ExitRecordKeepsTheProgramsEnd) {
  TempDir dir;
  ProcessSupervisor supervisor;
  struct Case {
    const char* script;
    int exit_code;
    std::optional<int> signal;
    const char* record;
  };
  for (const Case& c : {Case{"exit 3", 3, std::nullopt, "exit 3\n"},
                        Case{"kill -KILL $$", 128 + SIGKILL, SIGKILL, "signal 9\n"}}) {
    SpawnSpec spec = Shell(c.script, dir.File("out"));
    spec.gated = true;
    spec.exit_record_path = dir.File("record");
    ExitInfo exit = RunToExit(supervisor, spec);
    EXPECT_EQ(exit.exit_code, c.exit_code) << c.script;
    EXPECT_EQ(exit.signal, c.signal) << c.script;
    EXPECT_EQ(ReadFile(dir.File("record")), c.record) << c.script;
    std::optional<ExitInfo> read = ReadExitRecord(dir.File("record"));
    ASSERT_TRUE(read.has_value());
    EXPECT_EQ(read->exit_code, c.exit_code);
  }
}

// A supervised try's log and its directories are made by its supervisor once released, not by
// the caller (the scheduler's loop) in Spawn; they are private.
TEST(ProcessSupervisorTest, TheSupervisorMakesTheLogAfterItsGate) {
  TempDir dir;
  const std::string log = dir.File("logs/dag/run/task/1.log");
  SpawnSpec spec = Shell("echo out; echo err >&2", log);
  spec.gated = true;
  spec.exit_record_path = log + ".exit";
  ProcessSupervisor supervisor;
  ExitRecorder recorder;
  Result<ProcessHandle> h = supervisor.Spawn(spec, recorder.Callback());
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_FALSE(std::filesystem::exists(dir.File("logs")));
  ASSERT_TRUE(supervisor.Release(h->pid).ok());
  std::optional<ExitInfo> exit = recorder.Wait();
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 0);
  EXPECT_EQ(ReadFile(log), "out\nerr\n");
  struct stat st;
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.File("logs/dag/run/task").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(ReadFile(log + ".exit"), "exit 0\n");
}

// Supervised children run nicer than the server and in its session, so in its scheduling
// autogroup where the kernel has them (a session of their own would weigh as much as the whole
// server whatever their nice value); other children keep the priority, in a session of their own.
TEST(ProcessSupervisorTest, SupervisedChildrenRunNicerInTheServersSession) {
  TempDir dir;
  const int ours = ::getpriority(PRIO_PROCESS, 0);
  const std::string script = "nice; cut -d' ' -f6 /proc/$$/stat";
  auto run = [&](int nice, bool supervised) {
    ProcessSupervisor supervisor(DefaultPassEnv(), nice);
    SpawnSpec spec = Shell(script, dir.File("out"));
    if (supervised) spec.exit_record_path = dir.File("record");
    std::filesystem::remove(dir.File("out"));
    EXPECT_EQ(RunToExit(supervisor, spec).exit_code, 0);
    return ReadFile(dir.File("out"));
  };
  const std::string our_session = std::to_string(::getsid(0)) + "\n";
  EXPECT_EQ(run(7, /*supervised=*/true),
            std::to_string(std::min(19, ours + 7)) + "\n" + our_session);
  std::string out = run(7, /*supervised=*/false);
  EXPECT_EQ(out.substr(0, out.find('\n') + 1), std::to_string(ours) + "\n");
  EXPECT_NE(out.substr(out.find('\n') + 1), our_session);
  EXPECT_EQ(run(0, /*supervised=*/true), std::to_string(ours) + "\n" + our_session);
}

// Started from a terminal, a supervised program has no controlling terminal: one that opens
// /dev/tty to prompt fails at once instead of stopping in the background for ever. The
// supervisor runs under script(1), in the terminal's session, as a child of its shell.
TEST(ProcessSupervisorTest, TheSupervisorGivesUpTheControllingTerminal) {
  const std::string supervisor = internal::FindSupervisor();
  ASSERT_FALSE(supervisor.empty());
  if (::access("/usr/bin/script", X_OK) != 0) GTEST_SKIP() << "script(1) is not installed";
  TempDir dir;
  auto tty_of = [&](const std::string& prefix) {
    const std::string out = dir.File("tty");
    std::filesystem::remove(out);
    const std::string inner =
        prefix + "/bin/sh -c 'set -- \\$(cat /proc/self/stat); echo \\$7 > " + out + "'";
    const std::string cmd =
        "/usr/bin/script -qec \"" + inner + "; true\" /dev/null >/dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    return ReadFile(out);
  };
  EXPECT_NE(tty_of(""), "0\n") << "script(1) gave no terminal: this test proves nothing";
  // As the server starts it: leading a process group of its own, in the background.
  const std::string own_group =
      "python3 -c 'import os, sys; os.setpgid(0, 0); os.execv(sys.argv[1], sys.argv[1:])' ";
  EXPECT_EQ(tty_of(own_group + supervisor + " --record " + dir.File("record") + " -- /bin/sh "),
            "0\n");
}

// A log that cannot be made (a file where its directory should be) runs nothing and says so
// through the exit status and the record, the only channels left.
TEST(ProcessSupervisorTest, ALogThatCannotBeMadeRunsNothing) {
  TempDir dir;
  ASSERT_TRUE(std::filesystem::create_directories(dir.File("d")));
  const std::string marker = dir.File("d/ran");
  {
    FILE* f = std::fopen(dir.File("blocked").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  SpawnSpec spec = Shell("touch " + marker, dir.File("blocked/task/1.log"));
  spec.gated = true;
  spec.exit_record_path = dir.File("d/record");
  ProcessSupervisor supervisor;
  ExitInfo exit = RunToExit(supervisor, spec);
  EXPECT_EQ(exit.exit_code, kOutputFailedExitCode);
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_EQ(ReadFile(dir.File("d/record")), "exit " + std::to_string(kOutputFailedExitCode) + "\n");
}

// A stop (SIGTERM to the group) reaches the program, which gets its grace period to finish:
// the supervisor does not die of it first (which used to SIGKILL the program at once) and
// records the program's own exit.
TEST(ProcessSupervisorTest, StopGivesTheRecordedProgramItsGrace) {
  TempDir dir;
  ProcessSupervisor supervisor;
  SpawnSpec spec = Shell("trap 'sleep 0.3; echo cleaned > " + dir.File("marker") +
                             "; exit 7' TERM; touch " + dir.File("started") + "; sleep 30 & wait",
                         dir.File("out"));
  spec.gated = true;
  spec.exit_record_path = dir.File("record");
  ExitRecorder recorder;
  Result<ProcessHandle> h = supervisor.Spawn(spec, recorder.Callback());
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_TRUE(supervisor.Release(h->pid).ok());
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(dir.File("started")); }));
  supervisor.Terminate(h->pid, Millis(10000));
  std::optional<ExitInfo> exit = recorder.Wait(std::chrono::seconds(20));
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->exit_code, 7) << ReadFile(dir.File("out"));
  EXPECT_EQ(ReadFile(dir.File("marker")), "cleaned\n");
  EXPECT_EQ(ReadFile(dir.File("record")), "exit 7\n");
}

// How a restarted server waits for a try it adopted: the end is reported as it happens, a
// stop request ends the wait, and a handle whose start time does not match is already over.
TEST(ProcessSupervisorTest, AwaitEndSeesTheEndOfAProcess) {
  ProcessSupervisor supervisor;
  ExitRecorder recorder;
  Result<ProcessHandle> h = supervisor.Spawn(Shell("sleep 0.3"), recorder.Callback());
  ASSERT_TRUE(h.ok()) << h.status();
  std::atomic<bool> stop{false};
  EXPECT_TRUE(AwaitEnd(*h, stop));
  EXPECT_NE(CheckProcess(*h), ProcessLiveness::kRunning);

  ExitRecorder long_recorder;
  Result<ProcessHandle> long_running =
      supervisor.Spawn(Shell("sleep 30"), long_recorder.Callback());
  ASSERT_TRUE(long_running.ok());
  ProcessHandle other = *long_running;
  other.start_ticks += 1;  // the same pid, another process
  EXPECT_TRUE(AwaitEnd(other, stop));
  stop = true;
  EXPECT_FALSE(AwaitEnd(*long_running, stop));
  supervisor.Terminate(long_running->pid, Millis(0));
  ASSERT_TRUE(long_recorder.Wait().has_value());
}

TEST(ProcessSupervisorTest, DoesNotLeakDescriptors) {
  ProcessSupervisor supervisor;
  size_t before = OpenFdCount();
  for (int i = 0; i < 20; ++i) {
    SpawnSpec spec = Shell(i % 3 == 0 ? "exit 1" : "true");
    spec.gated = i % 2 == 0;
    ExitRecorder recorder;
    Result<ProcessHandle> h = supervisor.Spawn(spec, recorder.Callback());
    ASSERT_TRUE(h.ok());
    if (spec.gated) {
      ASSERT_TRUE(supervisor.Release(h->pid).ok());
    }
    if (i % 4 == 1) supervisor.Terminate(h->pid, Millis(1000));
    ASSERT_TRUE(recorder.Wait().has_value());
  }
  SpawnSpec missing;
  missing.argv = {"no-such-program-sparkplane"};
  EXPECT_FALSE(supervisor.Spawn(missing, nullptr).ok());
  EXPECT_EQ(OpenFdCount(), before);
}

TEST(ProcessSupervisorTest, ManyQuickChildrenAreAllReported) {
  constexpr int kChildren = 200;
  ProcessSupervisor supervisor;
  std::mutex mu;
  std::condition_variable cv;
  int reported = 0, failed = 0;
  for (int i = 0; i < kChildren; ++i) {
    SpawnSpec spec;
    spec.argv = {"true"};
    spec.gated = (i % 2 == 0);
    Result<ProcessHandle> h = supervisor.Spawn(spec, [&](const ExitInfo& exit) {
      std::lock_guard<std::mutex> lock(mu);
      ++reported;
      if (exit.exit_code != 0) ++failed;
      cv.notify_all();
    });
    ASSERT_TRUE(h.ok()) << h.status();
    if (spec.gated) {
      ASSERT_TRUE(supervisor.Release(h->pid).ok());
    }
  }
  std::unique_lock<std::mutex> lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return reported == kChildren; }))
      << reported << " of " << kChildren << " reported";
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(supervisor.RunningCount(), 0u);
}

// Not an assertion: prints our overhead for `true`, spawn -> exit callback, for the report.
TEST(ProcessSupervisorTest, PrintsSpawnLatency) {
  constexpr int kRounds = 200;
  ProcessSupervisor supervisor;
  for (bool gated : {false, true}) {
    std::vector<double> spawn_us, total_us;
    for (int i = 0; i < kRounds; ++i) {
      SpawnSpec spec;
      spec.argv = {"true"};
      spec.gated = gated;
      ExitRecorder recorder;
      auto start = Clock::now();
      Result<ProcessHandle> h = supervisor.Spawn(spec, recorder.Callback());
      ASSERT_TRUE(h.ok());
      if (gated) {
        ASSERT_TRUE(supervisor.Release(h->pid).ok());
      }
      auto spawned = Clock::now();
      ASSERT_TRUE(recorder.Wait().has_value());
      auto done = Clock::now();
      spawn_us.push_back(std::chrono::duration<double, std::micro>(spawned - start).count());
      total_us.push_back(std::chrono::duration<double, std::micro>(done - start).count());
    }
    auto pct = [](std::vector<double> v, double p) {
      std::sort(v.begin(), v.end());
      return v[static_cast<size_t>(p * (v.size() - 1))];
    };
    std::printf(
        "[latency] %s `true`: Spawn%s p50 %.0f us p99 %.0f us; spawn -> exit callback "
        "p50 %.0f us p99 %.0f us\n",
        gated ? "gated" : "non-gated", gated ? "+Release" : "", pct(spawn_us, 0.5),
        pct(spawn_us, 0.99), pct(total_us, 0.5), pct(total_us, 0.99));
  }
}

// Not an assertion: bash prints the wall-clock time as its last act; the gap to the exit
// callback bounds the reaper's latency (plus bash's own exit).
TEST(ProcessSupervisorTest, PrintsExitCallbackLatency) {
  constexpr int kRounds = 100;
  TempDir dir;
  ProcessSupervisor supervisor;
  std::vector<double> gaps_us;
  for (int i = 0; i < kRounds; ++i) {
    std::string out = dir.File("t" + std::to_string(i));
    SpawnSpec spec;
    spec.argv = {"/bin/bash", "-c", "echo $EPOCHREALTIME"};
    spec.output_path = out;
    std::mutex mu;
    std::condition_variable cv;
    std::optional<std::chrono::system_clock::time_point> called;
    Result<ProcessHandle> h = supervisor.Spawn(spec, [&](const ExitInfo&) {
      auto now = std::chrono::system_clock::now();
      std::lock_guard<std::mutex> lock(mu);
      called = now;
      cv.notify_all();
    });
    ASSERT_TRUE(h.ok());
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return called.has_value(); }));
    double printed_s = std::stod(ReadFile(out));
    double called_s = std::chrono::duration<double>(called->time_since_epoch()).count();
    gaps_us.push_back((called_s - printed_s) * 1e6);
  }
  std::sort(gaps_us.begin(), gaps_us.end());
  std::printf("[latency] bash's last output -> exit callback: p50 %.0f us p99 %.0f us\n",
              gaps_us[kRounds / 2], gaps_us[kRounds * 99 / 100]);
}

}  // namespace
}  // namespace sp::executor
