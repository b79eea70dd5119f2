// Schedules: 5-field cron expressions and the presets @hourly @daily @weekly @monthly @yearly
// (@annually) @once, evaluated in the wall time of a time zone (UTC unless the DAG names one).
// A schedule turns into data intervals like Airflow's: a run for the interval [start, end) is
// created at `end`; its logical date is `start` (see timetable.h for the trigger mode).
//
// Cron semantics: minute hour day-of-month month day-of-week, with `*`, lists `a,b`, ranges
// `a-b`, steps `*/n` and `a-b/n`, month names JAN-DEC and day names SUN-SAT (0 and 7 = Sunday).
// Day rule as croniter (Airflow) has it: when both day-of-month and day-of-week are restricted,
// a day matching either fires (the union). A field counts as unrestricted only when it is `*`,
// or when it covers every value and the other day field contains a `*`: so `*/2` with `sat` is
// the union (odd days and Saturdays), unlike Vixie cron, which intersects there.
//
// Time zones follow Airflow's cron timetables (timetables/_cron.py): the next or previous wall
// time is found in local time and resolved with TimeZone::FromLocal (a time skipped by a
// spring-forward change runs at the same wall time plus the gap; a repeated one at its second
// occurrence). A schedule that fires in every hour (hour field `*`) instead moves by the wall
// time difference in real time, so it also fires in a repeated hour and keeps its spacing across
// a change. Airflow applies that move even across days (`0 * * * 1` runs at 01:00 on a Monday
// after a spring-forward Sunday); here a move that would leave the written wall time resolves
// that wall time instead.
//
// Thread safety: immutable after Parse.
#pragma once

#include <bitset>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"
#include "dag/timezone.h"

namespace sp::dag {

struct DataInterval {
  Time start;
  Time end;
  friend bool operator==(const DataInterval& a, const DataInterval& b) {
    return a.start == b.start && a.end == b.end;
  }
};

class Schedule {
 public:
  // Parses "*/15 * * * *", "@daily", "@once" for wall times in `zone`. The error says which
  // field is wrong and why.
  static Result<Schedule> Parse(const std::string& text, const TimeZone& zone = TimeZone());

  const std::string& text() const { return text_; }
  const TimeZone& time_zone() const { return zone_; }
  bool is_once() const { return once_; }

  // The first cron fire time strictly after `t` (nullopt for @once or an impossible spec
  // such as "0 0 31 2 *", after a bounded search). Airflow's CronMixin._get_next.
  std::optional<Time> Next(Time t) const;
  // The last cron fire time before `t` (Airflow's _get_prev; in a zone, a time resolved out of a
  // spring-forward gap can be its own previous fire time).
  std::optional<Time> Prev(Time t) const;
  // `t` when it is a fire time, else Prev(t) (Airflow's _align_to_prev).
  std::optional<Time> PrevOrEqual(Time t) const;
  // `t` when it is a fire time, else Next(t) (Airflow's _align_to_next).
  std::optional<Time> NextOrEqual(Time t) const;

  // The data interval that starts at the first fire time >= `after_or_at` (nullopt for @once).
  std::optional<DataInterval> IntervalStartingAtOrAfter(Time after_or_at) const;

 private:
  std::string text_;
  bool once_ = false;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_of_month_;  // 1..31
  std::bitset<13> months_;         // 1..12
  std::bitset<7> days_of_week_;    // 0..6, Sunday = 0
  bool dom_restricted_ = false;
  bool dow_restricted_ = false;
  bool every_hour_ = false;  // all 24 hours: Airflow's "covers every hour" DST rule
  TimeZone zone_;

  // Whether wall time `local` (read as UTC fields) is a fire time.
  bool Matches(Time local) const;
  // The calendar walk over wall times: the first match strictly after / at or before `local`.
  std::optional<Time> NextWall(Time local) const;
  std::optional<Time> PrevOrEqualWall(Time local) const;
};

// Durations in DAG files: "30s", "5m", "1h30m", "2d", "250ms", or a plain integer of seconds.
Result<Millis> ParseDuration(const std::string& text);
// "1h30m" style, for display.
std::string FormatDuration(Millis d);

// The one date/time parser of DAG files, commands and the API: "2026-11-26" (midnight UTC) or
// RFC 3339 "2026-11-26T02:00[:00[.123]](Z|+01:00)" (no offset: UTC). nullopt when malformed.
std::optional<Time> ParseDateTime(std::string_view text);

}  // namespace sp::dag
