#include "common/clock.h"

#include <gtest/gtest.h>

namespace sp {
namespace {

TEST(ClockTest, FormatsUtc) {
  Time t = FromUnixMillis(1764140212000);  // 2025-11-26T06:56:52Z
  EXPECT_EQ(FormatTime(t), "2025-11-26T06:56:52Z");
  EXPECT_EQ(FormatTime(t + Millis(120)), "2025-11-26T06:56:52.120Z");
  EXPECT_EQ(FormatDate(t), "2025-11-26");
}

TEST(ClockTest, ManualClockAdvances) {
  ManualClock c(FromUnixMillis(0));
  c.Advance(Millis(1500));
  EXPECT_EQ(ToUnixMillis(c.Now()), 1500);
}

}  // namespace
}  // namespace sp
