// Tests of the dag module's calendar helpers: day counts, weekdays and date/time parsing.
#include "dag/internal/civil_time.h"

#include <gtest/gtest.h>

namespace sp::dag::internal {
namespace {

TEST(CivilTimeTest, DayCountsRoundTrip) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1) - DaysFromCivil(2000, 2, 28), 2);  // 2000 is leap
  EXPECT_EQ(DaysFromCivil(2100, 3, 1) - DaysFromCivil(2100, 2, 28), 1);  // 2100 is not
  for (int64_t d = -800'000; d <= 800'000; d += 997) {
    CivilDate c = CivilFromDays(d);
    EXPECT_EQ(DaysFromCivil(c.year, c.month, c.day), d);
  }
}

TEST(CivilTimeTest, WeekdaysAndMonthLengths) {
  EXPECT_EQ(WeekdayFromDays(0), 4);                            // Thursday
  EXPECT_EQ(WeekdayFromDays(DaysFromCivil(2026, 1, 4)), 0);    // Sunday
  EXPECT_EQ(WeekdayFromDays(DaysFromCivil(1969, 12, 28)), 0);  // Sunday, before the epoch
  EXPECT_EQ(DaysInMonth(2024, 2), 29);
  EXPECT_EQ(DaysInMonth(2026, 2), 28);
  EXPECT_EQ(DaysInMonth(2026, 4), 30);
  EXPECT_EQ(DaysInMonth(2026, 12), 31);
}

TEST(CivilTimeTest, ParsesDatesAndRfc3339Times) {
  auto ms = [](const char* text) {
    std::optional<Time> t = ParseDateTime(text);
    return t ? ToUnixMillis(*t) : int64_t{-1};
  };
  EXPECT_EQ(ms("1970-01-01"), 0);
  EXPECT_EQ(ms("1970-01-01T00:00:01Z"), 1000);
  EXPECT_EQ(ms("1970-01-01T00:00:01.25Z"), 1250);
  EXPECT_EQ(ms("1970-01-01 01:00:00"), 3'600'000);  // YAML's space form, UTC
  EXPECT_EQ(ms("1970-01-01T02:00:00+02:00"), 0);
  EXPECT_EQ(ms("1970-01-01T00:00:00-0130"), 5'400'000);
  EXPECT_EQ(ms("1970-01-01T00:00"), 0);
  EXPECT_EQ(FormatTime(*ParseDateTime("2026-02-28T23:59:59Z")), "2026-02-28T23:59:59Z");
}

TEST(CivilTimeTest, RejectsMalformedDates) {
  for (const char* bad : {"", "2026", "2026-1-01", "2026-13-01", "2026-02-29", "2026-01-01T",
                          "2026-01-01T24:00:00Z", "2026-01-01T10:00:00Q", "2026-01-01T10:00:00.Z",
                          "2026-01-01T10:00:00+2", "tomorrow", "2026-01-01Z"}) {
    EXPECT_EQ(ParseDateTime(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace sp::dag::internal
