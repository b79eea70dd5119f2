// Decide() alone: the pure scheduling function the loop calls once per event. Snapshots are built
// in memory (no store, no files) in the states a fan-out and a chain pass through, so the numbers
// are the CPU cost of one event, which bounds the scheduler's throughput from above.
//
//   BM_Decide_FanoutRootFinished/N   the root of a 1+N fan-out succeeds: N tasks become
//                                    scheduled, `parallelism` of them are launched
//   BM_Decide_FanoutLeafFinished/N   mid-run: half the leaves done, 32 running, the rest
//                                    scheduled; one running leaf succeeds and one more launches
//   BM_Decide_FanoutLeafStarted/N    same state; a queued leaf's handle is recorded
//   BM_Decide_FanoutTick/N           same state; a timer tick (nothing to do)
//   BM_Decide_ChainTaskFinished/N    chain of N, task N/2 succeeds and N/2+1 launches
#include <benchmark/benchmark.h>

#include <memory>

#include "bench/dag_gen.h"
#include "scheduler/decide.h"

namespace sp::bench {
namespace {

using scheduler::Snapshot;
using store::TaskState;

constexpr int kParallelism = 32;  // the server's default
const Time kNow = FromUnixMillis(1'780'000'000'000);

dag::TaskSpec BashTask(const std::string& id, std::vector<std::string> depends_on) {
  dag::TaskSpec t;
  t.id = id;
  t.type = "bash";
  t.depends_on = std::move(depends_on);
  t.fields = {{"command", "true"}};
  return t;
}

dag::DagPtr FanoutDag(int leaves) {
  auto d = std::make_shared<dag::Dag>();
  d->id = "fanout";
  d->tasks.push_back(BashTask("root", {}));
  for (int i = 0; i < leaves; ++i) d->tasks.push_back(BashTask(TaskName(i), {"root"}));
  d->Link();
  return d;
}

dag::DagPtr ChainDag(int n) {
  auto d = std::make_shared<dag::Dag>();
  d->id = "chain";
  for (int i = 0; i < n; ++i) {
    d->tasks.push_back(BashTask(
        TaskName(i), i ? std::vector<std::string>{TaskName(i - 1)} : std::vector<std::string>{}));
  }
  d->Link();
  return d;
}

// A running run of `d` with every task instance in state `none`.
Snapshot RunningSnapshot(const dag::DagPtr& d) {
  Snapshot s;
  s.parallelism = kParallelism;
  s.create_scheduled_runs = false;
  s.dags[d->id].dag = d;
  s.dags[d->id].record.dag_id = d->id;
  scheduler::RunView& v = s.runs[1];
  v.dag = d;
  v.run.id = 1;
  v.run.dag_id = d->id;
  v.run.run_id = "test__bench";
  v.run.type = store::RunType::kTest;
  v.run.state = store::RunState::kRunning;
  v.run.created_at = kNow;
  v.run.started_at = kNow;
  for (const dag::TaskSpec& t : d->tasks) {
    store::TaskInstance& ti = v.tis[t.id];
    ti.run_id = 1;
    ti.task_id = t.id;
  }
  return s;
}

void SetState(Snapshot& s, const std::string& task, TaskState state) {
  store::TaskInstance& ti = s.runs[1].tis[task];
  if (store::IsActive(ti.state)) --s.active_tries;
  ti.state = state;
  if (state != TaskState::kNone && state != TaskState::kScheduled) ti.try_number = 1;
  if (state == TaskState::kRunning) ti.handle = {{"pid", 4242}, {"start_ticks", 1}};
  if (store::IsActive(state)) ++s.active_tries;
}

// Half the leaves done, `kParallelism` in flight (the first one queued), the rest scheduled.
Snapshot FanoutMidRun(int leaves) {
  Snapshot s = RunningSnapshot(FanoutDag(leaves));
  SetState(s, "root", TaskState::kSuccess);
  for (int i = 0; i < leaves; ++i) {
    TaskState st = i < leaves / 2                  ? TaskState::kSuccess
                   : i == leaves / 2               ? TaskState::kQueued
                   : i < leaves / 2 + kParallelism ? TaskState::kRunning
                                                   : TaskState::kScheduled;
    SetState(s, TaskName(i), st);
  }
  return s;
}

scheduler::TaskFinished Success(const std::string& task) {
  scheduler::TaskFinished e{1, task, 1, {}};
  e.result.success = true;
  e.result.exit_code = 0;
  return e;
}

void RunDecide(benchmark::State& state, Snapshot s, const scheduler::Event& event,
               size_t expect_launches) {
  for (auto& [key, view] : s.runs) scheduler::IndexRun(&view);  // as FoldPlan keeps it
  size_t launches = 0, changed = 0;
  for (auto _ : state) {
    scheduler::RunKeySource keys(100);
    scheduler::Plan plan = scheduler::Decide(s, event, kNow, keys);
    launches = plan.launches.size();
    changed = plan.task_instances.size();
    benchmark::DoNotOptimize(plan);
  }
  if (launches != expect_launches) {
    state.SkipWithError(("expected " + std::to_string(expect_launches) + " launches, got " +
                         std::to_string(launches))
                            .c_str());
  }
  state.counters["launches"] = static_cast<double>(launches);
  state.counters["tis_changed"] = static_cast<double>(changed);
}

void BM_Decide_FanoutRootFinished(benchmark::State& state) {
  const int leaves = static_cast<int>(state.range(0));
  Snapshot s = RunningSnapshot(FanoutDag(leaves));
  SetState(s, "root", TaskState::kRunning);
  RunDecide(state, s, Success("root"), std::min(leaves, kParallelism));
}

void BM_Decide_FanoutLeafFinished(benchmark::State& state) {
  const int leaves = static_cast<int>(state.range(0));
  Snapshot s = FanoutMidRun(leaves);
  RunDecide(state, s, Success(TaskName(leaves / 2 + 1)), 1);
}

void BM_Decide_FanoutLeafStarted(benchmark::State& state) {
  const int leaves = static_cast<int>(state.range(0));
  Snapshot s = FanoutMidRun(leaves);
  RunDecide(state, s,
            scheduler::TaskStarted{1, TaskName(leaves / 2), 1, {{"pid", 4242}, {"start_ticks", 1}}},
            0);
}

void BM_Decide_FanoutTick(benchmark::State& state) {
  Snapshot s = FanoutMidRun(static_cast<int>(state.range(0)));
  RunDecide(state, s, scheduler::Tick{}, 0);
}

void BM_Decide_ChainTaskFinished(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  Snapshot s = RunningSnapshot(ChainDag(n));
  for (int i = 0; i < n / 2; ++i) SetState(s, TaskName(i), TaskState::kSuccess);
  SetState(s, TaskName(n / 2), TaskState::kRunning);
  RunDecide(state, s, Success(TaskName(n / 2)), 1);
}

BENCHMARK(BM_Decide_FanoutRootFinished)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(5000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Decide_FanoutLeafFinished)
    ->Arg(100)
    ->Arg(1000)
    ->Arg(5000)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Decide_FanoutLeafStarted)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Decide_FanoutTick)->Arg(1000)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Decide_ChainTaskFinished)->Arg(200)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sp::bench

BENCHMARK_MAIN();
