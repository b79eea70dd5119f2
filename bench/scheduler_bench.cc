// The whole in-process scheduler (Scheduler: Decide, Apply with its store commit, FoldPlan,
// Launch with template rendering, the TaskStarted/TaskFinished round trips through the loop) on
// the fan-out and chain shapes, with a task type that starts nothing: `instant` records a handle
// and completes at once. What is left is the scheduler's own cost per task, i.e. the ceiling on
// tasks/s before any fork/exec; compare with the end-to-end numbers of sp_bench_e2e.
//
//   BM_Scheduler_Fanout/N/store   1 root + N leaves, parallelism 32; store 0 = SQLite file
//                                 (as the server), 1 = SQLite ":memory:" (no file I/O)
//   BM_Scheduler_Chain/N/store    N tasks in a chain
//
// Time (manual) = Execute(trigger) + Run() until the run finishes; scheduler construction and the
// DAG folder scan are not timed. Counters: tasks_per_s = tasks of the run / that time;
// cpu_us_per_task = the loop thread's CPU time per task (robust to a busy machine).
#include <benchmark/benchmark.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "bench/bench_util.h"
#include "bench/dag_gen.h"
#include "common/log.h"
#include "operators/registry.h"
#include "scheduler/scheduler.h"

namespace sp::bench {
namespace {

// Starts nothing: saves a handle (queued -> running, one Decide + commit on the loop, as bash
// does) and completes successfully (TaskFinished is posted to the loop, as the reaper does).
class InstantTaskType : public operators::TaskType {
 public:
  std::string Name() const override { return "instant"; }
  std::vector<std::string> FieldNames() const override { return {"command"}; }
  void Validate(const dag::TaskSpec&, std::vector<dag::DagError>*) const override {}
  void Start(std::shared_ptr<operators::TaskContext> ctx) override {
    Status s = ctx->SaveHandle({{"instant", true}});
    operators::TaskResult r;
    r.success = s.ok();
    r.exit_code = s.ok() ? 0 : -1;
    ctx->Complete(std::move(r));
  }
  void Cancel(std::shared_ptr<operators::TaskContext> ctx, const nlohmann::json&, Millis) override {
    ctx->Complete({});
  }
  void Recover(std::shared_ptr<operators::TaskContext> ctx, const nlohmann::json&) override {
    ctx->Complete({});
  }
};

// CPU time of the calling thread: the loop, and with the instant type every try's work too.
double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct Fixture {
  TempDir dir{"spbench-sched"};
  RealClock clock;
  Logger logger{clock, LogLevel::kWarn};
  std::unique_ptr<store::Store> store;
  operators::Services services;
  std::unique_ptr<operators::TaskTypeRegistry> registry;

  explicit Fixture(bool in_memory) {
    std::filesystem::create_directories(dir.path() + "/history/scheduler");
    auto opened = store::OpenSqliteStore(
        in_memory ? ":memory:" : dir.path() + "/history/scheduler/sparkplane.db");
    if (!opened.ok()) {
      std::fprintf(stderr, "cannot open store: %s\n", opened.status().ToString().c_str());
      std::exit(1);
    }
    store = std::move(*opened);
    services.clock = &clock;
    services.logger = &logger;
    services.store = store.get();
    services.config.data_dir = dir.path();
    registry = operators::BuildRegistry(&services);
    registry->Register(std::make_unique<InstantTaskType>());
  }
  std::string DagsDir() const { return dir.path() + "/dags"; }
};

// Runs `dag_id` to the end `iterations` times; reports tasks/s.
void RunDag(benchmark::State& state, const std::string& dag_text, const std::string& dag_id,
            int tasks) {
  Fixture fx(state.range(1) == 1);
  WriteTextFile(fx.DagsDir() + "/" + dag_id + ".yaml", WithType(dag_text, "instant"));
  int round = 0;
  double seconds = 0, cpu_seconds = 0;
  for (auto _ : state) {
    scheduler::SchedulerOptions opts;
    opts.dags_folder = fx.DagsDir();
    opts.create_scheduled_runs = false;
    opts.recover_tries = false;
    opts.load_active_runs = false;
    scheduler::Scheduler sched(&fx.services, fx.registry.get(), opts);
    Status s = sched.Start();
    if (!s.ok() || !sched.dag_folder().Find(dag_id)) {
      state.SkipWithError(("scheduler start: " + s.ToString()).c_str());
      break;
    }
    std::optional<store::DagRun> finished;
    int64_t run_key = -1;
    sched.SetRunFinishedObserver([&](const store::DagRun& r) {
      if (r.id != run_key) return;
      finished = r;
      sched.Stop();
    });
    scheduler::TriggerRun trigger;
    trigger.dag_id = dag_id;
    trigger.type = store::RunType::kTest;
    trigger.run_id = "bench_" + std::to_string(++round);
    auto t0 = std::chrono::steady_clock::now();
    double cpu0 = ThreadCpuSeconds();
    Result<scheduler::CommandResult> created = sched.Execute(trigger);
    if (!created.ok()) {
      state.SkipWithError(created.status().ToString().c_str());
      break;
    }
    run_key = created->created_runs.at(0);
    if (!finished) sched.Run();
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(elapsed);
    seconds += elapsed;
    cpu_seconds += ThreadCpuSeconds() - cpu0;
    if (!finished || finished->state != store::RunState::kSuccess) {
      state.SkipWithError("the run did not succeed");
      break;
    }
    state.counters["commits_per_task"] = static_cast<double>(sched.commits()) / tasks;
  }
  state.SetItemsProcessed(state.iterations() * tasks);
  if (seconds > 0) {
    state.counters["tasks_per_s"] = static_cast<double>(state.iterations()) * tasks / seconds;
    state.counters["cpu_us_per_task"] =
        cpu_seconds * 1e6 / (static_cast<double>(state.iterations()) * tasks);
  }
}

void BM_Scheduler_Fanout(benchmark::State& state) {
  const int leaves = static_cast<int>(state.range(0));
  RunDag(state, FanoutDagText("fanout", leaves, "\"true\""), "fanout", leaves + 1);
}

void BM_Scheduler_Chain(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  RunDag(state, ChainDagText("chain", n, [](int) { return std::string("\"true\""); }), "chain", n);
}

BENCHMARK(BM_Scheduler_Fanout)
    ->Args({1000, 0})
    ->Args({1000, 1})
    ->Args({250, 0})
    ->ArgNames({"leaves", "mem"})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3)
    ->UseManualTime();
BENCHMARK(BM_Scheduler_Chain)
    ->Args({200, 0})
    ->Args({200, 1})
    ->ArgNames({"tasks", "mem"})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3)
    ->UseManualTime();

}  // namespace
}  // namespace sp::bench

BENCHMARK_MAIN();
