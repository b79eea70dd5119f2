// Parsing and validating DAG files in-process: DagFolder::Rescan over a folder of generated
// "typical" DAGs (bench/dag_gen.h: ~10 bash tasks with schedule, params, templates, fan-in), with
// the real task-type registry's checker, as `dags validate` and the server use it.
//
//   BM_DagFolderRescan_Cold/F        a new DagFolder reads, parses and validates F files on
//                                    DagFolder::DefaultParallelism() threads (target: F=1000 in
//                                    <= 1 s real time); CPU is the whole process's, all threads
//   BM_DagFolderRescan_ColdSequential/F   the same on the calling thread only (parallelism 1)
//   BM_DagFolderRescan_Unchanged/F   the server's periodic rescan when nothing changed (stat only)
//   BM_LoadDagText                   one typical file from memory (YAML parse + validation)
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>

#include "bench/bench_util.h"
#include "bench/dag_gen.h"
#include "dag/dag_folder.h"
#include "operators/registry.h"

namespace sp::bench {
namespace {

constexpr int kTasksPerDag = 10;

struct Checker {
  operators::Services services;  // validation does not use them; types keep the pointer
  std::unique_ptr<operators::TaskTypeRegistry> registry = operators::BuildRegistry(&services);
  dag::TaskTypeChecker checker = registry->Checker();
};

const dag::TaskTypeChecker& RealChecker() {
  static Checker* c = new Checker;
  return c->checker;
}

// The folder of `files` generated DAGs, written once per process.
const std::string& DagsDir(int files) {
  static std::map<int, std::unique_ptr<TempDir>> dirs;
  auto& d = dirs[files];
  if (!d) {
    d = std::make_unique<TempDir>("spbench-dags");
    WriteTypicalDags(d->path(), files, kTasksPerDag);
  }
  return d->path();
}

void CheckAllValid(benchmark::State& state, const dag::DagFolder& folder, int files) {
  if (static_cast<int>(folder.dags().size()) == files) return;
  for (const dag::LoadedFile& f : folder.Files()) {
    if (!f.errors.empty()) {
      state.SkipWithError(("generated DAG invalid: " + f.errors[0].ToString()).c_str());
      return;
    }
  }
  state.SkipWithError("not every generated DAG loaded");
}

void RescanCold(benchmark::State& state, int parallelism) {
  const int files = static_cast<int>(state.range(0));
  const std::string& dir = DagsDir(files);
  state.counters["threads"] = parallelism;
  for (auto _ : state) {
    dag::DagFolder folder(dir, RealChecker(), parallelism);
    dag::FolderChanges changes = folder.Rescan();
    benchmark::DoNotOptimize(changes);
    state.PauseTiming();
    CheckAllValid(state, folder, files);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * files);  // files/s
}

void BM_DagFolderRescan_Cold(benchmark::State& state) {
  RescanCold(state, dag::DagFolder::DefaultParallelism());
}

void BM_DagFolderRescan_ColdSequential(benchmark::State& state) {
  RescanCold(state, 1);
}

void BM_DagFolderRescan_Unchanged(benchmark::State& state) {
  const int files = static_cast<int>(state.range(0));
  dag::DagFolder folder(DagsDir(files), RealChecker());
  folder.Rescan();
  CheckAllValid(state, folder, files);
  for (auto _ : state) {
    dag::FolderChanges changes = folder.Rescan();
    if (changes.any()) state.SkipWithError("an unchanged folder reported changes");
  }
  state.SetItemsProcessed(state.iterations() * files);
}

void BM_LoadDagText(benchmark::State& state) {
  const std::string text = TypicalDagText(7, kTasksPerDag);
  for (auto _ : state) {
    dag::LoadedFile f = dag::LoadDagText(text, "bench_dag_7.yaml", RealChecker());
    if (!f.errors.empty()) state.SkipWithError(f.errors[0].ToString().c_str());
    benchmark::DoNotOptimize(f);
  }
}

// Real time is what the target is about; process CPU time counts the parsing threads too.
BENCHMARK(BM_DagFolderRescan_Cold)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->MeasureProcessCPUTime()
    ->UseRealTime();
BENCHMARK(BM_DagFolderRescan_ColdSequential)
    ->Arg(1000)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->MeasureProcessCPUTime()
    ->UseRealTime();
BENCHMARK(BM_DagFolderRescan_Unchanged)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LoadDagText)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sp::bench

BENCHMARK_MAIN();
