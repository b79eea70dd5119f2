// Regression tests for bugs the fuzzers in tests/fuzz/ found in the dag module (cron schedules,
// durations, dates). Each names the fuzz target and the reproducer kept in
// tests/fuzz/regressions/<target>/, which the fuzz runs replay as well.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

#include "dag/cron.h"
#include "dag/internal/civil_time.h"

namespace sp::dag {
namespace {

Time T(const char* text) {
  std::optional<Time> t = internal::ParseDateTime(text);
  EXPECT_TRUE(t.has_value()) << text;
  return t.value_or(Time());
}

// duration_fuzz, regressions/duration/format-int64-min: negating the most negative value
// overflowed, and the result was "-".
TEST(FuzzRegressionsTest, FormatDurationOfTheMostNegativeValue) {
  EXPECT_EQ(FormatDuration(Millis(std::numeric_limits<int64_t>::min())),
            "-106751991167d7h12m55s808ms");
  EXPECT_EQ(FormatDuration(Millis(std::numeric_limits<int64_t>::max())),
            "106751991167d7h12m55s807ms");
  EXPECT_EQ(FormatDuration(Millis(-90'000)), "-1m30s");
}

// cron_fuzz, regressions/cron/step-overflow: "5/2147483647" overflowed `value += step` and
// then wrote far outside the field's bits.
TEST(FuzzRegressionsTest, HugeCronStepsMatchOnlyTheirStart) {
  Result<Schedule> s = Schedule::Parse("5/2147483647 1-3/2147483647 * * */2147483647");
  ASSERT_TRUE(s.ok()) << s.status();
  std::optional<Time> next = s->Next(T("2026-01-01T00:00:00Z"));
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(FormatTime(*next), "2026-01-04T01:05:00Z");  // the first Sunday, 01:05
  EXPECT_EQ(FormatTime(*s->Next(*next)), "2026-01-11T01:05:00Z");
}

}  // namespace
}  // namespace sp::dag
