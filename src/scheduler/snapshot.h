// Snapshot: the scheduler's in-memory view of everything Decide reads — the loaded DAGs with
// their records (paused flag, last scheduled date) and every active run with its task
// instances. Owned by the scheduler's loop thread; Apply updates it after each commit.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
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

// What Decide's incremental pass reads instead of visiting every task instance of a run.
// Positions are indexes into the run's dag->tasks (upstreams first). Kept by FoldPlan; a view
// built another way gets it from IndexRun.
struct RunIndex {
  int unfinished = 0;       // task instances not in a terminal state
  std::set<int> scheduled;  // scheduled: waiting for a parallelism slot
  std::set<int> waiting;    // queued, running or up_for_retry: their timers are checked each pass
};

struct RunView {
  store::DagRun run;
  dag::DagPtr dag;                                 // the definition the run started with
  std::map<std::string, store::TaskInstance> tis;  // by task id
  RunIndex index;
};

// Position of `task` in the view's DAG, or -1 (no DAG, or a task the DAG no longer has).
int TaskPosition(const RunView& view, const std::string& task);
// Moves one task instance's entry in the index from state `from` (nullopt: it is new) to `to`.
void IndexTransition(RunView* view, const std::string& task, std::optional<store::TaskState> from,
                     store::TaskState to);
// Rebuilds view->index from view->tis.
void IndexRun(RunView* view);

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
  // False: every event evaluates every task instance of every running run, as the incremental
  // pass must be equivalent to (the tests compare the two plan for plan).
  bool incremental = true;
};

}  // namespace sp::scheduler
