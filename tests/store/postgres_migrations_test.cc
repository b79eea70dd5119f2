// PostgreSQL schema migrations on a real PostgreSQL (label postgres): a current database is
// opened without the migration lock, so a process frozen inside its own migration transaction
// (holding that lock until PostgreSQL ends the transaction, a minute later) holds up no other
// connection.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include "store/pg_test_db.h"
#include "store/postgres/connection.h"
#include "store/postgres/migrations.h"

namespace sp::store::postgres {
namespace {

using ::sp::store::testing::PgTestDatabase;

TEST(PostgresMigrationsTest, ACurrentDatabaseOpensWhileAnotherSessionHoldsTheMigrationLock) {
  PgTestDatabase db;
  ASSERT_FALSE(db.url().empty());
  Result<std::unique_ptr<Connection>> first = OpenMigrated(db.url());
  ASSERT_TRUE(first.ok()) << first.status();
  Result<int> version = ReadSchemaVersion(**first);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, kLatestSchemaVersion);
  // A process stopped inside Migrate's transaction: the lock stays taken.
  ASSERT_TRUE((*first)->Begin().ok());
  ASSERT_TRUE((*first)
                  ->Exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLockKey) + ")")
                  .ok());
  const auto start = std::chrono::steady_clock::now();
  Result<std::unique_ptr<Connection>> second = OpenMigrated(db.url());
  // Before, this waited for the lock until lock_timeout (10 s) and failed.
  EXPECT_TRUE(second.ok()) << second.status() << " after "
                           << std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - start)
                                  .count()
                           << " ms";
  (*first)->RollBackIfOpen();
}

}  // namespace
}  // namespace sp::store::postgres
