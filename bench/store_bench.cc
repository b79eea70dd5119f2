// SqliteStore::Commit latency: the one store transaction every scheduler event costs. The database
// is a real file under $TMPDIR (WAL, synchronous=NORMAL, as the server opens it), seeded with one
// run of 1,001 task instances, so upserts hit a table of realistic size.
//
//   BM_StoreCommit_TaskUpdate/K   K task instances changed + K state events (K=1: a task started
//                                 or finished; K=32: a launch burst; K=1001: a fan-out's root
//                                 finishing, which schedules every leaf)
//   BM_StoreCommit_CreateRun/N    a new run with N task instances (what a trigger commits)
//
// Time is the mean of the Commit calls alone (manual timing); each benchmark reports the
// p50/p90/p99 of single commits in microseconds (counters p50_us, p90_us, p99_us).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "bench/bench_util.h"
#include "bench/dag_gen.h"
#include "store/store.h"

namespace sp::bench {
namespace {

const Time kNow = FromUnixMillis(1'780'000'000'000);
constexpr int kSeedTasks = 1001;

struct SeededStore {
  TempDir dir{"spbench-store"};
  std::unique_ptr<store::Store> store;
  int64_t next_run = 2;
};

store::TaskInstance Ti(int64_t run, int i) {
  store::TaskInstance ti;
  ti.run_id = run;
  ti.task_id = TaskName(i);
  ti.log_path = "logs/fanout/test__bench/" + ti.task_id + "/1.log";
  return ti;
}

store::DagRun Run(int64_t id) {
  store::DagRun r;
  r.id = id;
  r.dag_id = "fanout";
  r.run_id = "test__bench_" + std::to_string(id);
  r.type = store::RunType::kTest;
  r.state = store::RunState::kRunning;
  r.created_at = kNow;
  r.started_at = kNow;
  return r;
}

// One store per process, shared by the benchmarks (the table only grows by events and runs);
// destroyed at exit, which removes its directory.
SeededStore& Seeded() {
  static std::unique_ptr<SeededStore> s = [] {
    auto seeded = std::make_unique<SeededStore>();
    auto opened = store::OpenSqliteStore(seeded->dir.path() + "/sparkplane.db");
    if (!opened.ok()) {
      std::fprintf(stderr, "cannot open the store: %s\n", opened.status().ToString().c_str());
      std::exit(1);
    }
    seeded->store = std::move(*opened);
    store::Mutation m;
    store::DagRecord d;
    d.dag_id = "fanout";
    d.file = "/dags/fanout.yaml";
    m.dags.push_back(d);
    m.runs.push_back(Run(1));
    for (int i = 0; i < kSeedTasks; ++i) m.task_instances.push_back(Ti(1, i));
    Status st = seeded->store->Commit(m);
    if (!st.ok()) {
      std::fprintf(stderr, "cannot seed the store: %s\n", st.ToString().c_str());
      std::exit(1);
    }
    return seeded;
  }();
  return *s;
}

void ReportLatencies(benchmark::State& state, const std::vector<double>& us) {
  state.counters["p50_us"] = Percentile(us, 0.50);
  state.counters["p90_us"] = Percentile(us, 0.90);
  state.counters["p99_us"] = Percentile(us, 0.99);
}

void BM_StoreCommit_TaskUpdate(benchmark::State& state) {
  SeededStore& s = Seeded();
  const int k = static_cast<int>(state.range(0));
  std::vector<double> us;
  int round = 0;
  for (auto _ : state) {
    // Alternate running (with a handle) and success, as a try does.
    bool running = ++round % 2;
    store::Mutation m;
    for (int i = 0; i < k; ++i) {
      store::TaskInstance ti = Ti(1, i);
      ti.try_number = 1;
      ti.state = running ? store::TaskState::kRunning : store::TaskState::kSuccess;
      ti.started_at = kNow;
      if (running) {
        ti.handle = {{"pid", 4242 + i}, {"start_ticks", 123456}};
        ti.reason = "started";
      } else {
        ti.ended_at = kNow + Millis(5);
        ti.exit_code = 0;
        ti.reason = "succeeded";
      }
      m.task_instances.push_back(ti);
      m.events.push_back({1, ti.task_id, 1, running ? "queued" : "running",
                          running ? "running" : "success", ti.reason, kNow});
    }
    auto t0 = std::chrono::steady_clock::now();
    Status st = s.store->Commit(m);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(seconds);
    us.push_back(seconds * 1e6);
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
  }
  ReportLatencies(state, us);
}

void BM_StoreCommit_CreateRun(benchmark::State& state) {
  SeededStore& s = Seeded();
  const int n = static_cast<int>(state.range(0));
  std::vector<double> us;
  for (auto _ : state) {
    int64_t id = s.next_run++;
    store::Mutation m;
    store::DagRun r = Run(id);
    r.state = store::RunState::kQueued;
    m.runs.push_back(r);
    for (int i = 0; i < n; ++i) m.task_instances.push_back(Ti(id, i));
    auto t0 = std::chrono::steady_clock::now();
    Status st = s.store->Commit(m);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(seconds);
    us.push_back(seconds * 1e6);
    if (!st.ok()) {
      state.SkipWithError(st.ToString().c_str());
      break;
    }
  }
  ReportLatencies(state, us);
}

// Manual time: only the Commit call is timed, not building the Mutation.
BENCHMARK(BM_StoreCommit_TaskUpdate)
    ->Arg(1)
    ->Arg(32)
    ->Arg(1001)
    ->Unit(benchmark::kMicrosecond)
    ->UseManualTime();
BENCHMARK(BM_StoreCommit_CreateRun)->Arg(1001)->Unit(benchmark::kMicrosecond)->UseManualTime();

}  // namespace
}  // namespace sp::bench

BENCHMARK_MAIN();
