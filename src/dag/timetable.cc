// Airflow's cron timetables over dag::Schedule; see timetable.h.
#include "dag/timetable.h"

#include <algorithm>

namespace sp::dag {
namespace {

// CronDataIntervalTimetable._skip_to_latest: the start of the latest interval complete at `now`
// (or of the one starting at `now`), and never before the first interval at start_date.
std::optional<Time> SkipToLatest(const Schedule& s, std::optional<Time> earliest, Time now) {
  std::optional<Time> last_start = s.Prev(now);
  std::optional<Time> start;
  if (last_start) {
    std::optional<Time> next_start = s.Next(*last_start);
    if (next_start && *next_start == now) {
      start = last_start;
    } else {
      // `now` is inside the interval that starts at last_start: the one before is complete.
      start = s.Prev(*last_start);
      if (!start) start = last_start;  // no fire before it: the first interval, due later
    }
  }
  if (!earliest) return start;
  std::optional<Time> first = s.NextOrEqual(*earliest);
  if (!start) return first;
  if (!first) return start;
  return std::max(*start, *first);
}

std::optional<ScheduledRun> NextDataInterval(const Dag& d, std::optional<Time> last_logical,
                                             Time now) {
  const Schedule& s = *d.schedule;
  std::optional<Time> earliest = d.start_date;
  if (!d.catchup) {
    earliest = SkipToLatest(s, earliest, now);
  } else if (earliest) {
    earliest = s.NextOrEqual(*earliest);
    if (!earliest) return std::nullopt;
  }
  std::optional<Time> start;
  if (!last_logical) {
    start = earliest;
  } else {
    // The previous interval ended at the fire after its start; the next one starts there.
    std::optional<Time> last_end = s.Next(*last_logical);
    if (!last_end) return std::nullopt;
    start = s.PrevOrEqual(*last_end);
    if (!start) return std::nullopt;
    if (earliest) start = std::max(*start, *earliest);
  }
  if (!start || (d.end_date && *start > *d.end_date)) return std::nullopt;
  std::optional<Time> end = s.Next(*start);
  if (!end) return std::nullopt;
  return ScheduledRun{*start, DataInterval{*start, *end}, *end};
}

std::optional<ScheduledRun> NextTrigger(const Dag& d, std::optional<Time> last_logical, Time now) {
  const Schedule& s = *d.schedule;
  // The previous run's interval ended at its fire time.
  std::optional<Time> after_last;
  if (last_logical) {
    after_last = s.Next(*last_logical + d.trigger_interval);
    if (!after_last) return std::nullopt;
  }
  std::optional<Time> first;
  if (d.start_date) first = s.NextOrEqual(*d.start_date);
  std::optional<Time> fire;
  if (d.catchup) {
    fire = last_logical ? after_last : first;
  } else {
    for (std::optional<Time> candidate : {s.PrevOrEqual(now), after_last, first}) {
      if (candidate && (!fire || *candidate > *fire)) fire = candidate;
    }
  }
  if (!fire) return std::nullopt;
  const Time start = *fire - d.trigger_interval;
  // Airflow compares end_date with the fire time here (with the interval's start for the data
  // interval timetable).
  if (d.end_date && *d.end_date < *fire) return std::nullopt;
  return ScheduledRun{start, DataInterval{start, *fire}, *fire};
}

}  // namespace

std::optional<ScheduledRun> NextScheduledRun(const Dag& d, std::optional<Time> last_logical,
                                             Time now) {
  if (!d.schedule) return std::nullopt;
  if (d.schedule->is_once()) {
    // OnceTimetable: one run, at start_date (or at once without one).
    if (last_logical) return std::nullopt;
    const Time at = d.start_date.value_or(now);
    if (d.end_date && at > *d.end_date) return std::nullopt;
    return ScheduledRun{at, DataInterval{at, at}, at};
  }
  return d.timetable == TimetableKind::kCronTrigger ? NextTrigger(d, last_logical, now)
                                                    : NextDataInterval(d, last_logical, now);
}

DataInterval ManualDataInterval(const Dag& d, Time logical) {
  if (!d.schedule || d.schedule->is_once()) return DataInterval{logical, logical};
  if (d.timetable == TimetableKind::kCronTrigger) {
    return DataInterval{logical - d.trigger_interval, logical};
  }
  std::optional<Time> end = d.schedule->PrevOrEqual(logical);
  std::optional<Time> start = end ? d.schedule->Prev(*end) : std::nullopt;
  if (!end || !start) return DataInterval{logical, logical};  // a cron that never fired
  return DataInterval{*start, *end};
}

std::optional<TimetableKind> ParseTimetableKind(std::string_view name) {
  if (name == "cron_data_interval") return TimetableKind::kCronDataInterval;
  if (name == "cron_trigger") return TimetableKind::kCronTrigger;
  return std::nullopt;
}

const char* TimetableKindName(TimetableKind kind) {
  return kind == TimetableKind::kCronTrigger ? "cron_trigger" : "cron_data_interval";
}

}  // namespace sp::dag
