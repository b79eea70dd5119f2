// Calendar arithmetic on UTC times without the C library's time zone machinery: days since the
// unix epoch <-> (year, month, day), and parsing of the dates/times DAG files contain.
// Used by the cron evaluator (which walks the calendar) and the loader (start_date/end_date).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/clock.h"

namespace sp::dag::internal {

struct CivilDate {
  int64_t year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
};

// Howard Hinnant's algorithms (proleptic Gregorian calendar, valid for any int64 day count
// that fits a year in int64).
int64_t DaysFromCivil(int64_t year, int month, int day);
CivilDate CivilFromDays(int64_t days);

bool IsLeapYear(int64_t year);
int DaysInMonth(int64_t year, int month);
// 0 = Sunday .. 6 = Saturday.
int WeekdayFromDays(int64_t days);

inline constexpr int64_t kMillisPerMinute = 60 * 1000;
inline constexpr int64_t kMillisPerHour = 60 * kMillisPerMinute;
inline constexpr int64_t kMillisPerDay = 24 * kMillisPerHour;

// Floor division that rounds towards negative infinity (for times before 1970).
inline int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Parses "2026-01-01" (midnight UTC), "2026-01-01T02:00:00Z", "2026-01-01T02:00:00.5+02:00"
// and the same with a space instead of "T" (YAML timestamps); a time without an offset is UTC.
std::optional<Time> ParseDateTime(std::string_view text);

}  // namespace sp::dag::internal
