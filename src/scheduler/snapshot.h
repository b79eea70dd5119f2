// Snapshot: the scheduler's in-memory view of everything Decide reads — the loaded DAGs with
// their records (paused flag, last scheduled date) and every active run with its task
// instances. Owned by the scheduler's loop thread; Apply updates it after each commit.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "dag/dag.h"
#include "store/records.h"

namespace sp::scheduler {

struct DagEntry {
  // Null when the DAG's file is gone or broken: its record (paused flag, last scheduled date)
  // and its runs remain, and a fixed file brings the DAG back as it was.
  dag::DagPtr dag;
  store::DagRecord record;
  // Set when the store refused a plan that created this DAG's scheduled runs for a reason the
  // scheduler could not resolve: no scheduled run is created until the DAG is reloaded, so one
  // poisoned DAG never blocks the others' commits.
  std::string scheduling_blocked;
};

struct RunView {
  store::DagRun run;
  dag::DagPtr dag;                                 // the definition the run started with
  std::map<std::string, store::TaskInstance> tis;  // by task id
};

struct TryKey {
  int64_t run = 0;
  std::string task;
  int try_number = 0;
  friend bool operator<(const TryKey& a, const TryKey& b) {
    return std::tie(a.run, a.task, a.try_number) < std::tie(b.run, b.task, b.try_number);
  }
};

struct Snapshot {
  std::map<std::string, DagEntry> dags;  // by dag id
  std::map<int64_t, RunView> runs;       // active runs (queued or running), by run key
  std::set<TryKey> cancelling;           // tries asked to stop (timeout, cancel, mark)
  // (dag id, run id) of finished runs the store holds that a new run could clash with: filled
  // by the scheduler before a trigger or backfill and after a refused insert, so Decide never
  // plans a run the store's UNIQUE(dag_id, run_id) would refuse.
  std::set<std::pair<std::string, std::string>> taken_run_ids;
  // Finished runs the store holds that ended before a PruneRuns event's cutoff (a bounded
  // batch, oldest first): filled by the scheduler before that event only.
  std::vector<store::DagRun> prune_candidates;
  int active_tries = 0;  // queued + running task instances
  int parallelism = 32;
  bool create_scheduled_runs = true;  // false in `dags test` and offline command mode
};

}  // namespace sp::scheduler
