// Decide: snapshot + event -> Plan, with the plan folded back into the snapshot the way the
// scheduler does after a commit. No clock, no store, no processes.
#include "scheduler/decide.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <sstream>

namespace sp::scheduler {
namespace {

using store::RunState;
using store::TaskState;
using ::testing::HasSubstr;

Time At(const char* iso) {
  std::tm tm{};
  strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm);
  return FromUnixMillis(static_cast<int64_t>(timegm(&tm)) * 1000);
}

dag::TaskSpec Task(const std::string& id, std::vector<std::string> deps = {},
                   dag::TaskRole role = dag::TaskRole::kNormal) {
  dag::TaskSpec t;
  t.id = id;
  t.type = "bash";
  t.depends_on = std::move(deps);
  t.role = role;
  // As the loader does: a teardown's default rule.
  if (role == dag::TaskRole::kTeardown) t.trigger_rule = dag::TriggerRule::kAllDoneSetupSuccess;
  t.fields = {{"command", "true"}};
  return t;
}

std::shared_ptr<dag::Dag> Dag(const std::string& id, std::vector<dag::TaskSpec> tasks) {
  auto d = std::make_shared<dag::Dag>();
  d->id = id;
  d->tasks = std::move(tasks);
  return d;
}

class Harness {
 public:
  explicit Harness(Time now) : now(now) {}

  void AddDag(std::shared_ptr<dag::Dag> d, bool paused = false) {
    d->Link();
    DagEntry e;
    e.dag = d;
    e.record.dag_id = d->id;
    e.record.paused = paused;
    snap.dags[d->id] = e;
  }

  Plan Step(const Event& e) {
    Plan p = Decide(snap, e, now, keys);
    if (!p.refused.ok()) return p;
    for (const auto& r : p.runs) runs[r.id] = r;
    for (const auto& ti : p.task_instances) tis[{ti.run_id, ti.task_id}] = ti;
    FoldPlan(p, &snap);
    return p;
  }
  int64_t Trigger(const std::string& dag_id, nlohmann::json conf = nlohmann::json::object()) {
    Plan p = Step(TriggerRun{dag_id, conf});
    EXPECT_TRUE(p.refused.ok()) << p.refused;
    return p.created_runs.empty() ? 0 : p.created_runs[0];
  }
  void Finish(int64_t run, const std::string& task, bool ok, bool retryable = true) {
    operators::TaskResult r;
    r.success = ok;
    r.exit_code = ok ? 0 : 1;
    r.retryable = retryable;
    Step(TaskFinished{run, task, Ti(run, task).try_number, r});
  }
  // Starts every queued try (as the scheduler does when a handle is saved).
  void StartQueued() {
    std::vector<std::pair<int64_t, std::string>> q;
    for (auto& [k, v] : snap.runs)
      for (auto& [id, ti] : v.tis)
        if (ti.state == TaskState::kQueued) q.push_back({k, id});
    for (auto& [k, id] : q) Step(TaskStarted{k, id, Ti(k, id).try_number, {{"pid", 1}}});
  }
  const store::TaskInstance& Ti(int64_t run, const std::string& task) {
    return tis.at({run, task});
  }
  TaskState State(int64_t run, const std::string& task) { return Ti(run, task).state; }

  Snapshot snap;
  RunKeySource keys{0};
  Time now;
  std::map<int64_t, store::DagRun> runs;
  std::map<std::pair<int64_t, std::string>, store::TaskInstance> tis;
};

// Retention plans only what is finished and old: a candidate the snapshot holds (an active run,
// even if a stale read says it ended) and one that ended after the cutoff are kept.
TEST(DecideTest, PruneDeletesOnlyOldFinishedRunsTheSnapshotDoesNotHold) {
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Dag("d", {Task("a")}));
  int64_t active = h.Trigger("d");
  store::DagRun old_run;
  old_run.id = 100;
  old_run.dag_id = "d";
  old_run.run_id = "manual__old";
  old_run.state = RunState::kSuccess;
  old_run.ended_at = At("2026-10-01T00:00:00");
  store::DagRun recent = old_run;
  recent.id = 101;
  recent.run_id = "manual__recent";
  recent.ended_at = At("2026-11-25T00:00:00");
  store::DagRun stale = old_run;  // a read older than the trigger
  stale.id = active;
  h.snap.taken_run_ids.insert({"d", "manual__old"});
  h.snap.prune_candidates = {old_run, recent, stale};
  Plan p = h.Step(PruneRuns{At("2026-11-01T00:00:00")});
  ASSERT_TRUE(p.refused.ok()) << p.refused;
  ASSERT_EQ(p.deleted_runs.size(), 1u);
  EXPECT_EQ(p.deleted_runs[0].id, 100);
  EXPECT_FALSE(h.snap.taken_run_ids.count({"d", "manual__old"}));  // the id is free again
  EXPECT_TRUE(h.snap.runs.count(active));
}

// Restart fixes are decided like everything else: a task added to the DAG joins the run, and a
// try that never started is started again under the next try number, without spending a try.
TEST(DecideTest, RecoverAddsNewTasksAndRestartsTriesThatNeverStarted) {
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Dag("d", {Task("a"), Task("b")}));
  RunView view;
  view.dag = h.snap.dags["d"].dag;
  view.run.id = 7;
  view.run.dag_id = "d";
  view.run.run_id = "manual__x";
  view.run.state = RunState::kRunning;
  store::TaskInstance a;
  a.run_id = 7;
  a.task_id = "a";
  a.state = TaskState::kQueued;  // decided, but the server stopped before it started
  a.try_number = 1;
  a.max_tries = 1;
  view.tis["a"] = a;
  IndexRun(&view);
  h.snap.runs[7] = view;
  h.snap.active_tries = 1;
  Plan p = h.Step(RecoverRuns{});
  ASSERT_TRUE(p.refused.ok()) << p.refused;
  bool restarted = false;
  for (const store::StateEvent& e : p.events) {
    restarted |= e.task_id == "a" && e.reason == "server restarted before the try started";
  }
  EXPECT_TRUE(restarted);
  ASSERT_EQ(p.launches.size(), 2u);  // a again and the new b
  for (const LaunchTry& l : p.launches) EXPECT_EQ(l.try_number, l.task == "a" ? 2 : 1) << l.task;
  EXPECT_EQ(h.Ti(7, "a").max_tries, 2);
  EXPECT_EQ(h.State(7, "b"), TaskState::kQueued);
  EXPECT_EQ(h.snap.active_tries, 2);
}

operators::TaskResult NeverStarted() {
  operators::TaskResult r;
  r.never_started = true;
  r.message = "the try never started";
  return r;
}

// A try adopted after its server died between saving its handle and opening its gate never ran
// (TaskResult::never_started): it is launched again under the next try number with one more try
// allowed, so no retry is spent even when it had none left.
TEST(DecideTest, ATryThatNeverStartedIsLaunchedAgainWithoutSpendingATry) {
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Dag("d", {Task("a")}));
  int64_t run = h.Trigger("d");
  h.StartQueued();
  ASSERT_EQ(h.State(run, "a"), TaskState::kRunning);
  ASSERT_EQ(h.Ti(run, "a").try_number, 1);
  ASSERT_EQ(h.Ti(run, "a").max_tries, 1);
  Plan p = h.Step(TaskFinished{run, "a", 1, NeverStarted()});
  ASSERT_TRUE(p.refused.ok()) << p.refused;
  ASSERT_EQ(p.launches.size(), 1u);
  EXPECT_EQ(p.launches[0].try_number, 2);
  EXPECT_EQ(h.State(run, "a"), TaskState::kQueued);
  EXPECT_EQ(h.Ti(run, "a").max_tries, 2);
  EXPECT_TRUE(h.Ti(run, "a").handle.is_null());
  EXPECT_EQ(h.runs[run].state, RunState::kRunning);
}

// A stop asked for the try that never started (its timeout, counted from its launch, passed
// before a restarted server learned that it never started) does not hold for the new try: the
// new try's own timeout still stops it. (With the try number reused, the old stop's key made
// every later stop of the new try a no-op.)
TEST(DecideTest, AStopOfATryThatNeverStartedDoesNotHoldForItsRelaunch) {
  Harness h(At("2026-11-26T10:00:00"));
  auto t = Task("a");
  t.execution_timeout = Millis(5000);
  h.AddDag(Dag("d", {t}));
  int64_t run = h.Trigger("d");
  h.StartQueued();
  h.now += Millis(6000);
  Plan p = h.Step(Tick{});
  ASSERT_EQ(p.stops.size(), 1u);
  EXPECT_EQ(p.stops[0].try_number, 1);
  p = h.Step(TaskFinished{run, "a", 1, NeverStarted()});
  ASSERT_EQ(p.launches.size(), 1u);
  EXPECT_EQ(p.launches[0].try_number, 2);
  h.StartQueued();
  h.now += Millis(6000);
  p = h.Step(Tick{});
  ASSERT_EQ(p.stops.size(), 1u) << "the relaunched try's timeout stops it";
  EXPECT_EQ(p.stops[0].try_number, 2);
  EXPECT_THAT(p.stops[0].reason, HasSubstr("timed out after"));
}

TEST(DecideTest, TriggerCreatesRunAndLaunchesRoots) {
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Dag("d", {Task("a"), Task("b", {"a"})}));
  Plan p = h.Step(TriggerRun{"d"});
  ASSERT_TRUE(p.refused.ok());
  ASSERT_EQ(p.created_runs.size(), 1u);
  int64_t run = p.created_runs[0];
  EXPECT_EQ(h.runs[run].run_id, "manual__2026-11-26T10:00:00+00:00");
  EXPECT_EQ(h.runs[run].state, RunState::kRunning);
  ASSERT_EQ(p.launches.size(), 1u);
  EXPECT_EQ(p.launches[0].task, "a");
  EXPECT_EQ(p.launches[0].try_number, 1);
  EXPECT_EQ(h.State(run, "a"), TaskState::kQueued);
  EXPECT_EQ(h.Ti(run, "a").log_path, "logs/d/manual__2026-11-26T10:00:00+00:00/a/1.log");
  EXPECT_EQ(h.State(run, "b"), TaskState::kNone);
}

TEST(DecideTest, DownstreamLaunchesInTheSamePlanAsUpstreamEnd) {
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Dag("d", {Task("a"), Task("b", {"a"})}));
  int64_t run = h.Trigger("d");
  h.StartQueued();
  h.Finish(run, "a", true);
  EXPECT_EQ(h.State(run, "a"), TaskState::kSuccess);
  EXPECT_EQ(h.State(run, "b"), TaskState::kQueued);
  h.StartQueued();
  h.Finish(run, "b", true);
  EXPECT_EQ(h.runs[run].state, RunState::kSuccess);
  EXPECT_TRUE(h.snap.runs.empty());
  EXPECT_EQ(h.snap.active_tries, 0);
}

TEST(DecideTest, UnknownDagAndBadConfAreRefusedWithHints) {
  Harness h(At("2026-11-26T10:00:00"));
  auto d = Dag("spark_pipeline", {Task("a")});
  d->params["table"] = {nlohmann::json("events"), ""};
  d->params["date"] = {nlohmann::json(nullptr), ""};
  h.AddDag(d);
  Plan p = h.Step(TriggerRun{"spark_pipelin"});
  EXPECT_EQ(p.refused.code(), StatusCode::kNotFound);
  EXPECT_THAT(p.refused.message(), HasSubstr("did you mean 'spark_pipeline'"));
  p = h.Step(TriggerRun{"spark_pipeline", {{"tabel", "x"}, {"date", "d"}}});
  EXPECT_EQ(p.refused.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(p.refused.message(), HasSubstr("conf key 'tabel' is not a param"));
  EXPECT_THAT(p.refused.message(), HasSubstr("did you mean 'table'"));
  p = h.Step(TriggerRun{"spark_pipeline", {{"table", "x"}}});
  EXPECT_THAT(p.refused.message(), HasSubstr("param 'date'"));
  EXPECT_TRUE(h.snap.runs.empty());
}

TEST(DecideTest, RetryWaitsForDelayWithExponentialBackoff) {
  Harness h(At("2026-11-26T10:00:00"));
  auto t = Task("a");
  t.retry.retries = 2;
  t.retry.retry_delay = Millis(10000);
  t.retry.backoff_multiplier = 2;  // retry_exponential_backoff: true
  h.AddDag(Dag("d", {t}));
  int64_t run = h.Trigger("d");
  const std::string logical = FormatTime(h.runs[run].logical_date);
  h.StartQueued();
  h.Finish(run, "a", false);
  EXPECT_EQ(h.State(run, "a"), TaskState::kUpForRetry);
  // Airflow's backoff: [10 s, 20 s) after the first try, jittered per DAG/task/date/try.
  const Millis first = t.retry.DelayAfter(1, "d#a#" + logical + "#1");
  EXPECT_GE(first, Millis(10000));
  EXPECT_LT(first, Millis(20000));
  EXPECT_EQ(*h.Ti(run, "a").next_try_at, h.now + first);
  Plan p = h.Step(Tick{});
  EXPECT_TRUE(p.launches.empty());
  EXPECT_EQ(*p.next_wakeup, h.now + first);
  h.now += first;
  p = h.Step(Tick{});
  ASSERT_EQ(p.launches.size(), 1u);
  EXPECT_EQ(p.launches[0].try_number, 2);
  h.StartQueued();
  h.Finish(run, "a", false);
  const Millis second = t.retry.DelayAfter(2, "d#a#" + logical + "#2");
  EXPECT_GE(second, Millis(20000));  // doubled base
  EXPECT_LT(second, Millis(40000));
  EXPECT_EQ(*h.Ti(run, "a").next_try_at, h.now + second);
  h.now += second;
  h.Step(Tick{});
  h.StartQueued();
  h.Finish(run, "a", false);
  EXPECT_EQ(h.State(run, "a"), TaskState::kFailed);
  EXPECT_EQ(h.runs[run].state, RunState::kFailed);
  EXPECT_THAT(h.runs[run].note, HasSubstr("task 'a' failed"));
}

// Issue 12: a task that skips itself (bash exit 99) ends skipped without a retry, and the skip
// propagates as in Airflow: all_success downstream is skipped, none_failed_min_one_success runs
// when another upstream succeeded, and a skipped leaf does not fail the run.
TEST(DecideTest, Issue12SelfSkipPropagatesDownstream) {
  Harness h(At("2026-11-26T10:00:00"));
  auto check = Task("check");
  check.retry.retries = 3;
  auto join = Task("join", {"check", "other"});
  join.trigger_rule = dag::TriggerRule::kNoneFailedMinOneSuccess;
  h.AddDag(Dag("d", {check, Task("other"), Task("load", {"check"}), join}));
  int64_t run = h.Trigger("d");
  h.StartQueued();
  operators::TaskResult skipped;
  skipped.skipped = true;
  skipped.exit_code = 99;
  h.Step(TaskFinished{run, "check", 1, skipped});
  EXPECT_EQ(h.State(run, "check"), TaskState::kSkipped);
  EXPECT_EQ(h.Ti(run, "check").try_number, 1);  // not retried
  EXPECT_EQ(h.State(run, "load"), TaskState::kSkipped);
  EXPECT_EQ(h.State(run, "join"), TaskState::kNone);  // waits for `other`
  h.Finish(run, "other", true);
  EXPECT_EQ(h.State(run, "join"), TaskState::kQueued);
  h.StartQueued();
  h.Finish(run, "join", true);
  EXPECT_EQ(h.runs[run].state, RunState::kSuccess);
}

// Issue 12: `tasks mark ... --state skipped` skips the task and its all_success downstream.
TEST(DecideTest, Issue12MarkSkipped) {
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Dag("d", {Task("a"), Task("b", {"a"})}));
  int64_t run = h.Trigger("d");
  Plan p = h.Step(MarkTask{run, "a", TaskState::kRunning});
  EXPECT_THAT(p.refused.message(), HasSubstr("success, failed or skipped"));
  p = h.Step(MarkTask{run, "a", TaskState::kSkipped});
  ASSERT_TRUE(p.refused.ok()) << p.refused;
  ASSERT_EQ(p.stops.size(), 1u);  // queued: its try is stopped
  h.Finish(run, "a", false);      // the stopped try's end is stale
  EXPECT_EQ(h.State(run, "a"), TaskState::kSkipped);
  EXPECT_EQ(h.State(run, "b"), TaskState::kSkipped);
  EXPECT_EQ(h.runs[run].state, RunState::kSuccess);
}

TEST(DecideTest, NonRetryableFailureIsNotRetried) {
  Harness h(At("2026-11-26T10:00:00"));
  auto t = Task("a");
  t.retry.retries = 3;
  h.AddDag(Dag("d", {t}));
  int64_t run = h.Trigger("d");
  h.StartQueued();
  h.Finish(run, "a", false, /*retryable=*/false);
  EXPECT_EQ(h.State(run, "a"), TaskState::kFailed);
}

// The reference pipeline: create cluster (setup) -> submit -> delete cluster (teardown).
std::shared_ptr<dag::Dag> Pipeline() {
  return Dag("p", {Task("create", {}, dag::TaskRole::kSetup), Task("submit", {"create"}),
                   Task("report", {"submit"}),
                   Task("delete", {"create", "submit"}, dag::TaskRole::kTeardown)});
}

TEST(DecideTest, TeardownRunsAfterFailureAndRunFails) {
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Pipeline());
  int64_t run = h.Trigger("p");
  h.StartQueued();
  h.Finish(run, "create", true);
  h.StartQueued();
  h.Finish(run, "submit", false);
  EXPECT_EQ(h.State(run, "report"), TaskState::kUpstreamFailed);
  EXPECT_EQ(h.State(run, "delete"), TaskState::kQueued);
  h.StartQueued();
  h.Finish(run, "delete", true);
  EXPECT_EQ(h.runs[run].state, RunState::kFailed);
}

// Issue 12: Airflow's teardown rule (all_done_setup_success) does not run a teardown none of
// whose setups succeeded; it is upstream_failed, and the run fails.
TEST(DecideTest, Issue12TeardownIsUpstreamFailedWhenNoSetupSucceeded) {
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Pipeline());
  int64_t run = h.Trigger("p");
  h.StartQueued();
  h.Finish(run, "create", false);
  EXPECT_EQ(h.State(run, "submit"), TaskState::kUpstreamFailed);
  EXPECT_EQ(h.State(run, "report"), TaskState::kUpstreamFailed);
  EXPECT_EQ(h.State(run, "delete"), TaskState::kUpstreamFailed);
  EXPECT_EQ(h.runs[run].state, RunState::kFailed);
}

// Issue 12: on_failure_fail_dagrun makes a teardown's failure fail the run; unlike Airflow, the
// failure of the work upstream of it still counts too.
TEST(DecideTest, Issue12TeardownWithOnFailureFailDagrun) {
  for (bool work_ok : {true, false}) {
    SCOPED_TRACE(work_ok ? "work succeeds" : "work fails");
    auto d = Dag("p", {Task("create", {}, dag::TaskRole::kSetup), Task("submit", {"create"}),
                       Task("delete", {"create", "submit"}, dag::TaskRole::kTeardown)});
    d->tasks[2].on_failure_fail_dagrun = true;
    Harness h(At("2026-11-26T10:00:00"));
    h.AddDag(d);
    int64_t run = h.Trigger("p");
    h.StartQueued();
    h.Finish(run, "create", true);
    h.StartQueued();
    h.Finish(run, "submit", work_ok);
    h.StartQueued();
    h.Finish(run, "delete", work_ok ? false : true);
    EXPECT_EQ(h.runs[run].state, RunState::kFailed);
    EXPECT_THAT(h.runs[run].note, HasSubstr(work_ok ? "task 'delete' failed" : "task 'submit'"));
  }
}

// Issue 12: Airflow's setup scope reaches past the setup's direct downstream. A task in it
// whose own rule would run it anyway (all_done after a failure) is upstream_failed when the
// setup failed, so nothing runs against a cluster that was never made.
TEST(DecideTest, Issue12FailedSetupFailsTasksInItsScopeWhateverTheirRule) {
  auto report = Task("report", {"submit"});
  report.trigger_rule = dag::TriggerRule::kAllDone;
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Dag("p", {Task("create", {}, dag::TaskRole::kSetup), Task("submit", {"create"}), report,
                     Task("delete", {"create", "report"}, dag::TaskRole::kTeardown),
                     Task("notify", {"delete"})}));
  int64_t run = h.Trigger("p");
  h.StartQueued();
  h.Finish(run, "create", false);
  EXPECT_EQ(h.State(run, "submit"), TaskState::kUpstreamFailed);
  EXPECT_EQ(h.State(run, "report"), TaskState::kUpstreamFailed);
  EXPECT_EQ(h.Ti(run, "report").reason, "setup task 'create' failed");
  EXPECT_EQ(h.State(run, "delete"), TaskState::kUpstreamFailed);
  // Past the teardown the scope ends: notify's own rule (all_success) decides.
  EXPECT_EQ(h.State(run, "notify"), TaskState::kUpstreamFailed);
  EXPECT_EQ(h.runs[run].state, RunState::kFailed);
}

// Issue 12: a task in a setup's scope whose own rule is met early (one_success on another
// upstream) waits for the setup, and the setup's success starts it although neither the setup
// nor the task the setup's success moves is its upstream (the incremental pass visits the
// setup's scope).
TEST(DecideTest, Issue12TaskInASetupsScopeWaitsForTheSetup) {
  auto report = Task("report", {"check", "other"});
  report.trigger_rule = dag::TriggerRule::kOneSuccess;
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Dag("p", {Task("create", {}, dag::TaskRole::kSetup), Task("other"),
                     Task("submit", {"create"}), Task("check", {"submit"}), report,
                     Task("delete", {"create", "report"}, dag::TaskRole::kTeardown)}));
  int64_t run = h.Trigger("p");
  h.StartQueued();
  h.Finish(run, "other", true);
  EXPECT_EQ(h.State(run, "report"), TaskState::kNone);
  std::vector<DepStatus> why = ExplainTask(h.snap, run, "report", h.now);
  ASSERT_FALSE(why.empty());
  EXPECT_EQ(why[0].reason, "waiting for 1 setup task(s) to succeed (create)");
  h.Finish(run, "create", true);
  EXPECT_EQ(h.State(run, "report"), TaskState::kQueued);
  EXPECT_EQ(h.State(run, "submit"), TaskState::kQueued);
}

TEST(DecideTest, FailedTeardownDoesNotFailTheRun) {
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Pipeline());
  int64_t run = h.Trigger("p");
  for (const char* t : {"create", "submit", "report"}) {
    h.StartQueued();
    h.Finish(run, t, true);
  }
  h.StartQueued();
  h.Finish(run, "delete", false);
  EXPECT_EQ(h.runs[run].state, RunState::kSuccess);
}

TEST(DecideTest, CancelStopsRunningTriesSkipsPendingAndStillTearsDown) {
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Pipeline());
  int64_t run = h.Trigger("p");
  h.StartQueued();
  h.Finish(run, "create", true);
  h.StartQueued();  // submit running
  Plan p = h.Step(CancelRun{run});
  ASSERT_EQ(p.stops.size(), 1u);
  EXPECT_EQ(p.stops[0].task, "submit");
  EXPECT_EQ(h.State(run, "report"), TaskState::kSkipped);
  EXPECT_EQ(h.State(run, "delete"), TaskState::kNone);  // waits for submit to really stop
  h.Finish(run, "submit", false);                       // killed: no retry when cancelled
  EXPECT_EQ(h.State(run, "submit"), TaskState::kFailed);
  EXPECT_EQ(h.State(run, "delete"), TaskState::kQueued);
  h.StartQueued();
  h.Finish(run, "delete", true);
  EXPECT_EQ(h.runs[run].state, RunState::kCancelled);
}

TEST(DecideTest, CancelBeforeSetupRanSkipsTeardown) {
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Dag("d", {Task("gate"), Task("create", {"gate"}, dag::TaskRole::kSetup),
                     Task("delete", {"create"}, dag::TaskRole::kTeardown)}));
  int64_t run = h.Trigger("d");
  h.StartQueued();
  h.Step(CancelRun{run});
  h.Finish(run, "gate", false);
  EXPECT_EQ(h.State(run, "create"), TaskState::kSkipped);
  EXPECT_EQ(h.State(run, "delete"), TaskState::kSkipped);
  EXPECT_EQ(h.runs[run].state, RunState::kCancelled);
}

TEST(DecideTest, ExecutionTimeoutStopsTheTryOnce) {
  Harness h(At("2026-11-26T10:00:00"));
  auto t = Task("a");
  t.execution_timeout = Millis(5000);
  h.AddDag(Dag("d", {t}));
  h.Trigger("d");
  h.StartQueued();
  Plan p = h.Step(Tick{});
  EXPECT_EQ(*p.next_wakeup, h.now + Millis(5000));
  h.now += Millis(5000);
  p = h.Step(Tick{});
  ASSERT_EQ(p.stops.size(), 1u);
  EXPECT_THAT(p.stops[0].reason, HasSubstr("timed out after"));
  p = h.Step(Tick{});
  EXPECT_TRUE(p.stops.empty());  // asked once
}

TEST(DecideTest, ParallelismLimitsTriesAcrossRuns) {
  Harness h(At("2026-11-26T10:00:00"));
  h.snap.parallelism = 3;
  std::vector<dag::TaskSpec> tasks;
  for (int i = 0; i < 5; ++i) tasks.push_back(Task("t" + std::to_string(i)));
  h.AddDag(Dag("d", tasks));
  int64_t run = h.Trigger("d");
  EXPECT_EQ(h.snap.active_tries, 3);
  h.StartQueued();
  h.Finish(run, "t0", true);
  EXPECT_EQ(h.snap.active_tries, 3);
  EXPECT_EQ(h.State(run, "t3"), TaskState::kQueued);
  EXPECT_EQ(h.State(run, "t4"), TaskState::kScheduled);
}

TEST(DecideTest, MaxActiveRunsQueuesRunsInLogicalDateOrder) {
  Harness h(At("2026-11-26T10:00:00"));
  auto d = Dag("d", {Task("a")});
  d->max_active_runs = 1;
  h.AddDag(d);
  Plan p1 = h.Step(TriggerRun{"d", {}, At("2026-11-20T00:00:00")});
  Plan p2 = h.Step(TriggerRun{"d", {}, At("2026-11-10T00:00:00")});
  int64_t r1 = p1.created_runs[0], r2 = p2.created_runs[0];
  EXPECT_EQ(h.runs[r1].state, RunState::kRunning);
  EXPECT_EQ(h.runs[r2].state, RunState::kQueued);
  h.StartQueued();
  h.Finish(r1, "a", true);
  EXPECT_EQ(h.runs[r2].state, RunState::kRunning);
}

TEST(DecideTest, ScheduleWithCatchupCreatesEveryMissedInterval) {
  Harness h(At("2026-11-26T10:30:00"));
  auto d = Dag("d", {Task("a")});
  d->schedule = *dag::Schedule::Parse("0 * * * *");
  d->start_date = At("2026-11-26T07:00:00");
  d->catchup = true;
  d->max_active_runs = 16;
  h.AddDag(d);
  Plan p = h.Step(Tick{});
  ASSERT_EQ(p.created_runs.size(), 3u);  // 07-08, 08-09, 09-10
  EXPECT_EQ(h.runs[p.created_runs[0]].run_id, "scheduled__2026-11-26T07:00:00+00:00");
  EXPECT_EQ(h.runs[p.created_runs[2]].data_interval_end, At("2026-11-26T10:00:00"));
  EXPECT_EQ(*p.next_wakeup, At("2026-11-26T11:00:00"));
  EXPECT_TRUE(h.Step(Tick{}).created_runs.empty());  // nothing twice
}

// A try's end does not walk every DAG's schedule (the incremental pass), so a run that ends
// and frees its DAG's max_active_runs slot asks for a tick at once, and that tick creates the
// next missed interval's run.
TEST(DecideTest, ARunThatEndsAsksForATickThatCreatesTheNextScheduledRun) {
  Harness h(At("2026-11-26T10:30:00"));
  auto d = Dag("d", {Task("a")});
  d->schedule = *dag::Schedule::Parse("0 * * * *");
  d->start_date = At("2026-11-26T08:00:00");
  d->catchup = true;
  d->max_active_runs = 1;
  h.AddDag(d);
  Plan p = h.Step(Tick{});
  ASSERT_EQ(p.created_runs.size(), 1u);  // 08-09; 09-10 waits for the slot
  int64_t first = p.created_runs[0];
  h.StartQueued();
  operators::TaskResult ok;
  ok.success = true;
  ok.exit_code = 0;
  Plan end = h.Step(TaskFinished{first, "a", h.Ti(first, "a").try_number, ok});
  ASSERT_EQ(h.runs[first].state, RunState::kSuccess);
  EXPECT_TRUE(end.created_runs.empty());
  ASSERT_TRUE(end.next_wakeup.has_value());
  EXPECT_EQ(*end.next_wakeup, h.now);
  Plan tick = h.Step(Tick{});
  ASSERT_EQ(tick.created_runs.size(), 1u);
  EXPECT_EQ(h.runs[tick.created_runs[0]].run_id, "scheduled__2026-11-26T09:00:00+00:00");
}

TEST(DecideTest, ScheduleWithoutCatchupRunsOnlyTheLatestInterval) {
  Harness h(At("2026-11-26T10:30:00"));
  auto d = Dag("d", {Task("a")});
  d->schedule = *dag::Schedule::Parse("0 * * * *");
  d->start_date = At("2026-11-01T00:00:00");
  h.AddDag(d);
  Plan p = h.Step(Tick{});
  ASSERT_EQ(p.created_runs.size(), 1u);
  EXPECT_EQ(h.runs[p.created_runs[0]].run_id, "scheduled__2026-11-26T09:00:00+00:00");
}

TEST(DecideTest, PausedDagCreatesNoRuns) {
  Harness h(At("2026-11-26T10:30:00"));
  auto d = Dag("d", {Task("a")});
  d->schedule = *dag::Schedule::Parse("@hourly");
  d->start_date = At("2026-11-26T00:00:00");
  h.AddDag(d, /*paused=*/true);
  EXPECT_TRUE(h.Step(Tick{}).created_runs.empty());
  Plan p = h.Step(SetPaused{"d", false});
  EXPECT_EQ(p.created_runs.size(), 1u);
}

TEST(DecideTest, BackfillCreatesOneRunPerInterval) {
  Harness h(At("2026-11-26T10:30:00"));
  auto d = Dag("d", {Task("a")});
  d->schedule = *dag::Schedule::Parse("@daily");
  d->start_date = At("2026-01-01T00:00:00");
  d->max_active_runs = 2;
  h.AddDag(d, /*paused=*/true);
  Plan p = h.Step(Backfill{"d", At("2026-11-01T00:00:00"), At("2026-11-05T00:00:00")});
  ASSERT_EQ(p.created_runs.size(), 5u);
  EXPECT_EQ(h.runs[p.created_runs[0]].run_id, "backfill__2026-11-01T00:00:00+00:00");
  int running = 0;
  for (int64_t k : p.created_runs) running += h.runs[k].state == RunState::kRunning;
  EXPECT_EQ(running, 2);
}

// A cron_trigger DAG's backfill makes its runs as its timetable does: one per fire, the logical
// date the fire less the interval, the data interval up to the fire.
TEST(DecideTest, BackfillOfATriggerTimetableRunsAtEachFire) {
  Harness h(At("2026-11-26T10:30:00"));
  auto d = Dag("d", {Task("a")});
  d->schedule = *dag::Schedule::Parse("0 6 * * *");
  d->timetable = dag::TimetableKind::kCronTrigger;
  d->start_date = At("2026-01-01T00:00:00");
  h.AddDag(d, /*paused=*/true);
  Plan p = h.Step(Backfill{"d", At("2026-11-01T00:00:00"), At("2026-11-03T23:00:00")});
  ASSERT_EQ(p.created_runs.size(), 3u);
  const store::DagRun& first = h.runs[p.created_runs[0]];
  EXPECT_EQ(first.run_id, "backfill__2026-11-01T06:00:00+00:00");
  EXPECT_EQ(first.logical_date, At("2026-11-01T06:00:00"));
  EXPECT_EQ(first.data_interval_start, At("2026-11-01T06:00:00"));
  EXPECT_EQ(first.data_interval_end, At("2026-11-01T06:00:00"));

  d->trigger_interval = Millis(3600 * 1000);  // interval: 1h
  Harness h2(At("2026-11-26T10:30:00"));
  h2.AddDag(d, /*paused=*/true);
  Plan p2 = h2.Step(Backfill{"d", At("2026-11-01T05:00:00"), At("2026-11-01T05:00:00")});
  ASSERT_EQ(p2.created_runs.size(), 1u);
  const store::DagRun& one = h2.runs[p2.created_runs[0]];
  EXPECT_EQ(one.logical_date, At("2026-11-01T05:00:00"));
  EXPECT_EQ(one.data_interval_start, At("2026-11-01T05:00:00"));
  EXPECT_EQ(one.data_interval_end, At("2026-11-01T06:00:00"));
}

// Issue 12: scheduled and backfill runs are named as Airflow 3 names them (the logical date in
// Python's isoformat), and a run named the older way ('Z') for the same logical date still counts
// as that date's run: a backfill or trigger over it creates nothing twice.
TEST(DecideTest, Issue12RunIdsFollowAirflow3AndOlderIdsStillCount) {
  Harness h(At("2026-11-26T10:30:00"));
  auto d = Dag("d", {Task("a")});
  d->schedule = *dag::Schedule::Parse("@daily");
  d->start_date = At("2026-11-25T00:00:00");
  d->max_active_runs = 8;
  h.AddDag(d);
  Plan tick = h.Step(Tick{});
  ASSERT_EQ(tick.created_runs.size(), 1u);
  EXPECT_EQ(h.runs[tick.created_runs[0]].run_id, "scheduled__2026-11-25T00:00:00+00:00");
  EXPECT_EQ(MakeRunId(store::RunType::kBackfill, At("2026-11-01T00:00:00") + Millis(7)),
            "backfill__2026-11-01T00:00:00.007000+00:00");

  // 11-01 was backfilled (and has finished) under the old id; 11-02 runs under the old id.
  h.snap.taken_run_ids.insert({"d", "backfill__2026-11-01T00:00:00Z"});
  h.snap.taken_run_ids.insert({"d", "manual__2026-11-05T00:00:00Z"});
  const std::string old_id = LegacyRunId(store::RunType::kBackfill, At("2026-11-02T00:00:00"));
  EXPECT_EQ(old_id, "backfill__2026-11-02T00:00:00Z");
  Plan old_run =
      h.Step(TriggerRun{"d", {}, At("2026-11-02T00:00:00"), store::RunType::kBackfill, old_id});
  ASSERT_EQ(old_run.created_runs.size(), 1u) << old_run.refused;
  Plan p = h.Step(Backfill{"d", At("2026-11-01T00:00:00"), At("2026-11-03T00:00:00")});
  ASSERT_TRUE(p.refused.ok()) << p.refused;
  ASSERT_EQ(p.created_runs.size(), 1u);
  EXPECT_EQ(h.runs[p.created_runs[0]].run_id, "backfill__2026-11-03T00:00:00+00:00");

  Plan refused = h.Step(TriggerRun{"d", {}, At("2026-11-05T00:00:00")});
  EXPECT_EQ(refused.refused.code(), StatusCode::kAlreadyExists) << refused.refused;
  EXPECT_THAT(refused.refused.message(), HasSubstr("'manual__2026-11-05T00:00:00Z'"));
  Plan made = h.Step(TriggerRun{"d", {}, At("2026-11-06T00:00:00")});
  ASSERT_EQ(made.created_runs.size(), 1u);
  EXPECT_EQ(h.runs[made.created_runs[0]].run_id, "manual__2026-11-06T00:00:00+00:00");
}

TEST(DecideTest, ClearReRunsTaskWithItsSetupAndTeardown) {
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Pipeline());
  int64_t run = h.Trigger("p");
  for (const char* t : {"create", "submit", "report", "delete"}) {
    h.StartQueued();
    h.Finish(run, t, true);
  }
  ASSERT_EQ(h.runs[run].state, RunState::kSuccess);
  h.snap.runs[run] = RunView{h.runs[run], h.snap.dags["p"].dag, {}};  // as the scheduler reloads it
  for (const char* t : {"create", "submit", "report", "delete"})
    h.snap.runs[run].tis[t] = h.Ti(run, t);
  IndexRun(&h.snap.runs[run]);
  Plan p = h.Step(ClearTasks{run, {"submit"}, false});
  ASSERT_TRUE(p.refused.ok()) << p.refused;
  EXPECT_EQ(h.runs[run].state, RunState::kRunning);
  EXPECT_EQ(h.State(run, "create"), TaskState::kQueued);
  EXPECT_EQ(h.Ti(run, "create").try_number, 2);
  EXPECT_EQ(h.State(run, "report"), TaskState::kSuccess);  // not downstream-cleared
  EXPECT_EQ(h.State(run, "delete"), TaskState::kNone);
}

TEST(DecideTest, StaleFinishIsIgnored) {
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Dag("d", {Task("a")}));
  int64_t run = h.Trigger("d");
  h.StartQueued();
  operators::TaskResult r;
  r.success = true;
  Plan p = h.Step(TaskFinished{run, "a", 7, r});
  EXPECT_TRUE(p.task_instances.empty());
  EXPECT_EQ(h.State(run, "a"), TaskState::kRunning);
}

TEST(DecideTest, OnlyTasksRunWithoutTheirUpstreams) {
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Pipeline());
  TriggerRun t{"p"};
  t.type = store::RunType::kTest;
  t.only_tasks = {"submit"};
  Plan p = h.Step(t);
  ASSERT_TRUE(p.refused.ok()) << p.refused;
  int64_t run = p.created_runs[0];
  ASSERT_EQ(p.launches.size(), 1u);
  EXPECT_EQ(p.launches[0].task, "submit");
  EXPECT_EQ(h.snap.runs[run].tis.size(), 1u);
  h.StartQueued();
  h.Finish(run, "submit", true);
  EXPECT_EQ(h.runs[run].state, RunState::kSuccess);
  t.only_tasks = {"sbumit"};
  EXPECT_THAT(h.Step(t).refused.message(), HasSubstr("did you mean 'submit'"));
}

TEST(DecideTest, DecideIsDeterministic) {
  Harness h(At("2026-11-26T10:00:00"));
  h.AddDag(Pipeline());
  h.Trigger("p");
  RunKeySource k1(100), k2(100);
  Plan a = Decide(h.snap, Tick{}, h.now, k1);
  Plan b = Decide(h.snap, Tick{}, h.now, k2);
  EXPECT_EQ(a.launches.size(), b.launches.size());
  EXPECT_EQ(a.events.size(), b.events.size());
  EXPECT_EQ(a.next_wakeup, b.next_wakeup);
}

// What a plan changes, as text, to compare two plans (the next wakeup aside: the incremental
// pass only reports the timers it looked at; the scheduler keeps the earliest).
std::string Describe(const Plan& p) {
  std::ostringstream out;
  for (const auto& e : p.events) {
    out << "event " << e.run_id << "/" << e.task_id << "#" << e.try_number << " " << e.from_state
        << "->" << e.to_state << " (" << e.reason << ")\n";
  }
  for (const auto& ti : p.task_instances) {
    out << "ti " << ti.run_id << "/" << ti.task_id << "#" << ti.try_number << " "
        << store::TaskStateName(ti.state) << "\n";
  }
  for (const auto& r : p.runs) out << "run " << r.id << " " << store::RunStateName(r.state) << "\n";
  for (const auto& l : p.launches) out << "launch " << l.run << "/" << l.task << "\n";
  for (const auto& st : p.stops)
    out << "stop " << st.run << "/" << st.task << " " << st.reason << "\n";
  return out.str();
}

// The incremental pass (ticks and tries' starts and ends visit only what they can change) must
// decide exactly what evaluating every task instance decides: random DAGs (trigger rules,
// retries with delays, timeouts, two runs, few slots) driven in lockstep through both.
TEST(DecideTest, IncrementalPassDecidesWhatAFullPassDecides) {
  const dag::TriggerRule kRules[] = {dag::TriggerRule::kAllSuccess, dag::TriggerRule::kAllFailed,
                                     dag::TriggerRule::kAllDone,    dag::TriggerRule::kOneSuccess,
                                     dag::TriggerRule::kOneFailed,  dag::TriggerRule::kNoneFailed,
                                     dag::TriggerRule::kNoneSkipped};
  int compared = 0;
  for (unsigned seed = 1; seed <= 40; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&rng](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    std::vector<dag::TaskSpec> tasks;
    const int n = 5 + pick(36);
    for (int i = 0; i < n; ++i) {
      std::vector<std::string> deps;
      for (int j = 0; j < i; ++j) {
        if (pick(std::max(2, i / 2)) == 0 && deps.size() < 3)
          deps.push_back("t" + std::to_string(j));
      }
      // Setups and teardowns (issue 12): a setup's end also moves the tasks in its scope.
      dag::TaskRole role = dag::TaskRole::kNormal;
      if (pick(5) == 0) {
        role = dag::TaskRole::kSetup;
      } else if (!deps.empty() && pick(5) == 0) {
        role = dag::TaskRole::kTeardown;
      }
      dag::TaskSpec t = Task("t" + std::to_string(i), deps, role);
      if (role != dag::TaskRole::kTeardown) {
        t.trigger_rule = pick(3) == 0 ? kRules[pick(7)] : dag::TriggerRule::kAllSuccess;
      }
      t.retry.retries = pick(3);
      t.retry.retry_delay = Millis(pick(2) * 30000);
      if (pick(5) == 0) t.execution_timeout = Millis(45000);
      tasks.push_back(t);
    }
    Harness inc(At("2026-11-26T10:00:00")), full(At("2026-11-26T10:00:00"));
    full.snap.incremental = false;
    for (Harness* h : {&inc, &full}) {
      h->AddDag(Dag("r", tasks));
      h->snap.parallelism = 1 + static_cast<int>(seed % 4);
    }
    std::vector<int64_t> runs;
    for (int r = 0; r < 2; ++r) {
      runs.push_back(inc.Trigger("r"));
      ASSERT_EQ(full.Trigger("r"), runs.back());
      inc.now += Millis(1000);  // the next run's id (from its logical date) differs
      full.now = inc.now;
    }
    for (int step = 0; step < 600; ++step) {
      std::vector<std::pair<int64_t, std::string>> queued, running;
      for (const auto& [k, v] : inc.snap.runs) {
        for (const auto& [id, ti] : v.tis) {
          if (ti.state == TaskState::kQueued) queued.push_back({k, id});
          if (ti.state == TaskState::kRunning) running.push_back({k, id});
        }
      }
      if (inc.snap.runs.empty()) break;
      Event e = Tick{};
      const int choice = pick(10);
      if (!queued.empty() && (choice < 4 || running.empty())) {
        auto [k, id] = queued[pick(static_cast<int>(queued.size()))];
        e = TaskStarted{k, id, inc.Ti(k, id).try_number, {{"pid", 1}}};
      } else if (!running.empty() && choice < 9) {
        auto [k, id] = running[pick(static_cast<int>(running.size()))];
        operators::TaskResult r;
        r.success = pick(3) != 0;
        r.exit_code = r.success ? 0 : 1;
        r.retryable = pick(4) != 0;
        e = TaskFinished{k, id, inc.Ti(k, id).try_number, r};
      } else {
        inc.now += Millis(20000);
        full.now = inc.now;
      }
      Plan a = inc.Step(e);
      Plan b = full.Step(e);
      ASSERT_EQ(Describe(a), Describe(b)) << "seed " << seed << ", step " << step;
      ++compared;
    }
    for (int64_t k : runs) {
      EXPECT_TRUE(store::IsTerminal(inc.runs[k].state)) << "seed " << seed << " run " << k;
    }
  }
  EXPECT_GT(compared, 1000);
}

}  // namespace
}  // namespace sp::scheduler
