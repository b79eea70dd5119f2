// Following and stopping a recorded try through its files, as a server on another host does over
// a shared log volume. The other host is a fake (named as such): the try runs here under a real
// sparkplane-supervisor, and its handle names another process space, so only the files are used.
#include "executor/try_files.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <fstream>

#include "executor/process.h"
#include "executor/test_util.h"

namespace sp::executor {
namespace {

using ::sp::executor::testing::ExitRecorder;
using ::sp::executor::testing::ReadFile;
using ::sp::executor::testing::TempDir;
using ::sp::executor::testing::WaitFor;

constexpr char kOtherHost[] = "another-host-boot-id/4026531836";

struct RecordedTry {
  ProcessHandle here;       // the real handle (this process space)
  ProcessHandle elsewhere;  // the same, as a server on another host reads it
  TryFiles files;
};

// A try started here under a recording supervisor that writes its log and exit record.
class TryFilesTest : public ::testing::Test {
 protected:
  RecordedTry Start(const std::string& script) {
    SpawnSpec spec;
    spec.argv = {"/bin/sh", "-c", script};
    spec.output_path = dir_.File("try.log");
    spec.exit_record_path = dir_.File("try.log.exit");
    Result<ProcessHandle> h = supervisor_.Spawn(spec, exited_.Callback());
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    RecordedTry t;
    t.here = h.value_or(ProcessHandle{});
    t.elsewhere = t.here;
    t.elsewhere.space = kOtherHost;
    t.files = {spec.exit_record_path, spec.output_path};
    return t;
  }

  TempDir dir_;
  ProcessSupervisor supervisor_;
  ExitRecorder exited_;
};

TEST(ProcessSpaceTest, HandlesSayWhereTheirPidMeansSomething) {
  ASSERT_FALSE(ProcessSpace().empty()) << "/proc tells neither the boot nor the pid namespace";
  ProcessHandle me = CurrentProcess();
  EXPECT_EQ(me.space, ProcessSpace());
  EXPECT_TRUE(IsHere(me));
  EXPECT_EQ(CheckProcess(me), ProcessLiveness::kRunning);
  ProcessHandle older{me.pid, me.start_ticks, ""};  // saved before spaces existed
  EXPECT_TRUE(IsHere(older));
  ProcessHandle there = me;
  there.space = kOtherHost;
  EXPECT_FALSE(IsHere(there));
  EXPECT_EQ(CheckProcess(there), ProcessLiveness::kElsewhere);

  Result<ProcessHandle> back = ProcessHandle::FromJson(there.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->space, kOtherHost);
  EXPECT_FALSE(
      ProcessHandle::FromJson(nlohmann::json{{"pid", 1}, {"start_ticks", 1}, {"space", 7}}).ok());
  EXPECT_FALSE(older.ToJson().contains("space"));
}

TEST_F(TryFilesTest, ChildrenCarryTheSpace) {
  RecordedTry t = Start("exit 0");
  EXPECT_EQ(t.here.space, ProcessSpace());
  ASSERT_TRUE(exited_.Wait().has_value());
}

// The try outlives the silence allowed: only the supervisor's heartbeat on its log keeps it
// alive in the other host's eyes (the command writes nothing after its first line).
TEST_F(TryFilesTest, AHeartbeatKeepsATryElsewhereAliveUntilItsRecordTellsTheEnd) {
  // Half as long again as the silence allowed; the heartbeat (every second) has 5 s of room on a
  // loaded machine.
  RecordedTry t = Start("echo started; sleep 9; exit 3");
  ASSERT_TRUE(WaitFor([&] { return ReadFile(t.files.output) == "started\n"; }));
  std::atomic<bool> stop{false};
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(AwaitTryEnd(t.elsewhere, t.files, Millis(6000), stop), TryEnd::kRecorded);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::seconds(7));
  std::optional<ExitInfo> record = ReadExitRecord(t.files.exit_record);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->exit_code, 3);
  ASSERT_TRUE(exited_.Wait().has_value());
}

TEST_F(TryFilesTest, ATryWhoseSupervisorDiedFallsSilent) {
  RecordedTry t = Start("sleep 60");
  ASSERT_TRUE(WaitFor([&] { return ::access(t.files.output.c_str(), F_OK) == 0; }));
  ASSERT_TRUE(SignalGroup(t.here.pid, SIGKILL).ok());  // the host "goes": supervisor and program
  ASSERT_TRUE(exited_.Wait().has_value());
  std::atomic<bool> stop{false};
  EXPECT_EQ(AwaitTryEnd(t.elsewhere, t.files, Millis(1500), stop), TryEnd::kSilent);
  // Here the same handle is followed through the process: it ended without a record.
  EXPECT_EQ(AwaitTryEnd(t.here, t.files, Millis(1500), stop), TryEnd::kSilent);
}

TEST_F(TryFilesTest, FilesThisHostCannotSeeAreSilentAndAStopReturnsTheWatch) {
  ProcessHandle there = CurrentProcess();
  there.space = kOtherHost;
  const TryFiles unshared{dir_.File("nowhere/try.log.exit"), dir_.File("nowhere/try.log")};
  std::atomic<bool> stop{false};
  EXPECT_EQ(AwaitTryEnd(there, unshared, Millis(600), stop), TryEnd::kSilent);
  stop = true;
  EXPECT_EQ(AwaitTryEnd(there, unshared, Millis(60'000), stop), TryEnd::kStopping);
}

TEST_F(TryFilesTest, AStopFileEndsATryElsewhereAndItsEndIsRecorded) {
  RecordedTry t = Start("trap 'exit 7' TERM; echo ready; sleep 60 & wait");
  ASSERT_TRUE(WaitFor([&] { return ReadFile(t.files.output) == "ready\n"; }));
  ASSERT_TRUE(StopTry(t.elsewhere, t.files, Millis(10'000), Millis(5'000)).ok());
  std::optional<ExitInfo> record = ReadExitRecord(t.files.exit_record);
  ASSERT_TRUE(record.has_value()) << "the stop returned before the try recorded its end";
  EXPECT_EQ(record->exit_code, 7);
  EXPECT_EQ(ReadFile(StopFileOf(t.files.exit_record)), "10000\n");
  struct stat st;
  ASSERT_EQ(::stat(StopFileOf(t.files.exit_record).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_TRUE(exited_.Wait().has_value());
}

// A program that ignores SIGTERM is killed after the grace, and so is the rest of its group
// (the `sleep` it started), once its end is recorded.
TEST_F(TryFilesTest, AStopFileKillsAfterTheGraceAndLeavesNothingOfTheGroup) {
  const std::string straggler = dir_.File("straggler");
  RecordedTry t = Start("trap '' TERM; sleep 60 & echo $! > " + straggler + "; echo ready; wait");
  ASSERT_TRUE(WaitFor([&] { return ReadFile(t.files.output) == "ready\n"; }));
  const pid_t sleeper = std::stoi(ReadFile(straggler));
  ASSERT_TRUE(StopTry(t.elsewhere, t.files, Millis(300), Millis(5'000)).ok());
  std::optional<ExitInfo> record = ReadExitRecord(t.files.exit_record);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->signal, SIGKILL);
  ASSERT_TRUE(exited_.Wait().has_value());
  // sh ignored SIGTERM, and its `sleep` inherited that: only the group's SIGKILL ends it.
  EXPECT_TRUE(WaitFor([&] { return ::kill(sleeper, 0) != 0; }, std::chrono::seconds(5)))
      << "the try's sleep " << sleeper << " outlived the stop";
}

// A stop file still being written (empty) is no stop with a zero grace: it is read again a second
// later.
TEST_F(TryFilesTest, AStopFileWithoutItsGraceYetIsNotAStop) {
  RecordedTry t = Start("echo ready; sleep 60");
  ASSERT_TRUE(WaitFor([&] { return ReadFile(t.files.output) == "ready\n"; }));
  { std::ofstream(StopFileOf(t.files.exit_record)); }
  EXPECT_FALSE(WaitFor([&] { return ::access(t.files.exit_record.c_str(), F_OK) == 0; },
                       std::chrono::milliseconds(2500)))
      << "an empty stop file stopped the try";
  ASSERT_TRUE(StopTry(t.elsewhere, t.files, Millis(5'000), Millis(5'000)).ok());
  ASSERT_TRUE(exited_.Wait().has_value());
}

// A stop file left at a record's path from an earlier try is not one for the next try there.
TEST_F(TryFilesTest, AStaleStopFileDoesNotStopTheNextTry) {
  { std::ofstream(dir_.File("try.log.exit") + ".stop") << "0\n"; }
  RecordedTry t = Start("sleep 1.5; exit 5");
  ASSERT_TRUE(exited_.Wait().has_value());
  std::optional<ExitInfo> record = ReadExitRecord(t.files.exit_record);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->exit_code, 5);
}

TEST_F(TryFilesTest, AStopOfATryHereTerminatesItsGroup) {
  RecordedTry t = Start("echo ready; sleep 60");
  ASSERT_TRUE(WaitFor([&] { return ReadFile(t.files.output) == "ready\n"; }));
  ASSERT_TRUE(StopTry(t.here, t.files, Millis(5'000), Millis(5'000)).ok());
  EXPECT_NE(CheckProcess(t.here), ProcessLiveness::kRunning);
  EXPECT_NE(::access(StopFileOf(t.files.exit_record).c_str(), F_OK), 0)
      << "a try here is stopped by signals, not through a file";
  ASSERT_TRUE(exited_.Wait().has_value());
}

}  // namespace
}  // namespace sp::executor
