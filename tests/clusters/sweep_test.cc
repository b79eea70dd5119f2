// The decisions of `sparkplane cluster sweep` (clusters/sweep.h) per parent: deadline, idle
// timeout with the last-busy mark, a master that cannot be asked. The sweep against a real API
// server is in tests/integration/k8s/spark_cluster_k8s_test.cc (SweepK8sTest).
#include "clusters/sweep.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sp::clusters {
namespace {

using ::testing::HasSubstr;

const Time kNow = FromUnixMillis(1795676212000);  // 2026-11-26T06:56:52Z

k8s::ManagedCluster Parent() {
  k8s::ManagedCluster c;
  c.name = "etl";
  c.parent = "sparkplane-cluster-etl";
  return c;
}

TEST(SweepTest, APassedDeadlineExpiresTheClusterWhateverItRuns) {
  k8s::ManagedCluster c = Parent();
  c.deadline = kNow - Millis(1);
  c.idle_timeout = Millis(60000);
  SweepDecision d = DecideSweep(c, kNow, 3);
  EXPECT_TRUE(d.expired);
  EXPECT_EQ(d.reason, "its deadline 2026-11-26T06:56:51.999Z has passed");
  EXPECT_FALSE(d.mark_busy);
  c.deadline = kNow;
  EXPECT_TRUE(DecideSweep(c, kNow, std::nullopt).expired);
}

TEST(SweepTest, AFutureDeadlineOrNoneKeepsTheCluster) {
  k8s::ManagedCluster c = Parent();
  EXPECT_FALSE(DecideSweep(c, kNow, std::nullopt).expired);
  c.deadline = kNow + Millis(1);
  SweepDecision d = DecideSweep(c, kNow, 0);
  EXPECT_FALSE(d.expired);
  EXPECT_EQ(d.reason, "");
  EXPECT_FALSE(d.mark_busy) << "no idle timeout: nothing to mark";
}

TEST(SweepTest, ABeingDeletedParentIsLeftToTheGarbageCollector) {
  k8s::ManagedCluster c = Parent();
  c.deadline = kNow - Millis(60000);
  c.deleting = true;
  EXPECT_FALSE(DecideSweep(c, kNow, std::nullopt).expired);
}

TEST(SweepTest, TheIdleClockStartsWhenTheMasterFirstAnswersAndRestartsWhenBusy) {
  k8s::ManagedCluster c = Parent();
  c.idle_timeout = Millis(30000);
  // First answer, no application: mark now, keep.
  SweepDecision first = DecideSweep(c, kNow, 0);
  EXPECT_FALSE(first.expired);
  ASSERT_TRUE(first.mark_busy);
  EXPECT_EQ(*first.mark_busy, kNow);
  // Busy: the mark moves to now, however old it was.
  c.last_busy = kNow - Millis(3600000);
  SweepDecision busy = DecideSweep(c, kNow, 2);
  EXPECT_FALSE(busy.expired);
  ASSERT_TRUE(busy.mark_busy);
  EXPECT_EQ(*busy.mark_busy, kNow);
}

TEST(SweepTest, IdleForTheTimeoutSinceTheMarkExpiresTheCluster) {
  k8s::ManagedCluster c = Parent();
  c.idle_timeout = Millis(30000);
  c.last_busy = kNow - Millis(29999);
  SweepDecision young = DecideSweep(c, kNow, 0);
  EXPECT_FALSE(young.expired);
  EXPECT_FALSE(young.mark_busy) << "the mark stays where idleness began";
  c.last_busy = kNow - Millis(30000);
  SweepDecision d = DecideSweep(c, kNow, 0);
  EXPECT_TRUE(d.expired);
  EXPECT_THAT(d.reason, HasSubstr("has run no application since 2026-11-26T06:56:22Z"));
  EXPECT_THAT(d.reason, HasSubstr("idle timeout 30s"));
}

TEST(SweepTest, AMasterThatCannotBeAskedChangesNothing) {
  k8s::ManagedCluster c = Parent();
  c.idle_timeout = Millis(30000);
  c.last_busy = kNow - Millis(3600000);
  SweepDecision d = DecideSweep(c, kNow, std::nullopt);
  EXPECT_FALSE(d.expired);
  EXPECT_FALSE(d.mark_busy);
}

TEST(SweepTest, AReportIsOkOnlyWhenEveryDeleteWas) {
  SweepReport r;
  EXPECT_TRUE(r.ok());
  r.expired.push_back({"a", "sparkplane-cluster-a", "its deadline ... has passed", OkStatus()});
  EXPECT_TRUE(r.ok());
  r.expired.push_back({"b", "sparkplane-cluster-b", "...", UnavailableError("API down")});
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace sp::clusters
