// Tests of OrderedParallelFor, the few-threads loop DagFolder parses changed files with: every
// item runs once, completion is reported in index order on the calling thread whatever order the
// items finish in, and an item's exception reaches the caller after the threads are joined.
#include "dag/internal/ordered_parallel_for.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <numeric>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace sp::dag::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

std::vector<int> Iota(int n) {
  std::vector<int> v(n);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

TEST(OrderedParallelForTest, OneThreadRunsInOrderOnTheCaller) {
  std::vector<std::string> log;
  const std::thread::id caller = std::this_thread::get_id();
  OrderedParallelFor(
      3, 1,
      [&](int i) {
        EXPECT_EQ(std::this_thread::get_id(), caller);
        log.push_back("work " + std::to_string(i));
      },
      [&](int i) { log.push_back("done " + std::to_string(i)); });
  EXPECT_THAT(log, ElementsAre("work 0", "done 0", "work 1", "done 1", "work 2", "done 2"));
}

TEST(OrderedParallelForTest, NothingToDo) {
  bool called = false;
  OrderedParallelFor(
      0, 4, [&](int) { called = true; }, [&](int) { called = true; });
  EXPECT_FALSE(called);
}

TEST(OrderedParallelForTest, ReportsInIndexOrderWhenItemsFinishOutOfOrder) {
  // Item 0 waits until the last item has run, so it finishes after it; done() still starts at 0.
  constexpr int kCount = 40;
  std::mutex mu;
  std::condition_variable cv;
  bool last_ran = false, timed_out = false;
  std::vector<int> finish_order;
  std::set<std::thread::id> workers;
  std::vector<int> results(kCount, -1);
  std::vector<int> reported;
  const std::thread::id caller = std::this_thread::get_id();

  OrderedParallelFor(
      kCount, 4,
      [&](int i) {
        std::unique_lock<std::mutex> lock(mu);
        workers.insert(std::this_thread::get_id());
        if (i == 0 && !cv.wait_for(lock, std::chrono::seconds(30), [&] { return last_ran; })) {
          timed_out = true;
        }
        if (i == kCount - 1) last_ran = true;
        cv.notify_all();
        results[i] = i * i;
        finish_order.push_back(i);
      },
      [&](int i) {
        EXPECT_EQ(std::this_thread::get_id(), caller);
        EXPECT_EQ(results[i], i * i);  // the item's writes are visible to done()
        reported.push_back(i);
      });

  EXPECT_FALSE(timed_out);
  const auto pos = [&](int i) {
    return std::find(finish_order.begin(), finish_order.end(), i) - finish_order.begin();
  };
  EXPECT_LT(pos(kCount - 1), pos(0));
  EXPECT_GT(workers.size(), 1u);
  EXPECT_THAT(reported, ElementsAreArray(Iota(kCount)));
}

TEST(OrderedParallelForTest, RethrowsTheLowestIndexAndReportsOnlyWhatCameBefore) {
  std::vector<int> reported;
  try {
    OrderedParallelFor(
        100, 4,
        [&](int i) {
          if (i == 10) throw std::runtime_error("item 10");
        },
        [&](int i) { reported.push_back(i); });
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "item 10");
  }
  EXPECT_THAT(reported, ElementsAreArray(Iota(10)));
}

TEST(OrderedParallelForTest, ExceptionFromDonePropagatesAfterTheThreadsJoin) {
  std::atomic<int> running{0};
  std::vector<int> reported;
  EXPECT_THROW(OrderedParallelFor(
                   1000, 3,
                   [&](int) {
                     ++running;
                     --running;
                   },
                   [&](int i) {
                     reported.push_back(i);
                     if (i == 2) throw std::runtime_error("observer");
                   }),
               std::runtime_error);
  EXPECT_EQ(running.load(), 0);
  EXPECT_THAT(reported, ElementsAre(0, 1, 2));
}

TEST(OrderedParallelForTest, WithoutDoneEveryItemRunsOnce) {
  std::vector<std::atomic<int>> runs(500);
  OrderedParallelFor(
      500, 8, [&](int i) { ++runs[i]; }, nullptr);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(runs[i].load(), 1) << i;
}

}  // namespace
}  // namespace sp::dag::internal
