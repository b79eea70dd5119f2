// Schedules: 5-field cron expressions and the presets @hourly @daily @weekly @monthly @yearly
// (@annually) @once, evaluated in UTC. A schedule turns into data intervals like Airflow's:
// a run for the interval [start, end) is created at `end`; its logical date is `start`.
//
// Cron semantics: minute hour day-of-month month day-of-week, with `*`, lists `a,b`, ranges
// `a-b`, steps `*/n` and `a-b/n`, month names JAN-DEC and day names SUN-SAT (0 and 7 = Sunday);
// when both day-of-month and day-of-week are restricted, either may match (Vixie cron).
//
// Thread safety: immutable after Parse.
#pragma once

#include <bitset>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

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
  // Parses "*/15 * * * *", "@daily", "@once". The error says which field is wrong and why.
  static Result<Schedule> Parse(const std::string& text);

  const std::string& text() const { return text_; }
  bool is_once() const { return once_; }

  // The first cron fire time strictly after `t` (nullopt for @once or an impossible spec
  // such as "0 0 31 2 *", after a bounded search).
  std::optional<Time> Next(Time t) const;
  // The last cron fire time at or before `t`.
  std::optional<Time> PrevOrEqual(Time t) const;

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

  bool Matches(Time t) const;
};

// Durations in DAG files: "30s", "5m", "1h30m", "2d", "250ms", or a plain integer of seconds.
Result<Millis> ParseDuration(const std::string& text);
// "1h30m" style, for display.
std::string FormatDuration(Millis d);

// The one date/time parser of DAG files, commands and the API: "2026-11-26" (midnight UTC) or
// RFC 3339 "2026-11-26T02:00[:00[.123]](Z|+01:00)" (no offset: UTC). nullopt when malformed.
std::optional<Time> ParseDateTime(std::string_view text);

}  // namespace sp::dag
