// The scheduler loop with a real store, real processes and the bash task type, with commit
// failures injected (FailingStore): a failed commit loses no task end and no run.
#include "scheduler/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>

#include "executor/process.h"
#include "fakes/failing_store.h"

namespace sp::scheduler {
namespace {

namespace fs = std::filesystem;

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("spsched-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "dags");
    std::ofstream(dir_ / "dags" / "chain.yaml")
        << "id: chain\ntasks:\n"
           "  - id: a\n    type: bash\n    command: echo '::sparkplane-output n=1'\n"
           "  - id: b\n    type: bash\n    depends_on: [a]\n    command: echo {{ tasks.a.outputs.n }}\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs one triggered run of `chain` to its end with the given commit rule.
  store::DagRun RunChain(fakes::FailingStore::Rule rule, int* failures) {
    auto inner = store::OpenSqliteStore((dir_ / "db.sqlite").string());
    EXPECT_TRUE(inner.ok()) << inner.status();
    fakes::FailingStore faulty(std::move(*inner), std::move(rule));
    executor::ProcessSupervisor processes;
    Logger logger(clock_, LogLevel::kOff);
    operators::Services services;
    services.clock = &clock_;
    services.logger = &logger;
    services.processes = &processes;
    services.store = &faulty;
    services.config.data_dir = dir_.string();
    auto registry = operators::BuildRegistry(&services);
    SchedulerOptions opts;
    opts.dags_folder = (dir_ / "dags").string();
    Scheduler sched(&services, registry.get(), opts);
    EXPECT_TRUE(sched.Start().ok());
    std::promise<store::DagRun> done;
    sched.SetRunFinishedObserver([&](const store::DagRun& r) { done.set_value(r); });
    sched.RunInBackground();
    Result<CommandResult> created = sched.Submit(TriggerRun{"chain"});
    EXPECT_TRUE(created.ok()) << created.status();
    std::future<store::DagRun> f = done.get_future();
    EXPECT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    store::DagRun run = f.get();
    sched.Stop();
    sched.Join();
    *failures = faulty.failures();
    return run;
  }

  fs::path dir_;
  RealClock clock_;
};

TEST_F(SchedulerTest, ChainRunsToSuccess) {
  int failures = 0;
  store::DagRun run = RunChain([](const store::Mutation&, int) { return OkStatus(); }, &failures);
  EXPECT_EQ(run.state, store::RunState::kSuccess);
}

TEST_F(SchedulerTest, BusyDatabaseIsRetriedTransparently) {
  int failures = 0;
  store::DagRun run = RunChain(
      [](const store::Mutation&, int n) {
        return n % 2 == 0 ? AbortedError("injected: database is locked") : OkStatus();
      },
      &failures);
  EXPECT_GT(failures, 3);
  EXPECT_EQ(run.state, store::RunState::kSuccess);
}

TEST_F(SchedulerTest, ATaskEndWhoseCommitFailsIsRetriedNotLost) {
  bool failed_once = false;
  int failures = 0;
  store::DagRun run = RunChain(
      [&](const store::Mutation& m, int) {
        for (const auto& ti : m.task_instances) {
          if (ti.task_id == "a" && ti.state == store::TaskState::kSuccess && !failed_once) {
            failed_once = true;
            return InternalError("injected: disk I/O error");
          }
        }
        return OkStatus();
      },
      &failures);
  EXPECT_EQ(failures, 1);
  EXPECT_EQ(run.state, store::RunState::kSuccess);
}

}  // namespace
}  // namespace sp::scheduler
