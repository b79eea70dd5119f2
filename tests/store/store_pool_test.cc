// StorePool: calls reach a real store, and concurrent readers each get a connection.
#include "store/store_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "store/open.h"

namespace sp::store {
namespace {

TEST(StorePoolTest, ReadsWhatAnotherConnectionCommittedFromManyThreads) {
  std::string path =
      (std::filesystem::temp_directory_path() / ("sp-pool-" + std::to_string(::getpid()) + ".db"))
          .string();
  for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
  auto writer = OpenSqliteStore(path);
  auto pool = OpenStorePool(path, 3);
  ASSERT_TRUE(writer.ok() && pool.ok());
  Mutation m;
  DagRun r;
  r.id = 7;
  r.dag_id = "d";
  r.run_id = "manual__1";
  m.new_runs.push_back(r);
  ASSERT_TRUE((*writer)->Commit(m).ok());
  std::atomic<int> found{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 8; ++t) {
    readers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto run = (*pool)->FindRun("d", "manual__1");
        if (run.ok() && run->has_value() && (*run)->id == 7) ++found;
      }
    });
  }
  for (auto& t : readers) t.join();
  EXPECT_EQ(found.load(), 400);
  EXPECT_EQ(*(*pool)->MaxRunId(), 7);
  for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
}

}  // namespace
}  // namespace sp::store
