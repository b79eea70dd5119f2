// Application summaries from the hand-written history fixtures (tests/data/spark/history/):
// statuses, counts and metrics; a zstd copy made here must summarise identically.
#include "spark/history.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zstd.h>

#include <filesystem>

#include "spark/spark_test_util.h"

namespace sp::spark {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::StatusIs;

constexpr int64_t kT0 = 1795680000000;

std::string HistoryDir() {
  return testing::DataDir() + "/history";
}

AppSummary Summary(const std::string& app_id, const std::string& dir = HistoryDir()) {
  Result<AppSummary> s = SummarizeApplication(dir, app_id);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *s : AppSummary{};
}

TEST(HistoryTest, SucceededAppCountsAndMetrics) {
  AppSummary s = Summary("app-20261126100000-0000");
  EXPECT_EQ(s.app_id, "app-20261126100000-0000");
  EXPECT_EQ(s.name, "wordcount");
  EXPECT_EQ(s.user, "alice");
  EXPECT_EQ(s.spark_version, "4.3.0");
  EXPECT_EQ(s.status, AppStatus::kSucceeded) << s.status_reason;
  EXPECT_EQ(s.exit_code, 0);
  EXPECT_EQ(s.start_ms, kT0);
  EXPECT_EQ(s.end_ms, kT0 + 12345);
  EXPECT_EQ(s.duration_ms, 12345);
  EXPECT_EQ(s.jobs_succeeded, 2);
  EXPECT_EQ(s.jobs_failed, 0);
  EXPECT_EQ(s.jobs_running, 0);
  EXPECT_EQ(s.stages_completed, 3);
  EXPECT_EQ(s.stages_failed, 0);
  EXPECT_EQ(s.tasks_succeeded, 4);
  EXPECT_EQ(s.tasks_failed, 1);
  EXPECT_EQ(s.tasks_killed, 1);
  EXPECT_EQ(s.executors_added, 1);
  EXPECT_EQ(s.executors_removed, 1);
  // From TaskEnd "Task Metrics" (all attempts); the stage accumulables (999999) are not used.
  EXPECT_EQ(s.input_bytes, 1500);
  EXPECT_EQ(s.input_records, 15);
  EXPECT_EQ(s.output_bytes, 64);
  EXPECT_EQ(s.output_records, 2);
  EXPECT_EQ(s.shuffle_read_bytes, 7 + 3 + 120 + 180);
  EXPECT_EQ(s.shuffle_write_bytes, 300);
  EXPECT_EQ(s.malformed_lines, 0);
  EXPECT_FALSE(s.log_in_progress);
  EXPECT_EQ(s.codec, EventLogCodec::kNone);
}

TEST(HistoryTest, InProgressFileIsRunningAndToleratesCutLine) {
  AppSummary s = Summary("app-20261126100100-0001");
  EXPECT_EQ(s.status, AppStatus::kRunning);
  EXPECT_THAT(s.status_reason, HasSubstr("in progress"));
  EXPECT_TRUE(s.log_in_progress);
  EXPECT_EQ(s.end_ms, 0);
  EXPECT_EQ(s.duration_ms, 3000);  // last event seen - start
  EXPECT_EQ(s.jobs_running, 1);
  EXPECT_EQ(s.tasks_succeeded, 1);
  EXPECT_EQ(s.input_bytes, 42);
  EXPECT_EQ(s.malformed_lines, 1);
}

TEST(HistoryTest, RollingDirWithFailedJob) {
  AppSummary s = Summary("app-20261126100200-0002");
  EXPECT_EQ(s.status, AppStatus::kFailed);
  EXPECT_THAT(s.status_reason,
              HasSubstr("1 job(s) failed; first: job 1: Job aborted due to stage failure"));
  EXPECT_THAT(s.status_reason, Not(HasSubstr("Traceback")));  // first line only
  EXPECT_EQ(s.jobs_succeeded, 1);
  EXPECT_EQ(s.jobs_failed, 1);
  EXPECT_EQ(s.jobs_running, 0);  // JobStart in events_2, JobEnd in events_10: numeric order
  EXPECT_EQ(s.stages_failed, 1);
  EXPECT_EQ(s.tasks_succeeded, 1);
  EXPECT_EQ(s.tasks_failed, 2);
  EXPECT_EQ(s.shuffle_write_bytes, 10);
  EXPECT_EQ(s.duration_ms, 5000);
}

TEST(HistoryTest, RollingDirInProgress) {
  AppSummary s = Summary("app-20261126100300-0003");
  EXPECT_EQ(s.status, AppStatus::kRunning);
  EXPECT_EQ(s.jobs_running, 1);
}

TEST(HistoryTest, CutShortLogIsIncomplete) {
  AppSummary s = Summary("app-20261126095900-0005");
  EXPECT_EQ(s.status, AppStatus::kIncomplete);
  EXPECT_THAT(s.status_reason, HasSubstr("without ApplicationEnd"));
}

TEST(HistoryTest, NonZeroExitCodeIsFailed) {
  AppSummary s = Summary("app-20261126100600-0006");
  EXPECT_EQ(s.status, AppStatus::kFailed);
  EXPECT_EQ(s.exit_code, 3);
  EXPECT_EQ(s.status_reason, "driver exit code 3");
  EXPECT_EQ(s.jobs_succeeded, 1);
}

TEST(HistoryTest, Lz4IsAClearError) {
  EXPECT_THAT(SummarizeApplication(HistoryDir(), "app-20261126100400-0004"),
              StatusIs(StatusCode::kFailedPrecondition,
                       HasSubstr("compressed with lz4, which Sparkplane cannot read")));
}

TEST(HistoryTest, UnknownAppIsNotFound) {
  EXPECT_THAT(SummarizeApplication(HistoryDir(), "app-20990101000000-0000"),
              StatusIs(StatusCode::kNotFound, HasSubstr("app-20990101000000-0000")));
}

// A copy of the fixtures: listing writes the summary index into the directory.
struct FixtureCopy {
  FixtureCopy() { fs::copy(HistoryDir(), dir.path(), fs::copy_options::recursive); }
  testing::ScratchDir dir;
};

TEST(HistoryTest, ListSortedByStartWithUnreadableEntries) {
  FixtureCopy copy;
  Result<std::vector<AppSummary>> apps = ListApplications(copy.dir.path());
  ASSERT_TRUE(apps.ok()) << apps.status();
  std::vector<std::string> order;
  std::vector<std::string> statuses;
  for (const AppSummary& a : *apps) {
    order.push_back(a.app_id);
    statuses.push_back(AppStatusName(a.status));
  }
  EXPECT_THAT(order, ElementsAre("app-20261126100400-0004", "app-20261126095900-0005",
                                 "app-20261126100000-0000", "app-20261126100100-0001",
                                 "app-20261126100200-0002", "app-20261126100300-0003",
                                 "app-20261126100600-0006"));
  EXPECT_THAT(statuses, ElementsAre("unreadable", "incomplete", "succeeded", "running", "failed",
                                    "running", "failed"));
  EXPECT_THAT((*apps)[0].error, HasSubstr("lz4"));
}

// Bounded growth: a listing reads a log only when its files changed since the last one; the
// index is private and not listed as an application.
TEST(HistoryTest, ListingUsesTheIndexUntilALogChanges) {
  FixtureCopy copy;
  Result<std::vector<AppSummary>> first = ListApplications(copy.dir.path());
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string index = copy.dir.path() + "/.sparkplane-summaries.json";
  ASSERT_TRUE(fs::exists(index));
  EXPECT_EQ(fs::status(index).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  // Mark every cached summary: a listing that uses the index shows the mark.
  std::string text = testing::ReadText(index);
  size_t marked = 0;
  for (size_t at = 0; (at = text.find("\"user\":\"", at)) != std::string::npos; ++marked) {
    at += 8;
    text.insert(at, "cached-");
  }
  ASSERT_GT(marked, 0u);
  testing::WriteText(index, text);
  Result<std::vector<AppSummary>> second = ListApplications(copy.dir.path());
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_EQ(second->size(), first->size());
  const std::string app = "app-20261126100000-0000";
  for (const AppSummary& a : *second) {
    if (a.status != AppStatus::kUnreadable) {
      EXPECT_THAT(a.user, HasSubstr("cached-")) << a.app_id;
    }
  }
  // A log that grew is read again; the others still come from the index.
  std::string log = copy.dir.path() + "/" + app;
  testing::WriteText(log, testing::ReadText(log) + "\n");
  Result<std::vector<AppSummary>> third = ListApplications(copy.dir.path());
  ASSERT_TRUE(third.ok()) << third.status();
  for (const AppSummary& a : *third) {
    if (a.status == AppStatus::kUnreadable) continue;
    if (a.app_id == app) {
      EXPECT_THAT(a.user, Not(HasSubstr("cached-")));
      EXPECT_EQ(a.status, AppStatus::kSucceeded);
    } else {
      EXPECT_THAT(a.user, HasSubstr("cached-")) << a.app_id;
    }
  }
  // A garbled index is rebuilt, not trusted.
  testing::WriteText(index, "{not json");
  Result<std::vector<AppSummary>> fourth = ListApplications(copy.dir.path());
  ASSERT_TRUE(fourth.ok()) << fourth.status();
  EXPECT_EQ(fourth->size(), first->size());
  EXPECT_THAT(testing::ReadText(index), Not(HasSubstr("cached-")));
}

TEST(HistoryTest, NonEventFileIsUnreadable) {
  testing::ScratchDir dir;
  testing::WriteText(dir / "notes.txt", "hello\nworld\n");
  Result<std::vector<AppSummary>> apps = ListApplications(dir.path());
  ASSERT_TRUE(apps.ok()) << apps.status();
  ASSERT_EQ(apps->size(), 1u);
  EXPECT_EQ((*apps)[0].status, AppStatus::kUnreadable);
  EXPECT_THAT((*apps)[0].error, HasSubstr("is not a Spark event log"));
}

// Hardening issue B: a driver that raised after its jobs finished exited 1, yet Spark logged
// ExitCode 0 and `history` called the application succeeded. The recorded exit code wins.
TEST(HistoryTest, RecordedDriverExitCodeWinsOverTheEventLog) {
  testing::ScratchDir dir;
  const std::string id = "app-20261126100000-0000";
  testing::WriteText(dir / id, testing::ReadText(HistoryDir() + "/" + id));
  ASSERT_EQ(Summary(id, dir.path()).status, AppStatus::kSucceeded);

  DriverExit exit;
  exit.app_id = id;
  exit.exit_code = 1;
  exit.dag_id = "etl";
  exit.task_id = "app";
  exit.try_number = 2;
  ASSERT_TRUE(RecordDriverExit(dir.path(), exit).ok());
  Result<std::string> path = DriverExitPath(dir.path(), id);
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*path, dir / (".driver-exit_" + id + ".json"));
  struct stat st {};
  ASSERT_EQ(::stat(path->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  AppSummary s = Summary(id, dir.path());
  EXPECT_EQ(s.status, AppStatus::kFailed);
  EXPECT_EQ(s.exit_code, 1);
  EXPECT_TRUE(s.exit_code_from_driver);
  EXPECT_EQ(s.event_log_exit_code, 0);
  EXPECT_EQ(s.status_reason, "driver exit code 1; the event log says succeeded (ExitCode 0)");
  Result<std::vector<AppSummary>> apps = ListApplications(dir.path());
  ASSERT_TRUE(apps.ok()) << apps.status();
  ASSERT_EQ(apps->size(), 1u);  // the sidecar is not an application
  EXPECT_EQ((*apps)[0].status, AppStatus::kFailed);
  EXPECT_EQ((*apps)[0].exit_code, 1);

  // A later try of the same id replaces the record.
  exit.exit_code = 0;
  ASSERT_TRUE(RecordDriverExit(dir.path(), exit).ok());
  s = Summary(id, dir.path());
  EXPECT_EQ(s.status, AppStatus::kSucceeded);
  EXPECT_EQ(s.status_reason, "");
  EXPECT_TRUE(s.exit_code_from_driver);
}

TEST(HistoryTest, DriverExitAgainstOtherLogStatuses) {
  AppSummary running;
  running.status = AppStatus::kRunning;
  running.status_reason = "no ApplicationEnd yet";
  DriverExit killed;
  killed.app_id = "a";
  killed.exit_code = 137;
  killed.signal = 9;
  ApplyDriverExit(killed, &running);
  EXPECT_EQ(running.status, AppStatus::kFailed);
  EXPECT_EQ(running.status_reason,
            "driver killed by signal 9 (exit code 137); the event log says running (no "
            "ApplicationEnd yet)");

  AppSummary caught;  // a job failed, the driver caught it and exited 0
  caught.status = AppStatus::kFailed;
  caught.status_reason = "1 job(s) failed; first: job 0: boom";
  DriverExit ok;
  ok.app_id = "a";
  ApplyDriverExit(ok, &caught);
  EXPECT_EQ(caught.status, AppStatus::kSucceeded);
  EXPECT_EQ(caught.status_reason,
            "driver exit code 0; the event log says failed (1 job(s) failed; first: job 0: boom)");

  AppSummary unreadable;
  unreadable.status = AppStatus::kUnreadable;
  unreadable.status_reason = "lz4";
  ApplyDriverExit(killed, &unreadable);
  EXPECT_EQ(unreadable.status, AppStatus::kUnreadable);
  EXPECT_EQ(unreadable.exit_code, 137);
}

TEST(HistoryTest, DriverExitRecordsAreCheckedOnTheWayIn) {
  testing::ScratchDir dir;
  Result<std::optional<DriverExit>> none = ReadDriverExit(dir.path(), "app-1");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  DriverExit bad;
  bad.app_id = "../x";
  EXPECT_THAT(RecordDriverExit(dir.path(), bad),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("'../x'")));
  testing::WriteText(dir / ".driver-exit_app-2.json", "{\"app_id\": \"app-2\"}");
  EXPECT_THAT(ReadDriverExit(dir.path(), "app-2"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("exit_code")));
  DriverExit round;
  round.app_id = "app-3";
  round.exit_code = 143;
  round.signal = 15;
  round.run_id = "manual__x";
  Result<DriverExit> back = DriverExit::FromJson(round.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->exit_code, 143);
  EXPECT_EQ(back->signal, 15);
  EXPECT_EQ(back->run_id, "manual__x");
}

std::string ZstdCompress(const std::string& text) {
  std::string out(ZSTD_compressBound(text.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 3);
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

TEST(HistoryTest, ZstdCopiesSummariseLikePlain) {
  testing::ScratchDir dir;
  // Single file.
  testing::WriteText(dir / "app-20261126100000-0000.zstd",
                     ZstdCompress(testing::ReadText(HistoryDir() + "/app-20261126100000-0000")));
  // Rolling dir with every part compressed.
  std::string src = HistoryDir() + "/eventlog_v2_app-20261126100200-0002";
  std::string dst = dir / "eventlog_v2_app-20261126100200-0002";
  fs::create_directories(dst);
  for (const auto& e : fs::directory_iterator(src)) {
    std::string name = e.path().filename().string();
    if (name.rfind("events_", 0) == 0) {
      testing::WriteText(dst + "/" + name + ".zstd", ZstdCompress(testing::ReadText(e.path())));
    } else {
      fs::copy_file(e.path(), dst + "/" + name);
    }
  }
  for (const char* id : {"app-20261126100000-0000", "app-20261126100200-0002"}) {
    SCOPED_TRACE(id);
    AppSummary plain = Summary(id);
    AppSummary z = Summary(id, dir.path());
    EXPECT_EQ(z.codec, EventLogCodec::kZstd);
    EXPECT_EQ(z.status, plain.status);
    EXPECT_EQ(z.status_reason, plain.status_reason);
    EXPECT_EQ(z.duration_ms, plain.duration_ms);
    EXPECT_EQ(z.jobs_succeeded, plain.jobs_succeeded);
    EXPECT_EQ(z.jobs_failed, plain.jobs_failed);
    EXPECT_EQ(z.tasks_succeeded, plain.tasks_succeeded);
    EXPECT_EQ(z.tasks_failed, plain.tasks_failed);
    EXPECT_EQ(z.input_bytes, plain.input_bytes);
    EXPECT_EQ(z.shuffle_read_bytes, plain.shuffle_read_bytes);
    EXPECT_EQ(z.shuffle_write_bytes, plain.shuffle_write_bytes);
  }
}

// event_log_fuzz, regressions/event_log/metrics-sum-overflow: task metrics were summed without a
// bound and wrapped to a negative byte count.
TEST(HistoryTest, MetricSumsSaturateInsteadOfOverflowing) {
  testing::ScratchDir dir;
  const std::string id = "app-20261126100000-0000";
  const std::string task = R"({"Event":"SparkListenerTaskEnd","Task Metrics":{"Input Metrics":)"
                           R"({"Bytes Read":9223372036854775807}}})"
                           "\n";
  testing::WriteText(dir / id, task + task +
                                   R"({"Event":"SparkListenerTaskEnd","Task Metrics":)"
                                   R"({"Input Metrics":{"Bytes Read":-5}}})"
                                   "\n");
  AppSummary s = Summary(id, dir.path());
  EXPECT_EQ(s.input_bytes, INT64_MAX);
  EXPECT_EQ(s.tasks_failed, 3);
}

// event_log_fuzz, regressions/event_log/float-timestamp: a timestamp such as 1e300 was cast to
// int64_t (undefined; INT64_MIN on x86). A number with no int64 value counts as absent.
TEST(HistoryTest, TimestampBeyondInt64IsAbsent) {
  testing::ScratchDir dir;
  const std::string id = "app-20261126100000-0000";
  testing::WriteText(
      dir / id, R"({"Event":"SparkListenerApplicationStart","App ID":"app-1","Timestamp":1e300})"
                "\n");
  EXPECT_EQ(Summary(id, dir.path()).start_ms, 0);
}

}  // namespace
}  // namespace sp::spark
