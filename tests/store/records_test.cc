// Tests for the store's enum names (they are the on-disk and API format) and state predicates.
#include "store/records.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sp::store {
namespace {

TEST(RecordsTest, RunStateNamesRoundTrip) {
  const std::vector<std::pair<RunState, std::string>> cases = {
      {RunState::kQueued, "queued"},       {RunState::kRunning, "running"},
      {RunState::kSuccess, "success"},     {RunState::kFailed, "failed"},
      {RunState::kCancelled, "cancelled"},
  };
  for (const auto& [state, name] : cases) {
    EXPECT_EQ(RunStateName(state), name);
    EXPECT_EQ(ParseRunState(name), state) << name;
  }
}

TEST(RecordsTest, RunTypeNamesRoundTrip) {
  const std::vector<std::pair<RunType, std::string>> cases = {
      {RunType::kScheduled, "scheduled"},
      {RunType::kManual, "manual"},
      {RunType::kBackfill, "backfill"},
      {RunType::kTest, "test"},
  };
  for (const auto& [type, name] : cases) {
    EXPECT_EQ(RunTypeName(type), name);
    EXPECT_EQ(ParseRunType(name), type) << name;
  }
}

TEST(RecordsTest, TaskStateNamesRoundTrip) {
  const std::vector<std::pair<TaskState, std::string>> cases = {
      {TaskState::kNone, "none"},
      {TaskState::kScheduled, "scheduled"},
      {TaskState::kQueued, "queued"},
      {TaskState::kRunning, "running"},
      {TaskState::kSuccess, "success"},
      {TaskState::kFailed, "failed"},
      {TaskState::kUpForRetry, "up_for_retry"},
      {TaskState::kUpstreamFailed, "upstream_failed"},
      {TaskState::kSkipped, "skipped"},
  };
  for (const auto& [state, name] : cases) {
    EXPECT_EQ(TaskStateName(state), name);
    EXPECT_EQ(ParseTaskState(name), state) << name;
  }
}

TEST(RecordsTest, ParseRejectsUnknownAndDifferentlySpelledNames) {
  EXPECT_EQ(ParseRunState("Running"), std::nullopt);
  EXPECT_EQ(ParseRunState(""), std::nullopt);
  EXPECT_EQ(ParseRunState("none"), std::nullopt);
  EXPECT_EQ(ParseRunType("triggered"), std::nullopt);
  EXPECT_EQ(ParseTaskState("up-for-retry"), std::nullopt);
  EXPECT_EQ(ParseTaskState("upForRetry"), std::nullopt);
  EXPECT_EQ(ParseTaskState("cancelled"), std::nullopt);
}

TEST(RecordsTest, RunStatePredicates) {
  EXPECT_FALSE(IsTerminal(RunState::kQueued));
  EXPECT_FALSE(IsTerminal(RunState::kRunning));
  EXPECT_TRUE(IsTerminal(RunState::kSuccess));
  EXPECT_TRUE(IsTerminal(RunState::kFailed));
  EXPECT_TRUE(IsTerminal(RunState::kCancelled));
}

TEST(RecordsTest, TaskStatePredicates) {
  struct Case {
    TaskState state;
    bool terminal;
    bool active;
  };
  const std::vector<Case> cases = {
      {TaskState::kNone, false, false},       {TaskState::kScheduled, false, false},
      {TaskState::kQueued, false, true},      {TaskState::kRunning, false, true},
      {TaskState::kSuccess, true, false},     {TaskState::kFailed, true, false},
      {TaskState::kUpForRetry, false, false}, {TaskState::kUpstreamFailed, true, false},
      {TaskState::kSkipped, true, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(IsTerminal(c.state), c.terminal) << TaskStateName(c.state);
    EXPECT_EQ(IsActive(c.state), c.active) << TaskStateName(c.state);
  }
}

}  // namespace
}  // namespace sp::store
