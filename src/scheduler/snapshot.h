// Snapshot: the scheduler's in-memory view of everything Decide reads — the loaded DAGs with
// their records (paused flag, last scheduled date) and every active run with its task
// instances. Owned by the scheduler's loop thread; Apply updates it after each commit.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "dag/dag.h"
#include "store/records.h"

namespace sp::scheduler {

struct DagEntry {
  dag::DagPtr dag;  // null when the DAG's file is gone or broken (its record remains)
  store::DagRecord record;
};

struct RunView {
  store::DagRun run;
  dag::DagPtr dag;  // the definition the run started with
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
  int active_tries = 0;                  // queued + running task instances
  int parallelism = 32;
  bool create_scheduled_runs = true;  // false in `dags test` and offline command mode
};

}  // namespace sp::scheduler
