// Tests of the stable topological sort and cycle discovery used by the DAG loader.
#include "dag/internal/task_graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sp::dag::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(TaskGraphTest, KeepsFileOrderAmongReadyTasks) {
  // 0 <- 2, 1 <- 3, independent 4: ready order follows indexes.
  TaskOrder o = SortTasks({{}, {}, {0}, {1}, {}});
  EXPECT_THAT(o.order, ElementsAre(0, 1, 2, 3, 4));
  EXPECT_THAT(o.cycles, IsEmpty());
}

TEST(TaskGraphTest, PutsUpstreamsFirst) {
  // 0 depends on 2, 2 depends on 1.
  TaskOrder o = SortTasks({{2}, {}, {1}});
  EXPECT_THAT(o.order, ElementsAre(1, 2, 0));
}

TEST(TaskGraphTest, ReportsEachCycleOnceInRunOrder) {
  // 0 -> 1 -> 2 -> 0 (each depends on the previous), 3 downstream of the cycle,
  // 4 <-> 5 a second cycle, 6 free.
  TaskOrder o = SortTasks({{2}, {0}, {1}, {2}, {5}, {4}, {}});
  EXPECT_THAT(o.order, ElementsAre(6));
  EXPECT_THAT(o.cycles, ElementsAre(ElementsAre(0, 1, 2, 0), ElementsAre(4, 5, 4)));
}

TEST(TaskGraphTest, FindsACycleReachedThroughOtherTasks) {
  // 0 depends on 1, which is in the cycle 1 <-> 2.
  TaskOrder o = SortTasks({{1}, {2}, {1}});
  EXPECT_THAT(o.order, IsEmpty());
  EXPECT_THAT(o.cycles, ElementsAre(ElementsAre(1, 2, 1)));
}

TEST(TaskGraphTest, HandlesLongChains) {
  std::vector<std::vector<int>> upstreams(10'000);
  for (int i = 1; i < 10'000; ++i) upstreams[i] = {i - 1};
  EXPECT_EQ(SortTasks(upstreams).order.size(), 10'000u);
  upstreams[0] = {9'999};
  EXPECT_EQ(SortTasks(upstreams).cycles.at(0).size(), 10'001u);
}

}  // namespace
}  // namespace sp::dag::internal
