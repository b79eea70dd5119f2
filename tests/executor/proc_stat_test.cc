// Parsing /proc/PID/stat, including command names with spaces and parentheses.
#include "executor/internal/proc_stat.h"

#include <unistd.h>

#include <gtest/gtest.h>

namespace sp::executor::internal {
namespace {

TEST(ProcStatTest, ParsesAfterTheLastParenthesis) {
  std::string text =
      "4242 (evil) S 1 2 (name) R 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
      "987654 1000 100\n";
  std::optional<ProcStat> stat = ParseProcStat(text);
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->state, 'R');
  EXPECT_EQ(stat->pgrp, 4242);
  EXPECT_EQ(stat->start_ticks, 987654u);
}

TEST(ProcStatTest, RejectsTruncatedText) {
  EXPECT_FALSE(ParseProcStat("12 (x) S 1 2 3").has_value());
  EXPECT_FALSE(ParseProcStat("no parenthesis").has_value());
}

TEST(ProcStatTest, ReadsOwnProcess) {
  std::optional<ProcStat> stat = ReadProcStat(::getpid());
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->state, 'R');
  EXPECT_GT(stat->start_ticks, 0u);
  EXPECT_FALSE(ReadProcStat(0).has_value());
}

}  // namespace
}  // namespace sp::executor::internal
