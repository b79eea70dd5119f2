// Tests of the DAG model's small behaviours: locations, trigger rule names, retry delays and
// task lookups.
#include "dag/dag.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sp::dag {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(SourceLocationTest, OmitsUnknownParts) {
  EXPECT_EQ((SourceLocation{"dags/a.yaml", 12, 5}).ToString(), "dags/a.yaml:12:5");
  EXPECT_EQ((SourceLocation{"dags/a.yaml", 12, 0}).ToString(), "dags/a.yaml:12");
  EXPECT_EQ((SourceLocation{"dags/a.yaml", 0, 0}).ToString(), "dags/a.yaml");
  EXPECT_EQ((SourceLocation{"", 3, 1}).ToString(), "3:1");
  EXPECT_EQ(SourceLocation{}.ToString(), "");
}

TEST(TriggerRuleTest, NamesRoundTrip) {
  const std::vector<std::pair<TriggerRule, std::string>> cases = {
      {TriggerRule::kAllSuccess, "all_success"},   {TriggerRule::kAllFailed, "all_failed"},
      {TriggerRule::kAllDone, "all_done"},         {TriggerRule::kOneSuccess, "one_success"},
      {TriggerRule::kOneFailed, "one_failed"},     {TriggerRule::kNoneFailed, "none_failed"},
      {TriggerRule::kNoneSkipped, "none_skipped"},
  };
  for (const auto& [rule, name] : cases) {
    EXPECT_EQ(TriggerRuleName(rule), name);
    EXPECT_EQ(ParseTriggerRule(name), rule) << name;
  }
}

TEST(TriggerRuleTest, RejectsUnknownNames) {
  EXPECT_EQ(ParseTriggerRule("ALL_SUCCESS"), std::nullopt);
  EXPECT_EQ(ParseTriggerRule("all-success"), std::nullopt);
  EXPECT_EQ(ParseTriggerRule(""), std::nullopt);
}

TEST(RetryPolicyTest, FixedDelayIgnoresTryNumber) {
  RetryPolicy p;
  p.retry_delay = Millis(30'000);
  EXPECT_EQ(p.DelayAfter(1), Millis(30'000));
  EXPECT_EQ(p.DelayAfter(7), Millis(30'000));
}

TEST(RetryPolicyTest, ExponentialDoublesUntilTheCap) {
  RetryPolicy p;
  p.retry_delay = Millis(1'000);
  p.exponential_backoff = true;
  p.max_retry_delay = Millis(10'000);
  EXPECT_EQ(p.DelayAfter(1), Millis(1'000));
  EXPECT_EQ(p.DelayAfter(2), Millis(2'000));
  EXPECT_EQ(p.DelayAfter(3), Millis(4'000));
  EXPECT_EQ(p.DelayAfter(4), Millis(8'000));
  EXPECT_EQ(p.DelayAfter(5), Millis(10'000));
  EXPECT_EQ(p.DelayAfter(1000), Millis(10'000));  // no overflow
  EXPECT_EQ(p.DelayAfter(0), Millis(1'000));      // treated as the first try
}

TEST(RetryPolicyTest, ExponentialWithZeroDelayStaysZero) {
  RetryPolicy p;
  p.exponential_backoff = true;
  EXPECT_EQ(p.DelayAfter(10), Millis(0));
}

Dag Diamond() {
  Dag dag;
  for (const char* id : {"a", "b", "c", "d"}) {
    TaskSpec t;
    t.id = id;
    dag.tasks.push_back(std::move(t));
  }
  dag.tasks[1].depends_on = {"a"};
  dag.tasks[2].depends_on = {"a"};
  dag.tasks[3].depends_on = {"b", "c"};
  dag.Link();
  return dag;
}

TEST(DagTest, FindsTasksById) {
  Dag dag = Diamond();
  ASSERT_NE(dag.FindTask("c"), nullptr);
  EXPECT_EQ(dag.FindTask("c")->id, "c");
  EXPECT_EQ(dag.FindTask("zz"), nullptr);
}

TEST(DagTest, ListsDirectDownstreamsInTaskOrder) {
  Dag dag = Diamond();
  EXPECT_THAT(dag.Downstream("a"), ElementsAre("b", "c"));
  EXPECT_THAT(dag.Downstream("b"), ElementsAre("d"));
  EXPECT_THAT(dag.Downstream("d"), IsEmpty());
}

}  // namespace
}  // namespace sp::dag
