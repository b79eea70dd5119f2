// Decide: the scheduler's brain, a pure function.
//
//   Plan Decide(const Snapshot&, const Event&, Time now, RunKeySource& keys)
//
// No clock reads, no store writes, no processes: given the same inputs it returns the same Plan,
// which makes scheduling testable with table files and crash recovery simple (a Plan is either
// committed whole or not at all). Besides handling the event itself, every call makes a
// scheduling pass: it starts queued runs (MaxActiveRunsDep), moves task instances forward
// (TriggerRuleDep, NotInRetryPeriodDep, ParallelismSlotDep), stops timed-out tries, finishes
// runs whose tasks are all done, and computes the next wakeup.
//
// Run outcome: when every task instance is terminal the run is success unless a non-teardown
// leaf (ignoring teardown tasks) failed or was upstream_failed; a cancelled run ends cancelled.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dag/timetable.h"
#include "scheduler/deps/dep.h"
#include "scheduler/event.h"
#include "scheduler/plan.h"
#include "scheduler/snapshot.h"

namespace sp::scheduler {

// Hands out run keys; the only "id generation" Decide does, injected so tests control it.
class RunKeySource {
 public:
  explicit RunKeySource(int64_t last_used) : last_(last_used) {}
  int64_t Next() { return ++last_; }
  int64_t last() const { return last_; }

 private:
  int64_t last_;
};

Plan Decide(const Snapshot& snapshot, const Event& event, Time now, RunKeySource& keys);

// Folds a committed Plan into the snapshot (new runs, changed runs and task instances, the
// active-try count, tries being stopped). Runs that reached a terminal state leave the snapshot
// and are returned.
std::vector<store::DagRun> FoldPlan(const Plan& plan, Snapshot* snapshot);

// The runs a backfill over [from, to] creates, oldest first, at most `limit`, as the DAG's
// timetable makes them: cron_data_interval one per interval starting in [from, to];
// cron_trigger one per fire whose logical date (the fire less `interval`) is in [from, to], with
// the data interval [fire - interval, fire]. Shared by Decide and `dags backfill --dry-run`.
// The DAG must have a cron schedule.
std::vector<dag::ScheduledRun> BackfillRuns(const dag::Dag& dag, Time from, Time to, size_t limit);

// The next `n` runs the schedule will create after the scheduled run `last_logical` (none yet:
// from start_date), as CreateScheduledRuns decides them from `now` on (catchup, end_date): for
// `dags next-execution` and the API's next run.
std::vector<dag::ScheduledRun> NextScheduledRuns(const dag::Dag& dag,
                                                 std::optional<Time> last_logical, Time now,
                                                 size_t n);

// Why a task instance is not running yet: each dep's status (for `tasks list`).
std::vector<DepStatus> ExplainTask(const Snapshot& snapshot, int64_t run, const std::string& task,
                                   Time now);

// Airflow 3's id of a scheduled, backfill or manual run at a logical date: the type, then the date
// in Python's isoformat, "scheduled__2026-11-26T00:00:00+00:00".
std::string MakeRunId(store::RunType type, Time logical_date);
// The id MakeRunId gave before it followed Airflow ("scheduled__2026-11-26T00:00:00Z"). A store may
// still hold such runs: a backfill or trigger at the same logical date treats them as taken.
std::string LegacyRunId(store::RunType type, Time logical_date);
// A manual run triggered without a logical date, named as Airflow 3 names it:
// "manual__2026-01-04T12:00:00.123000+00:00_Ab3dE9xZ" (the trigger time in Python's isoformat, then
// `suffix`, eight random letters and digits the caller draws: Decide generates no ids).
std::string MakeManualRunId(Time triggered_at, const std::string& suffix);

// Where a try's output goes, relative to the scheduler's folder:
// "logs/DAG_ID/RUN_ID/TASK_ID/TRY.log" (ids are validated: they hold no '/' or "..").
std::string TryLogPath(const store::DagRun& run, const std::string& task, int try_number);

}  // namespace sp::scheduler
