// Tests SqliteStore under concurrent use (readers while a writer commits) and prints the latency
// of the scheduler's typical commit (one TaskInstance + one StateEvent). The timing is reported,
// not asserted: shared CI machines are too noisy for a threshold.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/sqlite_store.h"
#include "store/store_test_util.h"

// RunFilter is written with designated initializers ({.only_active = true}); GCC 12 warns about
// the members left to their defaults, which is the point of those defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace sp::store {
namespace {

using ::sp::store::testing::Event;
using ::sp::store::testing::FullRun;
using ::sp::store::testing::FullTaskInstance;
using ::sp::store::testing::TempDir;

TEST(SqliteConcurrencyTest, ReadsFromTwoThreadsWhileAThirdCommitsDoNotFail) {
  TempDir dir;
  Result<std::unique_ptr<Store>> opened = OpenSqliteStore(dir.File("concurrent.db"));
  ASSERT_TRUE(opened.ok()) << opened.status();
  Store& store = **opened;

  constexpr int kRuns = 200;
  std::atomic<bool> done{false};
  std::atomic<int> read_failures{0};
  std::atomic<int> reads{0};
  std::atomic<int> torn_reads{0};

  auto reader = [&] {
    while (!done.load()) {
      Result<std::vector<DagRun>> active = store.ListRuns({.only_active = true, .limit = 0});
      if (!active.ok()) {
        ADD_FAILURE() << active.status();
        read_failures.fetch_add(1);
      }
      for (const DagRun& run : active.value_or({})) {
        // Each commit writes a run with its two task instances: never see one without the other.
        Result<std::vector<TaskInstance>> tis = store.ListTaskInstances(run.id);
        if (!tis.ok()) {
          ADD_FAILURE() << tis.status();
          read_failures.fetch_add(1);
        } else if (tis->size() != 2) {
          torn_reads.fetch_add(1);
        }
      }
      if (!store.MaxRunId().ok()) read_failures.fetch_add(1);
      reads.fetch_add(1);
    }
  };
  std::thread r1(reader);
  std::thread r2(reader);

  std::thread writer([&] {
    for (int i = 1; i <= kRuns; ++i) {
      Mutation m;
      m.runs = {FullRun(i, i % 2 == 0 ? "even" : "odd", RunState::kRunning)};
      m.task_instances = {FullTaskInstance(i, "a"), FullTaskInstance(i, "b")};
      m.events = {Event(i, "", "queued", "running", i)};
      Status s = store.Commit(m);
      EXPECT_TRUE(s.ok()) << s;
    }
  });
  writer.join();
  // Let the readers see the final state at least once more.
  int reads_at_end = reads.load();
  while (reads.load() < reads_at_end + 2) std::this_thread::yield();
  done.store(true);
  r1.join();
  r2.join();

  EXPECT_EQ(read_failures.load(), 0);
  EXPECT_EQ(torn_reads.load(), 0);
  Result<std::vector<DagRun>> all = store.ListRuns({.limit = 0});
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), static_cast<size_t>(kRuns));
}

TEST(SqliteConcurrencyTest, ReportsCommitLatencyOfOneTaskInstancePlusOneEvent) {
  TempDir dir;
  Result<std::unique_ptr<Store>> opened = OpenSqliteStore(dir.File("latency.db"));
  ASSERT_TRUE(opened.ok()) << opened.status();
  Store& store = **opened;
  Mutation setup;
  setup.runs = {FullRun(1, "etl", RunState::kRunning)};
  ASSERT_TRUE(store.Commit(setup).ok());

  constexpr int kCommits = 2000;
  std::vector<double> micros;
  micros.reserve(kCommits);
  for (int i = 0; i < kCommits; ++i) {
    Mutation m;
    TaskInstance ti = FullTaskInstance(1, "task_" + std::to_string(i % 50));
    ti.try_number = i;
    m.task_instances = {ti};
    m.events = {Event(1, ti.task_id, "queued", "running", i)};
    auto start = std::chrono::steady_clock::now();
    Status s = store.Commit(m);
    auto end = std::chrono::steady_clock::now();
    ASSERT_TRUE(s.ok()) << s;
    micros.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  std::sort(micros.begin(), micros.end());
  double sum = 0;
  for (double us : micros) sum += us;
  std::printf(
      "[ timing   ] commit(1 task instance + 1 event), %d commits: mean %.1f us, p50 %.1f us, "
      "p90 %.1f us, p99 %.1f us, max %.1f us\n",
      kCommits, sum / kCommits, micros[kCommits / 2], micros[kCommits * 9 / 10],
      micros[kCommits * 99 / 100], micros.back());
  RecordProperty("commit_p50_us", std::to_string(micros[kCommits / 2]));
  RecordProperty("commit_p99_us", std::to_string(micros[kCommits * 99 / 100]));
}

}  // namespace
}  // namespace sp::store
