// The scheduler loop with a real store, real processes and the bash task type, with commit
// failures injected (FailingStore): a failed commit loses no task end and no run. Each test runs
// on SQLite (label unit) and on PostgreSQL (label postgres).
#include "scheduler/scheduler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "dag/ids.h"
#include "dag/template.h"
#include "executor/process.h"
#include "fakes/failing_store.h"
#include "store/open.h"
#include "store/pg_test_db.h"
#include "store/postgres/command_relay.h"

namespace sp::scheduler {
namespace {

namespace fs = std::filesystem;

using store::testing::StoreBackend;

class SchedulerTest : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '_');
    dir_ = fs::temp_directory_path() / ("spsched-" + std::to_string(::getpid()) + "-" + name);
    fs::remove_all(dir_);
    if (GetParam() == StoreBackend::kPostgres) {
      pg_ = std::make_unique<store::testing::PgTestDatabase>();
      store_ = pg_->url();
      ASSERT_FALSE(store_.empty());
    } else {
      store_ = (dir_ / "db.sqlite").string();
    }
    fs::create_directories(dir_ / "dags");
    std::ofstream(dir_ / "dags" / "chain.yaml")
        << "id: chain\ntasks:\n"
           "  - id: a\n    type: bash\n    command: echo '::sparkplane-output n=1'\n"
           "  - id: b\n    type: bash\n    depends_on: [a]\n    command: echo {{ tasks.a.outputs.n "
           "}}\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs one triggered run of `dag` (default `chain`) to its end with the given commit rule.
  store::DagRun RunChain(
      fakes::FailingStore::Rule rule, int* failures, const std::string& dag = "chain",
      fakes::FailingStore::Failure failure = fakes::FailingStore::Failure::kNothingCommitted) {
    auto inner = store::OpenStore(store_);
    EXPECT_TRUE(inner.ok()) << inner.status();
    fakes::FailingStore faulty(std::move(*inner), std::move(rule), failure);
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
    opts.before_effects = before_effects_;
    Scheduler sched(&services, registry.get(), opts);
    EXPECT_TRUE(sched.Start().ok());
    std::promise<store::DagRun> done;
    sched.SetRunFinishedObserver([&](const store::DagRun& r) { done.set_value(r); });
    sched.RunInBackground();
    Result<CommandResult> created = sched.Submit(TriggerRun{dag});
    EXPECT_TRUE(created.ok()) << created.status();
    std::future<store::DagRun> f = done.get_future();
    const bool ended = f.wait_for(std::chrono::seconds(30)) == std::future_status::ready;
    EXPECT_TRUE(ended) << "the run did not end in 30 s";
    store::DagRun run = ended ? f.get() : store::DagRun{};
    sched.Stop();
    sched.Join();
    *failures = faulty.failures();
    return run;
  }

  // A scheduler over the test's store and the dags folder, on this thread until
  // RunInBackground().
  // With `rule`, its store fails commits as a FailingStore does.
  struct Server {
    Server(const SchedulerTest& t, SchedulerOptions opts, fakes::FailingStore::Rule rule = nullptr,
           fakes::FailingStore::Failure failure = fakes::FailingStore::Failure::kNothingCommitted)
        : logger(t.clock_, LogLevel::kOff) {
      const fs::path& dir = t.dir_;
      const Clock& clock = t.clock_;
      auto opened = store::OpenStore(t.store_);
      EXPECT_TRUE(opened.ok()) << opened.status();
      db = std::move(*opened);
      if (rule) db = std::make_unique<fakes::FailingStore>(std::move(db), std::move(rule), failure);
      services.clock = &clock;
      services.logger = &logger;
      services.processes = &processes;
      services.store = db.get();
      services.config.data_dir = dir.string();
      registry = operators::BuildRegistry(&services);
      opts.dags_folder = (dir / "dags").string();
      sched = std::make_unique<Scheduler>(&services, registry.get(), opts);
    }
    ~Server() {
      sched->Stop();
      sched->Join();
      sched.reset();
    }
    std::unique_ptr<store::Store> db;
    executor::ProcessSupervisor processes;
    Logger logger;
    operators::Services services;
    std::unique_ptr<operators::TaskTypeRegistry> registry;
    std::unique_ptr<Scheduler> sched;
  };

  // Polls `pred` every 20 ms for up to 20 s.
  static bool WaitFor(const std::function<bool()>& pred) {
    for (int i = 0; i < 1000; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // Runs `fan` (WriteFanDag) so that leaf ends wait together: the commit of the first leaf's end
  // holds the loop for 2 s while the other leaves end. `inject`, if not OK, is what the first
  // commit of two or more ends returns (with `failure` saying whether it was made).
  store::DagRun RunFanWithWaitingEnds(Status inject, fakes::FailingStore::Failure failure,
                                      int* largest_group, int* failures);

  // The one `fan` run succeeded with every task: the root on try 1, the leaves on `leaf_try`.
  void ExpectFanSucceeded(int leaf_try) {
    auto db = store::OpenStore(store_);
    ASSERT_TRUE(db.ok()) << db.status();
    std::vector<store::DagRun> runs = (*db)->ListRuns({.dag_id = "fan"}).value();
    ASSERT_EQ(runs.size(), 1u);
    Result<std::vector<store::TaskInstance>> tis = (*db)->ListTaskInstances(runs[0].id);
    ASSERT_TRUE(tis.ok()) << tis.status();
    for (const store::TaskInstance& ti : *tis) {
      EXPECT_EQ(ti.state, store::TaskState::kSuccess) << ti.task_id;
      EXPECT_EQ(ti.try_number, ti.task_id == "root" ? 1 : leaf_try) << ti.task_id;
    }
  }

  void WriteDag(const std::string& name, const std::string& text) {
    fs::path tmp = dir_ / (name + ".tmp");
    std::ofstream(tmp) << text;
    fs::rename(tmp, dir_ / "dags" / (name + ".yaml"));
  }

  fs::path dir_;
  std::function<void()> before_effects_;  // RunChain's SchedulerOptions::before_effects
  std::unique_ptr<store::testing::PgTestDatabase> pg_;
  std::string store_;  // the store's location
  RealClock clock_;
};

INSTANTIATE_TEST_SUITE_P(Sqlite, SchedulerTest, ::testing::Values(StoreBackend::kSqlite));
INSTANTIATE_TEST_SUITE_P(Postgres, SchedulerTest, ::testing::Values(StoreBackend::kPostgres));

TEST_P(SchedulerTest, ChainRunsToSuccess) {
  int failures = 0;
  store::DagRun run = RunChain([](const store::Mutation&, int) { return OkStatus(); }, &failures);
  EXPECT_EQ(run.state, store::RunState::kSuccess);
}

// Several active schedulers (SchedulerOptions::partitions): a scheduler decides for the DAGs of
// its partitions only; a command for another's DAG is Unavailable (routed elsewhere); taking a
// partition up loads and runs its DAG's active run; giving it up forgets it again. SQLite here
// (the store is not fenced); tests/integration/postgres runs two servers for real.
TEST_P(SchedulerTest, APartitionedSchedulerActsOnItsPartitionsDagsAndTakesOthersUp) {
  if (GetParam() == StoreBackend::kPostgres) GTEST_SKIP() << "fencing needs the lease's rows";
  constexpr int kPartitions = 4;
  const int mine = dag::PartitionOf("chain", kPartitions);
  std::string other;
  for (int i = 0; other.empty(); ++i) {
    std::string id = "other" + std::to_string(i);
    if (dag::PartitionOf(id, kPartitions) != mine) other = id;
  }
  std::ofstream(dir_ / "dags" / (other + ".yaml"))
      << "id: " << other << "\ntasks:\n  - id: a\n    type: bash\n    command: 'true'\n";
  // A run of the other DAG, made by its scheduler, waits in the store.
  {
    auto db = store::OpenStore(store_);
    ASSERT_TRUE(db.ok()) << db.status();
    store::DagRun r;
    r.id = 100;
    r.dag_id = other;
    r.run_id = "manual__theirs";
    r.type = store::RunType::kManual;
    r.logical_date = clock_.Now();
    r.created_at = clock_.Now();
    r.state = store::RunState::kQueued;
    store::Mutation m;
    m.new_runs = {r};
    ASSERT_TRUE((*db)->Commit(m).ok());
  }
  SchedulerOptions opts;
  opts.partitions = kPartitions;
  Server server(*this, opts);
  Scheduler& sched = *server.sched;
  sched.SetPartitions({{mine, 1}});
  ASSERT_TRUE(sched.Start().ok());
  sched.RunInBackground();
  EXPECT_EQ(sched.PartitionElsewhere("chain"), 0);
  EXPECT_EQ(sched.PartitionElsewhere(other), dag::PartitionOf(other, kPartitions));
  EXPECT_TRUE(sched.Submit(TriggerRun{"chain"}).ok());
  Result<CommandResult> refused = sched.Submit(TriggerRun{other});
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status();
  auto state_of_theirs = [&] {
    Result<std::optional<store::DagRun>> r = server.db->GetRun(100);
    return r.ok() && *r ? (*r)->state : store::RunState::kFailed;
  };
  EXPECT_EQ(state_of_theirs(), store::RunState::kQueued);  // not this scheduler's

  std::promise<void> took;
  sched.ChangePartitions({{dag::PartitionOf(other, kPartitions), 1}}, {},
                         [&] { took.set_value(); });
  took.get_future().wait();
  EXPECT_TRUE(WaitFor([&] { return state_of_theirs() == store::RunState::kSuccess; }));
  EXPECT_TRUE(sched.Submit(TriggerRun{other}).ok());
  EXPECT_EQ(sched.Partitions().size(), 2u);

  std::promise<void> gave_up;
  sched.ChangePartitions({}, {dag::PartitionOf(other, kPartitions)}, [&] { gave_up.set_value(); });
  gave_up.get_future().wait();
  EXPECT_EQ(sched.Submit(TriggerRun{other}).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(sched.Partitions(), std::set<int>{mine});
}

// A task type that saves its handle later, from the test (as spark_submit does from its own
// thread): Start only hands its context over.
class LateHandleType : public operators::TaskType {
 public:
  explicit LateHandleType(std::promise<std::shared_ptr<operators::TaskContext>>* started)
      : started_(started) {}
  std::string Name() const override { return "late_handle"; }
  std::vector<std::string> FieldNames() const override { return {}; }
  void Validate(const dag::TaskSpec&, std::vector<dag::DagError>*) const override {}
  void Start(std::shared_ptr<operators::TaskContext> ctx) override { started_->set_value(ctx); }
  void Cancel(std::shared_ptr<operators::TaskContext>, const nlohmann::json&, Millis) override {}
  void Recover(std::shared_ptr<operators::TaskContext>, const nlohmann::json&) override {}

 private:
  std::promise<std::shared_ptr<operators::TaskContext>>* started_;
};

// A try of a partition given up before it saved its handle must not start here: its save is
// refused (the new holder launches it, since it never started), instead of being accepted as
// an empty commit and leaving the try running beside the new holder's launch.
TEST_P(SchedulerTest, ATryOfAPartitionGivenUpCannotSaveItsHandle) {
  if (GetParam() == StoreBackend::kPostgres) GTEST_SKIP() << "fencing needs the lease's rows";
  constexpr int kPartitions = 4;
  std::ofstream(dir_ / "dags" / "late.yaml")
      << "id: late\ntasks:\n  - id: a\n    type: late_handle\n";
  SchedulerOptions opts;
  opts.partitions = kPartitions;
  Server server(*this, opts);
  std::promise<std::shared_ptr<operators::TaskContext>> started;
  server.registry->Register(std::make_unique<LateHandleType>(&started));
  opts.dags_folder = (dir_ / "dags").string();
  Scheduler sched(&server.services, server.registry.get(), opts);
  const int partition = dag::PartitionOf("late", kPartitions);
  sched.SetPartitions({{partition, 1}});
  ASSERT_TRUE(sched.Start().ok());
  sched.RunInBackground();
  Result<CommandResult> created = sched.Submit(TriggerRun{"late"});
  ASSERT_TRUE(created.ok()) << created.status();
  std::shared_ptr<operators::TaskContext> ctx = started.get_future().get();
  std::promise<void> gave_up;
  sched.ChangePartitions({}, {partition}, [&] { gave_up.set_value(); });
  gave_up.get_future().wait();
  EXPECT_EQ(ctx->SaveHandle({{"pid", 1}}).code(), StatusCode::kFailedPrecondition);
  Result<std::optional<store::TaskInstance>> ti =
      server.db->GetTaskInstance(created->created_runs.at(0), "a");
  ASSERT_TRUE(ti.ok() && *ti) << ti.status();
  EXPECT_EQ((*ti)->state, store::TaskState::kQueued);
  EXPECT_TRUE((*ti)->handle.is_null());
  sched.Stop();
  sched.Join();
}

TEST_P(SchedulerTest, BusyDatabaseIsRetriedTransparently) {
  int failures = 0;
  store::DagRun run = RunChain(
      [](const store::Mutation&, int n) {
        return n % 2 == 0 ? AbortedError("injected: database is locked") : OkStatus();
      },
      &failures);
  EXPECT_GT(failures, 3);
  EXPECT_EQ(run.state, store::RunState::kSuccess);
}

TEST_P(SchedulerTest, ATaskEndWhoseCommitFailsIsRetriedNotLost) {
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

// A root and eight leaves (`retries` each); each leaf appends its id to `ran` (so a second
// execution shows).
void WriteFanDag(const fs::path& dags, const fs::path& ran, int retries = 0) {
  std::ofstream out(dags / "fan.yaml");
  out << "id: fan\ntasks:\n  - id: root\n    type: bash\n    command: \"true\"\n";
  for (int i = 1; i <= 8; ++i) {
    out << "  - id: l" << i << "\n    type: bash\n    depends_on: [root]\n    retries: " << retries
        << "\n    retry_delay: 0s\n    command: echo l" << i << " >> " << ran.string() << "\n";
  }
}

std::vector<std::string> SortedLines(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

int CountIn(const store::Mutation& m, store::TaskState state) {
  return static_cast<int>(std::count_if(
      m.task_instances.begin(), m.task_instances.end(),
      [&](const store::TaskInstance& ti) { return ti.task_id[0] == 'l' && ti.state == state; }));
}

// Issue 10, group commit: ends that wait together are committed in one transaction.
store::DagRun SchedulerTest::RunFanWithWaitingEnds(Status inject,
                                                   fakes::FailingStore::Failure failure,
                                                   int* largest_group, int* failures) {
  bool slept = false, injected = inject.ok();
  return RunChain(
      [&](const store::Mutation& m, int) {
        const int ended = CountIn(m, store::TaskState::kSuccess);
        if (ended >= 2 && !injected) {
          injected = true;
          return inject;
        }
        *largest_group = std::max(*largest_group, ended);
        if (ended >= 1 && !slept) {
          slept = true;
          std::this_thread::sleep_for(std::chrono::seconds(2));
        }
        return OkStatus();
      },
      failures, "fan", failure);
}

TEST_P(SchedulerTest, TriesThatEndTogetherAreCommittedTogether) {
  WriteFanDag(dir_ / "dags", dir_ / "ran");
  int largest = 0, failures = 0;
  store::DagRun run = RunFanWithWaitingEnds(
      OkStatus(), fakes::FailingStore::Failure::kNothingCommitted, &largest, &failures);
  EXPECT_EQ(run.state, store::RunState::kSuccess);
  EXPECT_GE(largest, 2)
      << "the leaves that ended while the loop was busy were committed one by one";
  EXPECT_EQ(failures, 0);
}

// The group's plans were folded into the snapshot before the commit: when it fails, the runs are
// read again from the store and the ends retried, so every leaf succeeds having run once.
TEST_P(SchedulerTest, AFailedGroupCommitIsRetriedNotLostNorRunTwice) {
  WriteFanDag(dir_ / "dags", dir_ / "ran");
  int largest = 0, failures = 0;
  store::DagRun run =
      RunFanWithWaitingEnds(InternalError("injected: disk I/O error"),
                            fakes::FailingStore::Failure::kNothingCommitted, &largest, &failures);
  EXPECT_EQ(run.state, store::RunState::kSuccess);
  EXPECT_EQ(failures, 1);
  EXPECT_THAT(SortedLines(dir_ / "ran"),
              ::testing::ElementsAre("l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8"));
  ExpectFanSucceeded(/*leaf_try=*/1);
}

// A rule that answers Unavailable to the first commit of task a's success.
fakes::FailingStore::Rule LoseTheAnswerToTheEndOfA() {
  return [lost = false](const store::Mutation& m, int) mutable {
    for (const auto& ti : m.task_instances) {
      if (ti.task_id == "a" && ti.state == store::TaskState::kSuccess && !lost) {
        lost = true;
        return UnavailableError("injected: server closed the connection unexpectedly");
      }
    }
    return OkStatus();
  };
}

// A commit that landed although its answer was lost (Unavailable) is found by reading it back:
// nothing is retried, so no transition is recorded twice, and its effects (the next launch, the
// run's end) are not dropped. Once for a single event's commit, once for a group's.
TEST_P(SchedulerTest, ACommitThatLandedWithoutAnAnswerIsNotRepeated) {
  using Failure = fakes::FailingStore::Failure;
  int failures = 0;
  store::DagRun run =
      RunChain(LoseTheAnswerToTheEndOfA(), &failures, "chain", Failure::kAnswerLost);
  EXPECT_EQ(failures, 1);
  EXPECT_EQ(run.state, store::RunState::kSuccess);

  WriteFanDag(dir_ / "dags", dir_ / "ran");
  int group_failures = 0, largest = 0;
  store::DagRun fan =
      RunFanWithWaitingEnds(UnavailableError("injected: server closed the connection unexpectedly"),
                            Failure::kAnswerLost, &largest, &group_failures);
  EXPECT_EQ(group_failures, 1);
  EXPECT_EQ(fan.state, store::RunState::kSuccess);

  auto db = store::OpenStore(store_);
  ASSERT_TRUE(db.ok()) << db.status();
  for (const store::DagRun& r : {run, fan}) {
    Result<std::vector<store::StateEvent>> events = (*db)->ListEvents(r.id);
    ASSERT_TRUE(events.ok()) << events.status();
    std::map<std::string, int> successes;
    for (const store::StateEvent& e : *events) {
      if (!e.task_id.empty() && e.to_state == "success") ++successes[e.task_id];
    }
    for (const auto& [task, n] : successes) EXPECT_EQ(n, 1) << r.dag_id << "." << task;
    EXPECT_EQ(successes.size(), r.dag_id == "fan" ? 9u : 2u);
  }
}

// The same lost answer followed by an outage longer than the first reads wait for (about 6 s):
// the loop waits until it can read whether the commit landed, so the task's end is still
// recorded once.
TEST_P(SchedulerTest, ALostAnswerIsResolvedEvenWhenTheStoreStaysUnreadable) {
  int failures = 0;
  store::DagRun run = RunChain(LoseTheAnswerToTheEndOfA(), &failures, "chain",
                               fakes::FailingStore::Failure::kAnswerLostThenUnreadable);
  EXPECT_EQ(failures, 1);
  EXPECT_EQ(run.state, store::RunState::kSuccess);
  auto db = store::OpenStore(store_);
  ASSERT_TRUE(db.ok()) << db.status();
  Result<std::vector<store::StateEvent>> events = (*db)->ListEvents(run.id);
  ASSERT_TRUE(events.ok()) << events.status();
  int a_ends = 0;
  for (const store::StateEvent& e : *events) a_ends += e.task_id == "a" && e.to_state == "success";
  EXPECT_EQ(a_ends, 1) << "task a's end was recorded twice";
}

// A relayed command whose commit lost its answer (the session died after COMMIT) and changed no
// task instance (a pause) is known to have landed by its answered command: the command succeeds,
// as it did, instead of failing while its sender is told it was applied.
TEST_P(SchedulerTest, ARelayedCommandWhoseCommitLostItsAnswerIsKnownToHaveLanded) {
  if (GetParam() != StoreBackend::kPostgres) GTEST_SKIP() << "commands are relayed on PostgreSQL";
  auto relay = store::postgres::CommandRelay::Open(store_);
  ASSERT_TRUE(relay.ok()) << relay.status();
  Result<int64_t> id = (*relay)->Send({{"op", "pause"}, {"dag_id", "chain"}}, "test",
                                      std::chrono::milliseconds(60000));
  ASSERT_TRUE(id.ok()) << id.status();
  Server server(
      *this, SchedulerOptions{},
      [](const store::Mutation& m, int) {
        return m.command_answer ? UnavailableError("injected: server closed the connection")
                                : OkStatus();
      },
      fakes::FailingStore::Failure::kAnswerLost);
  ASSERT_TRUE(server.sched->Start().ok());
  server.sched->RunInBackground();
  Result<CommandResult> paused = server.sched->SubmitRelayed(
      SetPaused{"chain", true}, *id, [](const CommandResult&) { return R"({"ok":true})"; });
  EXPECT_TRUE(paused.ok()) << paused.status();
  Result<std::optional<store::DagRecord>> dag = server.db->GetDag("chain");
  ASSERT_TRUE(dag.ok() && dag->has_value()) << dag.status();
  EXPECT_TRUE((*dag)->paused);
  Result<std::optional<nlohmann::json>> answer =
      (*relay)->AwaitAnswer(*id, std::chrono::milliseconds(0));
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_TRUE(answer->has_value());
}

// The tries one plan launches save their handles in one commit, and only then leave their gates.
TEST_P(SchedulerTest, TheTriesOnePlanLaunchesRecordTheirStartsInOneCommit) {
  WriteFanDag(dir_ / "dags", dir_ / "ran");
  int largest = 0, failures = 0;
  store::DagRun run = RunChain(
      [&](const store::Mutation& m, int) {
        largest = std::max(largest, CountIn(m, store::TaskState::kRunning));
        return OkStatus();
      },
      &failures, "fan");
  EXPECT_EQ(run.state, store::RunState::kSuccess);
  EXPECT_EQ(largest, 8) << "the root's end launches all eight leaves; their starts share a commit";
}

// The lease check (before_effects) runs again after the start commit, right before the gates
// open: that commit may have taken long enough for a takeover.
TEST_P(SchedulerTest, TheLeaseIsCheckedAfterTheStartCommitBeforeTheGatesOpen) {
  WriteFanDag(dir_ / "dags", dir_ / "ran");
  std::mutex mu;
  int commits = 0, start_commit = 0;
  std::vector<int> checks;  // the number of commits made when each check ran
  before_effects_ = [&] {
    std::lock_guard<std::mutex> lock(mu);
    checks.push_back(commits);
  };
  int failures = 0;
  store::DagRun run = RunChain(
      [&](const store::Mutation& m, int n) {
        std::lock_guard<std::mutex> lock(mu);
        commits = n;
        if (start_commit == 0 && CountIn(m, store::TaskState::kRunning) == 8) start_commit = n;
        return OkStatus();
      },
      &failures, "fan");
  EXPECT_EQ(run.state, store::RunState::kSuccess);
  ASSERT_GT(start_commit, 0);
  EXPECT_TRUE(std::any_of(checks.begin(), checks.end(), [&](int c) { return c >= start_commit; }))
      << "no lease check after the leaves' start commit";
}

// When that commit fails, no leaf's command runs in that try (each waits at its gate and is
// stopped there); the tries fail as a failed SaveHandle does and are retried.
TEST_P(SchedulerTest, AFailedStartCommitRunsNoCommandAndRetriesTheTries) {
  WriteFanDag(dir_ / "dags", dir_ / "ran", /*retries=*/1);
  bool failed = false;
  int failures = 0;
  store::DagRun run = RunChain(
      [&](const store::Mutation& m, int) {
        if (!failed && CountIn(m, store::TaskState::kRunning) >= 2) {
          failed = true;
          return InternalError("injected: disk I/O error");
        }
        return OkStatus();
      },
      &failures, "fan");
  EXPECT_EQ(failures, 1);
  EXPECT_EQ(run.state, store::RunState::kSuccess);
  EXPECT_THAT(SortedLines(dir_ / "ran"),
              ::testing::ElementsAre("l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8"));
  ExpectFanSucceeded(/*leaf_try=*/2);
}

}  // namespace
}  // namespace sp::scheduler

namespace sp::scheduler {
namespace {

TriggerRun Trigger(std::string dag, store::RunType type, std::string run_id,
                   nlohmann::json conf = nlohmann::json::object()) {
  TriggerRun t;
  t.dag_id = std::move(dag);
  t.type = type;
  t.run_id = std::move(run_id);
  t.conf = std::move(conf);
  return t;
}

constexpr char kDailyDag[] =
    "id: daily\nschedule: \"@daily\"\nstart_date: 2026-01-01\ntasks:\n"
    "  - id: t\n    type: bash\n    command: \"true\"\n";

// Issue 9.1: a DAG file saved half-written "removed" the DAG (its record deleted); fixing the
// file re-created the latest interval's run, the store refused it, and every later commit of
// the server failed until a restart.
TEST_P(SchedulerTest, ABrokenDagFileKeepsItsRecordAndWedgesNothing) {
  WriteDag("daily", kDailyDag);
  SchedulerOptions opts;
  opts.dag_rescan_interval = Millis(30);
  Server server(*this, opts);
  std::mutex mu;
  int rescans_with_errors = 0, rescans = 0;
  server.sched->SetDagsLoadedObserver([&](const std::vector<dag::LoadedFile>& files) {
    std::lock_guard<std::mutex> lock(mu);
    ++rescans;
    for (const auto& f : files) rescans_with_errors += f.errors.empty() ? 0 : 1;
  });
  ASSERT_TRUE(server.sched->Start().ok());
  server.sched->RunInBackground();
  auto daily_runs = [&] {
    store::RunFilter f;
    f.dag_id = "daily";
    return server.db->ListRuns(f).value();
  };
  ASSERT_TRUE(WaitFor([&] {
    auto runs = daily_runs();
    return runs.size() == 1 && store::IsTerminal(runs[0].state);
  }));
  std::optional<Time> last = server.db->GetDag("daily").value()->last_scheduled_logical_date;
  ASSERT_TRUE(last.has_value());

  for (int round = 0; round < 2; ++round) {
    int before = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      before = rescans_with_errors;
    }
    WriteDag("daily", "id: daily\ntasks: [\n");  // an editor's half-written save
    ASSERT_TRUE(WaitFor([&] {
      std::lock_guard<std::mutex> lock(mu);
      return rescans_with_errors > before;
    }));
    std::optional<store::DagRecord> kept = server.db->GetDag("daily").value();
    ASSERT_TRUE(kept.has_value()) << "the record of a broken DAG must be kept";
    EXPECT_EQ(kept->last_scheduled_logical_date, last);
    if (round == 1) {
      EXPECT_TRUE(kept->paused);
    }
    int seen = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      seen = rescans;
    }
    WriteDag("daily", std::string(kDailyDag) + "# fixed\n");
    ASSERT_TRUE(WaitFor([&] {
      std::lock_guard<std::mutex> lock(mu);
      return rescans > seen;
    }));
    // The server still commits: pausing (a write of the same DAG's record) works.
    Result<CommandResult> paused = server.sched->Submit(SetPaused{"daily", true});
    ASSERT_TRUE(paused.ok()) << paused.status();
    EXPECT_TRUE(server.db->GetDag("daily").value()->paused);
    EXPECT_EQ(daily_runs().size(), 1u) << "a fixed file must not re-run a finished interval";
  }
}

// Issue 9.3: `dags test` beside a server handed out the same run keys and replaced a run.
TEST_P(SchedulerTest, TwoSchedulersOnOneDatabaseNeverReplaceEachOthersRuns) {
  SchedulerOptions opts;
  opts.parallelism = 0;  // decide only: nothing is launched
  opts.create_scheduled_runs = false;
  Server server(*this, opts);
  Server test(*this, opts);
  ASSERT_TRUE(server.sched->Start().ok());
  ASSERT_TRUE(test.sched->Start().ok());
  Result<CommandResult> a =
      server.sched->Execute(Trigger("chain", store::RunType::kManual, "from-server"));
  ASSERT_TRUE(a.ok()) << a.status();
  Result<CommandResult> b =
      test.sched->Execute(Trigger("chain", store::RunType::kTest, "from-test"));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_NE(a->created_runs, b->created_runs);
  EXPECT_TRUE(server.db->FindRun("chain", "from-server").value().has_value());
  EXPECT_TRUE(server.db->FindRun("chain", "from-test").value().has_value());
  // A finished run's id is still taken: the clash is refused, not a failed commit.
  Result<CommandResult> again =
      test.sched->Execute(Trigger("chain", store::RunType::kManual, "from-server"));
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists) << again.status();
  // Path-unsafe run ids never reach the store or a log path.
  Result<CommandResult> escape =
      server.sched->Execute(Trigger("chain", store::RunType::kManual, "../../../../tmp/x"));
  EXPECT_EQ(escape.status().code(), StatusCode::kInvalidArgument) << escape.status();
}

// Issue 9.4: a conf value pasted into `bash -c` ran as a command.
TEST_P(SchedulerTest, TemplateValuesCannotInjectShellCommands) {
  WriteDag("hello",
           "id: hello\nparams:\n  name: world\ntasks:\n"
           "  - id: greet\n    type: bash\n"
           "    command: echo \"hello {{ params.name }}\" && echo {{ params.name }} > out.txt\n"
           "    cwd: " +
               dir_.string() + "\n");
  Server server(*this, {});
  std::promise<store::DagRun> done;
  server.sched->SetRunFinishedObserver([&](const store::DagRun& r) { done.set_value(r); });
  ASSERT_TRUE(server.sched->Start().ok());
  server.sched->RunInBackground();
  const std::string evil = "x\"; touch pwned; echo \"$(touch pwned2)`touch pwned3`";
  ASSERT_TRUE(
      server.sched->Submit(Trigger("hello", store::RunType::kManual, "", {{"name", evil}})).ok());
  std::future<store::DagRun> f = done.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_EQ(f.get().state, store::RunState::kSuccess);
  for (const char* file : {"pwned", "pwned2", "pwned3"})
    EXPECT_FALSE(fs::exists(dir_ / file)) << file;
  std::ifstream in(dir_ / "out.txt");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, evil);
}

// Issue 12: a manual trigger without a logical date gets Airflow 3's run id
// (manual__<isoformat time>_<8 random letters/digits>), and tasks see the run's values as Airflow
// renders them.
TEST_P(SchedulerTest, Issue12ManualRunIdAndTemplateValuesAsAirflow) {
  WriteDag("hello",
           "id: hello\ntasks:\n  - id: greet\n    type: bash\n"
           "    command: echo '{{ run_id }}|{{ ts }}|{{ logical_date }}|{{ ts_nodash_with_tz }}' > "
           "out.txt\n    cwd: " +
               dir_.string() + "\n");
  Server server(*this, {});
  std::promise<store::DagRun> done;
  server.sched->SetRunFinishedObserver([&](const store::DagRun& r) { done.set_value(r); });
  ASSERT_TRUE(server.sched->Start().ok());
  server.sched->RunInBackground();
  ASSERT_TRUE(server.sched->Submit(Trigger("hello", store::RunType::kManual, "")).ok());
  std::future<store::DagRun> f = done.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  store::DagRun run = f.get();
  EXPECT_EQ(run.state, store::RunState::kSuccess);
  const std::string iso = dag::FormatPythonIsoTime(run.logical_date);
  EXPECT_THAT(run.run_id, ::testing::MatchesRegex("manual__[0-9-]+T[0-9:]+(\\.[0-9]+)?\\+00:00_"
                                                  "[A-Za-z0-9]+"));
  EXPECT_EQ(run.run_id.substr(0, run.run_id.size() - 9), "manual__" + iso);
  EXPECT_EQ(run.run_id.size(), std::string("manual__").size() + iso.size() + 9);
  std::ifstream in(dir_ / "out.txt");
  std::string line;
  std::getline(in, line);
  std::string nodash_tz = iso;
  std::erase(nodash_tz, '-');
  std::erase(nodash_tz, ':');
  EXPECT_EQ(line, run.run_id + "|" + iso + "|" + dag::FormatPythonIsoTime(run.logical_date, ' ') +
                      "|" + nodash_tz);
}

// Issue 12: Airflow 3's prev_*_success values come from the store: the DAG's successful run with
// the latest logical date before the run's (a failed run, or one at a later date, does not count),
// "None" when there is none; in commands and in env.
TEST_P(SchedulerTest, Issue12PreviousSuccessValuesComeFromTheStore) {
  WriteDag("prev",
           "id: prev\nparams:\n  code: 0\ntasks:\n  - id: t\n    type: bash\n"
           "    env: {PREV_END: '{{ prev_end_date_success }}'}\n"
           "    command: echo '{{ prev_data_interval_start_success }}|{{ "
           "prev_data_interval_end_success }}|{{ prev_start_date_success }}|'\"$PREV_END\" > "
           "out_{{ ds }}.txt; exit {{ params.code }}\n"
           "    cwd: " +
               dir_.string() + "\n");
  Server server(*this, {});
  std::mutex mu;
  std::vector<store::DagRun> finished;
  server.sched->SetRunFinishedObserver([&](const store::DagRun& r) {
    std::lock_guard<std::mutex> lock(mu);
    finished.push_back(r);
  });
  ASSERT_TRUE(server.sched->Start().ok());
  server.sched->RunInBackground();
  const int64_t jan1 = 1767225600000, day = 86400000;
  auto run = [&](int64_t logical_ms, int code) {
    TriggerRun t = Trigger("prev", store::RunType::kManual, "", {{"code", code}});
    t.logical_date = FromUnixMillis(logical_ms);
    size_t before;
    {
      std::lock_guard<std::mutex> lock(mu);
      before = finished.size();
    }
    EXPECT_TRUE(server.sched->Submit(t).ok());
    EXPECT_TRUE(WaitFor([&] {
      std::lock_guard<std::mutex> lock(mu);
      return finished.size() > before;
    }));
    std::lock_guard<std::mutex> lock(mu);
    return finished.back();
  };
  auto out = [&](const std::string& ds) {
    std::ifstream in(dir_ / ("out_" + ds + ".txt"));
    std::string line;
    std::getline(in, line);
    return line;
  };
  store::DagRun first = run(jan1, 0);
  ASSERT_EQ(first.state, store::RunState::kSuccess);
  EXPECT_EQ(out("2026-01-01"), "None|None|None|None");
  ASSERT_TRUE(first.started_at && first.ended_at);
  const std::string first_values = dag::FormatPythonIsoTime(first.data_interval_start, ' ') + "|" +
                                   dag::FormatPythonIsoTime(first.data_interval_end, ' ') + "|" +
                                   dag::FormatPythonIsoTime(*first.started_at, ' ') + "|" +
                                   dag::FormatPythonIsoTime(*first.ended_at, ' ');

  EXPECT_EQ(run(jan1 + day, 1).state, store::RunState::kFailed);
  EXPECT_EQ(out("2026-01-02"), first_values);
  EXPECT_EQ(run(jan1 + 2 * day, 0).state, store::RunState::kSuccess);
  EXPECT_EQ(out("2026-01-03"), first_values);  // the failed 01-02 run does not count
  EXPECT_EQ(run(jan1 - day, 0).state, store::RunState::kSuccess);
  EXPECT_EQ(out("2025-12-31"), "None|None|None|None");  // later runs at later dates do not count
}

}  // namespace
}  // namespace sp::scheduler
