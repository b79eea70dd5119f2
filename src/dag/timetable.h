// Timetables: when a DAG's schedule creates runs, with which logical date and data interval.
// One computation, shared by the scheduler (Decide), `dags next-execution` and the HTTP API, so
// what they print is what will run. Semantics are Airflow 3's (timetables/interval.py and
// trigger.py), over the zone-aware cron of cron.h:
//
// - cron_data_interval (default): a run covers [fire, next fire), its logical date is the
//   interval's start, and it is due when the interval ends. catchup: every interval from the
//   first one starting at or after start_date. No catchup: never older than the latest interval
//   that is complete at the time of the decision.
// - cron_trigger: a run per fire time, due at it; its data interval is [fire - interval, fire]
//   (zero length by default) and its logical date the interval's start (the fire time when the
//   interval is zero). catchup: every fire from start_date on. No catchup: never older than the
//   latest fire at the time of the decision.
// - @once: one run at start_date.
// No run's logical date is after end_date.
//
// Thread safety: pure functions.
#pragma once

#include <optional>

#include "common/clock.h"
#include "dag/cron.h"
#include "dag/dag.h"

namespace sp::dag {

struct ScheduledRun {
  Time logical_date;
  DataInterval interval;
  Time run_after;  // when it is due
  friend bool operator==(const ScheduledRun& a, const ScheduledRun& b) {
    return a.logical_date == b.logical_date && a.interval == b.interval &&
           a.run_after == b.run_after;
  }
};

// The run the schedule creates after the scheduled run with logical date `last_logical`
// (nullopt: none yet), decided at `now`; it may be due later than `now`. nullopt when the DAG
// has no schedule or no further run (end_date passed, @once done, a cron that never fires).
std::optional<ScheduledRun> NextScheduledRun(const Dag& dag, std::optional<Time> last_logical,
                                             Time now);

// The data interval of a manual run whose logical date is `logical` (Airflow's
// infer_manual_data_interval): for cron_data_interval the latest complete interval ending at or
// before it ([2026-01-03, 2026-01-04) for @daily at 2026-01-04T12:00); for cron_trigger
// [logical - interval, logical]; zero length without a cron schedule.
DataInterval ManualDataInterval(const Dag& dag, Time logical);

// Reads a `timetable:` name; nullopt for an unknown one.
std::optional<TimetableKind> ParseTimetableKind(std::string_view name);
const char* TimetableKindName(TimetableKind kind);

}  // namespace sp::dag
