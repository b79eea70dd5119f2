// A DAG's time zone: an IANA name ("Europe/Berlin") read from the system's tzdata
// (/usr/share/zoneinfo, through Howard Hinnant's date/tz). Schedules are evaluated in the zone's
// wall time; every instant the scheduler keeps stays in UTC.
//
// Local times that do not exist or exist twice resolve as Airflow's make_aware does (pendulum,
// fold=1): a time in a spring-forward gap moves forward by the gap (02:30 on the day Berlin skips
// 02:00-03:00 is 03:30 CEST); a time in a fall-back overlap is its second occurrence (02:30 on
// the day Berlin repeats 02:00-03:00 is 02:30 CET, 01:30 UTC).
//
// Thread safety: a TimeZone is an immutable handle to a zone of the process-wide database;
// copies are cheap and may be used from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace date {
class time_zone;
}  // namespace date

namespace sp::dag {

class TimeZone {
 public:
  // UTC, the default of every DAG.
  TimeZone() = default;
  static TimeZone Utc() { return TimeZone(); }
  // An IANA name ("America/New_York", "UTC"). NotFound names the nearest known zone ("did you
  // mean"); FailedPrecondition when the system has no time zone database.
  static Result<TimeZone> Find(std::string_view name);

  const std::string& name() const { return name_; }
  bool is_utc() const { return zone_ == nullptr; }

  // The wall time at instant `t`, as a Time whose UTC fields read as the local ones.
  Time ToLocal(Time t) const;
  // The instant of wall time `local` (see the header comment for gaps and overlaps).
  Time FromLocal(Time local) const;
  // Every instant whose wall time is `local`, earliest first: none in a gap, two in an overlap.
  // `count` is 0, 1 or 2.
  struct Instants {
    Time first;
    Time second;
    int count = 0;
  };
  Instants AllFromLocal(Time local) const;

  friend bool operator==(const TimeZone& a, const TimeZone& b) { return a.zone_ == b.zone_; }

 private:
  const date::time_zone* zone_ = nullptr;  // nullptr = UTC
  std::string name_ = "UTC";
};

// A DAG file's date or time in `zone`: "2026-03-29" is midnight there and "2026-03-29T02:30" its
// wall time (resolved as FromLocal does); a time with an offset or Z is that instant whatever the
// zone. nullopt when malformed (the same grammar as ParseDateTime).
std::optional<Time> ParseDateTimeIn(std::string_view text, const TimeZone& zone);

}  // namespace sp::dag
