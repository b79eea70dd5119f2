// Tests of the DAG model's small behaviours: locations, trigger rule names, retry delays and
// task lookups.
#include "dag/dag.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <tuple>

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
  EXPECT_EQ(p.DelayAfter(1, "k"), Millis(30'000));
  EXPECT_EQ(p.DelayAfter(7, "k"), Millis(30'000));
}

// Airflow 3's next_retry_datetime: base = ceil(delay * m^(try-1)) s (at least 1 s), then a
// per-try jitter within [base, 2*base), capped at 24 h and then at max_retry_delay.
TEST(RetryPolicyTest, ExponentialBackoffAsAirflowComputesIt) {
  RetryPolicy p;
  p.retry_delay = Millis(1'000);
  p.backoff_multiplier = 2;
  p.max_retry_delay = Millis(10'000);
  for (int attempt = 1; attempt <= 3; ++attempt) {
    const int64_t base = int64_t{1000} << (attempt - 1);
    for (const char* key : {"d#a#2026-01-01T00:00:00Z#1", "d#b#x#2", "other"}) {
      Millis delay = p.DelayAfter(attempt, key);
      EXPECT_GE(delay.count(), base) << attempt << " " << key;
      EXPECT_LT(delay.count(), 2 * base) << attempt << " " << key;
      EXPECT_EQ(delay.count() % 1000, 0);            // whole seconds, as in Airflow
      EXPECT_EQ(delay, p.DelayAfter(attempt, key));  // deterministic
    }
  }
  EXPECT_EQ(p.DelayAfter(5, "k"), Millis(10'000));     // 16 s..32 s capped by max_retry_delay
  EXPECT_EQ(p.DelayAfter(1000, "k"), Millis(10'000));  // no overflow
  EXPECT_GE(p.DelayAfter(0, "k"), Millis(1'000));      // treated as the first try
  p.max_retry_delay = Millis(100LL * 24 * 3600 * 1000);
  EXPECT_EQ(p.DelayAfter(200, "k"), Millis(24LL * 3600 * 1000));  // Airflow's 24 h ceiling
}

TEST(RetryPolicyTest, BackoffMultiplier) {
  RetryPolicy p;
  p.retry_delay = Millis(10'000);
  p.backoff_multiplier = 3;
  Millis third = p.DelayAfter(3, "k");  // base 90 s
  EXPECT_GE(third, Millis(90'000));
  EXPECT_LT(third, Millis(180'000));
  p.backoff_multiplier = 1;  // Airflow: a multiplier of 1 is no backoff (and no jitter)
  EXPECT_EQ(p.DelayAfter(3, "k"), Millis(10'000));
  p.backoff_multiplier = 0;
  EXPECT_EQ(p.DelayAfter(3, "k"), Millis(10'000));
}

// retry_delay: 0 retries at once without backoff (Airflow adds no delay either); with backoff
// Airflow's lower bound of one second applies.
TEST(RetryPolicyTest, ZeroDelay) {
  RetryPolicy p;
  EXPECT_EQ(p.DelayAfter(1, "k"), Millis(0));
  p.backoff_multiplier = 2;
  for (int attempt : {1, 2, 10}) {
    Millis d = p.DelayAfter(attempt, "k" + std::to_string(attempt));
    EXPECT_GE(d, Millis(1'000));
    EXPECT_LT(d, Millis(2'000));
  }
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

// A DAG from (id, role, depends_on) triples.
Dag Graph(const std::vector<std::tuple<std::string, TaskRole, std::vector<std::string>>>& spec) {
  Dag dag;
  for (const auto& [id, role, deps] : spec) {
    TaskSpec t;
    t.id = id;
    t.role = role;
    t.depends_on = deps;
    dag.tasks.push_back(std::move(t));
  }
  dag.Link();
  return dag;
}

constexpr TaskRole kNormal = TaskRole::kNormal;
constexpr TaskRole kSetup = TaskRole::kSetup;
constexpr TaskRole kTeardown = TaskRole::kTeardown;

// Issue 12: Airflow's setup scope (get_upstreams_only_setups): a setup counts for the tasks it
// reaches through another task that are upstream of one of its teardowns; not for its direct
// downstream (the trigger rule sees it), not for teardowns, not past its teardowns.
TEST(DagTest, Issue12IndirectSetupsFollowAirflowsSetupScope) {
  Dag dag = Graph({{"create", kSetup, {}},
                   {"submit", kNormal, {"create"}},
                   {"report", kNormal, {"submit"}},
                   {"both", kNormal, {"create", "submit"}},
                   {"delete", kTeardown, {"create", "report", "both"}},
                   {"after", kNormal, {"delete"}},
                   {"beside", kNormal, {"submit"}}});
  EXPECT_THAT(dag.IndirectSetups("submit"), IsEmpty());  // a direct downstream
  EXPECT_THAT(dag.IndirectSetups("report"), ElementsAre("create"));
  EXPECT_THAT(dag.IndirectSetups("both"), IsEmpty());    // direct as well as indirect
  EXPECT_THAT(dag.IndirectSetups("delete"), IsEmpty());  // a teardown
  EXPECT_THAT(dag.IndirectSetups("after"), IsEmpty());   // past the teardown
  EXPECT_THAT(dag.IndirectSetups("beside"), IsEmpty());  // not upstream of the teardown
  EXPECT_THAT(dag.IndirectSetupDependents("create"), ElementsAre("report"));
  EXPECT_THAT(dag.IndirectSetupDependents("submit"), IsEmpty());
}

TEST(DagTest, Issue12ASetupWithoutTeardownCountsForItsWholeDownstream) {
  Dag dag = Graph({{"outer", kSetup, {}},
                   {"inner", kSetup, {"outer"}},
                   {"work", kNormal, {"inner"}},
                   {"end", kNormal, {"work"}},
                   {"inner_down", kTeardown, {"inner", "work"}}});
  EXPECT_THAT(dag.IndirectSetups("inner"), IsEmpty());
  EXPECT_THAT(dag.IndirectSetups("work"), ElementsAre("outer"));
  EXPECT_THAT(dag.IndirectSetups("end"), ElementsAre("outer"));  // inner's scope ends at work
  EXPECT_THAT(dag.IndirectSetups("inner_down"), IsEmpty());
  EXPECT_THAT(dag.IndirectSetupDependents("outer"), ElementsAre("work", "end"));
}

}  // namespace
}  // namespace sp::dag
