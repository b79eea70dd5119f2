// Tests of cron schedules (parsing, next/previous fire times, data intervals) and durations.
#include "dag/cron.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "dag/internal/civil_time.h"

namespace sp::dag {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

Time T(const char* text) {
  std::optional<Time> t = internal::ParseDateTime(text);
  EXPECT_TRUE(t.has_value()) << text;
  return t.value_or(Time());
}

Schedule S(const std::string& text) {
  Result<Schedule> s = Schedule::Parse(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status();
  return s.ok() ? *s : *Schedule::Parse("@once");
}

std::string NextAfter(const std::string& schedule, const char* t) {
  std::optional<Time> next = S(schedule).Next(T(t));
  return next ? FormatTime(*next) : "none";
}

std::string PrevAtOrBefore(const std::string& schedule, const char* t) {
  std::optional<Time> prev = S(schedule).PrevOrEqual(T(t));
  return prev ? FormatTime(*prev) : "none";
}

struct NextCase {
  const char* schedule;
  const char* after;
  const char* want;
};

// The table: each row is "first fire time strictly after `after`".
TEST(ScheduleTest, NextFireTimes) {
  const NextCase cases[] = {
      {"*/15 * * * *", "2026-01-01T00:07:00Z", "2026-01-01T00:15:00Z"},
      {"*/15 * * * *", "2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z"},  // strictly after
      {"*/15 * * * *", "2026-01-01T00:14:59.999Z", "2026-01-01T00:15:00Z"},
      {"*/15 * * * *", "2026-12-31T23:59:00Z", "2027-01-01T00:00:00Z"},
      {"5-10/2 * * * *", "2026-01-01T00:07:00Z", "2026-01-01T00:09:00Z"},
      {"5-10/2 * * * *", "2026-01-01T00:09:00Z", "2026-01-01T01:05:00Z"},
      {"0,30 8 * * *", "2026-01-01T08:00:00Z", "2026-01-01T08:30:00Z"},
      {"0 9-17/4 * * MON-FRI", "2026-01-02T13:00:00Z", "2026-01-02T17:00:00Z"},  // Friday
      {"0 9-17/4 * * MON-FRI", "2026-01-02T17:00:00Z", "2026-01-05T09:00:00Z"},  // -> Monday
      {"0 0 1 JAN,jul *", "2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z"},
      {"0 0 * * sun", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},
      {"0 0 * * 7", "2026-01-01T00:00:00Z", "2026-01-04T00:00:00Z"},  // 7 is Sunday too
      {"0 0 * * 5-7", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z"},
      {"30 * * * *", "2026-01-01T23:45:00Z", "2026-01-02T00:30:00Z"},
      {"15/20 * * * *", "2026-01-01T00:36:00Z", "2026-01-01T00:55:00Z"},
      // Month ends: a day that some months lack is skipped in those months.
      {"0 0 31 * *", "2026-01-31T00:00:00Z", "2026-03-31T00:00:00Z"},
      {"0 0 31 * *", "2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"},
      {"0 12 30 * *", "2026-01-30T12:00:00Z", "2026-03-30T12:00:00Z"},
      {"59 23 28-31 2 *", "2026-02-28T23:59:00Z", "2027-02-28T23:59:00Z"},
      {"59 23 28-31 2 *", "2028-02-28T23:59:00Z", "2028-02-29T23:59:00Z"},
      // Feb 29 exists only in leap years; 2100 is not one (divisible by 100, not by 400).
      {"0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
      {"0 0 29 2 *", "2096-02-29T00:00:00Z", "2104-02-29T00:00:00Z"},
      {"0 0 29 2 *", "1999-01-01T00:00:00Z", "2000-02-29T00:00:00Z"},  // 2000 is a leap year
      // Vixie's rule: day-of-month and day-of-week both restricted -> either matches.
      {"0 0 13 * 5", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},  // Friday the 2nd
      {"0 0 13 * 5", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z"},  // Tuesday the 13th
      {"0 0 13 * 5", "2026-01-13T00:00:00Z", "2026-01-16T00:00:00Z"},  // Friday the 16th
      // ... and so is a step such as "*/2" (croniter, Airflow; Vixie cron intersects here):
      // an odd day or a Monday. More in tests/data/cron/day_rule.txt.
      {"0 0 */2 * 1", "2026-01-01T00:00:00Z", "2026-01-03T00:00:00Z"},
      {"0 0 */2 * 1", "2026-01-05T00:00:00Z", "2026-01-07T00:00:00Z"},
      // Only a literal "*" is unrestricted: both must match, every Monday.
      {"0 0 * * 1", "2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z"},
      // Presets.
      {"@hourly", "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z"},
      {"@daily", "2026-01-01T10:00:00Z", "2026-01-02T00:00:00Z"},
      {"@weekly", "2026-01-01T10:00:00Z", "2026-01-04T00:00:00Z"},  // Sunday
      {"@monthly", "2026-01-31T10:00:00Z", "2026-02-01T00:00:00Z"},
      {"@yearly", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z"},
      {"@annually", "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"},
      // Before the unix epoch.
      {"0 0 * * *", "1969-12-31T12:00:00Z", "1970-01-01T00:00:00Z"},
  };
  for (const NextCase& c : cases) {
    EXPECT_EQ(NextAfter(c.schedule, c.after), c.want) << c.schedule << " after " << c.after;
  }
}

TEST(ScheduleTest, PrevOrEqualFireTimes) {
  const NextCase cases[] = {
      {"*/15 * * * *", "2026-01-01T00:15:00Z", "2026-01-01T00:15:00Z"},  // at or before
      {"*/15 * * * *", "2026-01-01T00:14:59.999Z", "2026-01-01T00:00:00Z"},
      {"*/15 * * * *", "2026-01-01T00:00:30Z", "2026-01-01T00:00:00Z"},
      {"0 0 1 1 *", "2026-06-01T00:00:00Z", "2026-01-01T00:00:00Z"},
      {"0 0 1 1 *", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"},
      {"0 0 31 * *", "2026-05-01T00:00:00Z", "2026-03-31T00:00:00Z"},
      {"0 0 29 2 *", "2028-02-28T00:00:00Z", "2024-02-29T00:00:00Z"},
      {"0 0 29 2 *", "2104-01-01T00:00:00Z", "2096-02-29T00:00:00Z"},
      {"0 0 13 * 5", "2026-01-15T00:00:00Z", "2026-01-13T00:00:00Z"},
      {"30 2 * * *", "2026-01-01T02:29:00Z", "2025-12-31T02:30:00Z"},
      {"0 0 * * *", "1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"},
      {"0 0 * * *", "1969-12-31T23:59:00Z", "1969-12-31T00:00:00Z"},
  };
  for (const NextCase& c : cases) {
    EXPECT_EQ(PrevAtOrBefore(c.schedule, c.after), c.want) << c.schedule << " at " << c.after;
  }
}

TEST(ScheduleTest, ImpossibleDatesNeverFire) {
  for (const char* spec : {"0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"}) {
    EXPECT_EQ(NextAfter(spec, "2026-01-01T00:00:00Z"), "none") << spec;
    EXPECT_EQ(PrevAtOrBefore(spec, "2026-01-01T00:00:00Z"), "none") << spec;
  }
  // With a restricted day-of-week too, the OR rule makes it fire on that weekday.
  EXPECT_EQ(NextAfter("0 0 31 2 MON", "2026-01-01T00:00:00Z"), "2026-02-02T00:00:00Z");
}

// The schedule is UTC, so daylight saving changes in any zone cannot move it: "0 2 * * *"
// fires at 02:00 UTC every day across the 2026 US (Mar 8, Nov 1) and EU (Mar 29, Oct 25)
// switch dates, exactly 24 hours apart.
TEST(ScheduleTest, DaylightSavingDoesNotShiftUtcSchedules) {
  Schedule s = S("0 2 * * *");
  Time t = T("2026-03-01T02:00:00Z");
  const Time end = T("2026-11-30T00:00:00Z");
  int fires = 0;
  for (std::optional<Time> next = s.Next(t); next && *next < end; next = s.Next(t)) {
    EXPECT_EQ(*next - t, Millis(24 * 3600 * 1000)) << FormatTime(*next);
    EXPECT_THAT(FormatTime(*next), HasSubstr("T02:00:00Z"));
    t = *next;
    ++fires;
  }
  EXPECT_EQ(fires, 273);  // Mar 2 .. Nov 29
  for (const char* day : {"2026-03-08", "2026-03-29", "2026-10-25", "2026-11-01"}) {
    const std::string midnight = std::string(day) + "T00:00:00Z";
    EXPECT_EQ(NextAfter("0 2 * * *", midnight.c_str()), std::string(day) + "T02:00:00Z");
  }
}

TEST(ScheduleTest, IntervalStartsAtTheFirstFireTimeAtOrAfter) {
  Schedule daily = S("@daily");
  EXPECT_EQ(daily.IntervalStartingAtOrAfter(T("2026-01-01T00:00:00Z")),
            (DataInterval{T("2026-01-01T00:00:00Z"), T("2026-01-02T00:00:00Z")}));
  EXPECT_EQ(daily.IntervalStartingAtOrAfter(T("2026-01-01T00:00:00.001Z")),
            (DataInterval{T("2026-01-02T00:00:00Z"), T("2026-01-03T00:00:00Z")}));
  Schedule month_end = S("0 0 31 * *");
  EXPECT_EQ(month_end.IntervalStartingAtOrAfter(T("2026-01-31T00:00:00Z")),
            (DataInterval{T("2026-01-31T00:00:00Z"), T("2026-03-31T00:00:00Z")}));
  EXPECT_EQ(S("0 0 31 2 *").IntervalStartingAtOrAfter(T("2026-01-01T00:00:00Z")), std::nullopt);
}

TEST(ScheduleTest, OnceHasNoFireTimes) {
  Schedule once = S("@once");
  EXPECT_TRUE(once.is_once());
  EXPECT_EQ(once.text(), "@once");
  EXPECT_EQ(once.Next(T("2026-01-01T00:00:00Z")), std::nullopt);
  EXPECT_EQ(once.PrevOrEqual(T("2026-01-01T00:00:00Z")), std::nullopt);
  EXPECT_EQ(once.IntervalStartingAtOrAfter(T("2026-01-01T00:00:00Z")), std::nullopt);
  EXPECT_FALSE(S("@daily").is_once());
}

TEST(ScheduleTest, KeepsTheTextAsWritten) {
  EXPECT_EQ(S(" 0 2 * * * ").text(), " 0 2 * * * ");
  EXPECT_EQ(NextAfter(" 0  2 *  * * ", "2026-01-01T00:00:00Z"), "2026-01-01T02:00:00Z");
}

struct ErrorCase {
  const char* schedule;
  const char* want;
};

TEST(ScheduleTest, ParseErrorsNameTheFieldAndTheText) {
  const ErrorCase cases[] = {
      {"0 25 * * *", "cron field 2 (hour): 25 is out of range 0-23 in schedule '0 25 * * *'"},
      {"60 * * * *", "cron field 1 (minute): 60 is out of range 0-59"},
      {"0 0 0 * *", "cron field 3 (day-of-month): 0 is out of range 1-31"},
      {"0 0 * 13 *", "cron field 4 (month): 13 is out of range 1-12"},
      {"0 0 * * 8", "cron field 5 (day-of-week): 8 is out of range 0-7"},
      {"0 0 * FOO *", "cron field 4 (month): 'FOO' is not a number 1-12 or a name JAN-DEC"},
      {"0 0 * * MONDAY", "cron field 5 (day-of-week): 'MONDAY' is not a number 0-7"},
      {"*/0 * * * *", "cron field 1 (minute): step must be at least 1"},
      {"*/x * * * *", "cron field 1 (minute): step 'x' is not a number"},
      {"0 5-3 * * *", "cron field 2 (hour): range 5-3 is backwards"},
      {"0 1,,2 * * *", "cron field 2 (hour): empty list item"},
      {"* * * *", "schedule '* * * *' has 4 fields; expected 5"},
      {"* * * * * *", "has 6 fields"},
      {"", "empty schedule"},
      {"@dayly", "unknown schedule preset '@dayly'; did you mean '@daily'?"},
      {"@every", "unknown schedule preset '@every'"},
  };
  for (const ErrorCase& c : cases) {
    Result<Schedule> s = Schedule::Parse(c.schedule);
    ASSERT_FALSE(s.ok()) << c.schedule;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(s.status().message(), HasSubstr(c.want)) << c.schedule;
  }
}

// Sparse schedules skip months and days, so even 400 years of "never" is quick.
TEST(ScheduleTest, SparseSchedulesAreCheap) {
  Schedule leap = S("0 0 29 2 *");
  Time t = T("2000-01-01T00:00:00Z");
  for (int i = 0; i < 1000; ++i) t = leap.Next(t).value_or(t);
  EXPECT_EQ(FormatDate(t).substr(5), "02-29");
  Schedule never = S("0 0 31 2 *");
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(never.Next(t), std::nullopt);
}

struct DurationCase {
  const char* text;
  int64_t millis;
};

TEST(DurationTest, ParsesUnitsAndPlainSeconds) {
  const DurationCase cases[] = {
      {"250ms", 250},
      {"30s", 30'000},
      {"5m", 300'000},
      {"1h30m", 5'400'000},
      {"2d", 172'800'000},
      {"90", 90'000},
      {"0", 0},
      {"0s", 0},
      {" 10s ", 10'000},
      {"1d2h3m4s5ms", 93'784'005},
  };
  for (const DurationCase& c : cases) {
    Result<Millis> d = ParseDuration(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status();
    EXPECT_EQ(d->count(), c.millis) << c.text;
  }
}

TEST(DurationTest, RejectsBadDurationsWithAReason) {
  const ErrorCase cases[] = {
      {"", "it is empty"},
      {"   ", "it is empty"},
      {"-5s", "durations cannot be negative"},
      {"5x", "unknown unit 'x'"},
      {"5 minutes", "unexpected ' minutes'"},
      {"5min", "unknown unit 'min'"},
      {"1.5h", "unexpected '.5h'"},
      {"h", "expected a number at 'h'"},
      {"1h30", "the last number has no unit"},
      {"soon", "invalid duration 'soon'"},
      {"99999999999999999999d", "too large"},
  };
  for (const ErrorCase& c : cases) {
    Result<Millis> d = ParseDuration(c.schedule);
    ASSERT_FALSE(d.ok()) << c.schedule;
    EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(d.status().message(), AllOf(HasSubstr(c.want), HasSubstr("such as 30s, 5m, 1h30m")))
        << c.schedule;
  }
}

TEST(DurationTest, FormatsLargestUnitsFirst) {
  EXPECT_EQ(FormatDuration(Millis(0)), "0s");
  EXPECT_EQ(FormatDuration(Millis(250)), "250ms");
  EXPECT_EQ(FormatDuration(Millis(5'400'000)), "1h30m");
  EXPECT_EQ(FormatDuration(Millis(172'800'000)), "2d");
  EXPECT_EQ(FormatDuration(Millis(93'784'005)), "1d2h3m4s5ms");
  EXPECT_EQ(FormatDuration(Millis(-30'000)), "-30s");
  for (int64_t ms : {1LL, 999LL, 61'000LL, 3'600'001LL}) {
    EXPECT_EQ(ParseDuration(FormatDuration(Millis(ms)))->count(), ms);
  }
}

}  // namespace
}  // namespace sp::dag
