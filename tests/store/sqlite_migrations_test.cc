// Tests for the SQLite store's schema versioning, durability across reopen, connection settings
// and the mapping of SQLite errors to Status codes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>

#include "store/sqlite/connection.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store_test_util.h"

namespace sp::store {
namespace {

using ::sp::store::sqlite::kLatestSchemaVersion;
using ::sp::store::testing::ExecRaw;
using ::sp::store::testing::Fields;
using ::sp::store::testing::FullDag;
using ::sp::store::testing::FullRun;
using ::sp::store::testing::FullTaskInstance;
using ::sp::store::testing::QueryRawInt;
using ::sp::store::testing::StatusIs;
using ::sp::store::testing::TempDir;
using ::testing::HasSubstr;

TEST(SqliteMigrationsTest, StepsAreNumberedOneToLatest) {
  std::span<const sqlite::Migration> steps = sqlite::Migrations();
  ASSERT_EQ(static_cast<int>(steps.size()), kLatestSchemaVersion);
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].version, static_cast<int>(i) + 1);
    EXPECT_STRNE(steps[i].summary, "");
  }
}

TEST(SqliteMigrationsTest, FreshDatabaseGetsTheLatestVersionInWalMode) {
  TempDir dir;
  std::string path = dir.File("fresh.db");
  {
    Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    Result<int> version = (*store)->SchemaVersion();
    ASSERT_TRUE(version.ok()) << version.status();
    EXPECT_EQ(*version, kLatestSchemaVersion);
  }
  EXPECT_EQ(QueryRawInt(path, "PRAGMA user_version"), kLatestSchemaVersion);
  // WAL mode is persistent in the file; journal_mode answers "wal" as text, so compare that way.
  EXPECT_EQ(QueryRawInt(path, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode='wal'"),
            1);
  EXPECT_EQ(QueryRawInt(path,
                        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
                        "('dags','dag_runs','task_instances','state_events','clusters',"
                        "'connections')"),
            6);
}

TEST(SqliteMigrationsTest, ReopeningKeepsDataAndVersion) {
  TempDir dir;
  std::string path = dir.File("keep.db");
  Mutation m;
  m.dags = {FullDag("etl")};
  m.runs = {FullRun(5, "etl", RunState::kRunning)};
  m.task_instances = {FullTaskInstance(5, "t")};
  {
    Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Commit(m).ok());
  }  // destroyed: the connection closes

  for (int reopen = 0; reopen < 2; ++reopen) {
    Result<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
    ASSERT_TRUE(store.ok()) << store.status();
    Result<int> version = (*store)->SchemaVersion();
    ASSERT_TRUE(version.ok()) << version.status();
    EXPECT_EQ(*version, kLatestSchemaVersion);
    Result<std::optional<DagRecord>> dag = (*store)->GetDag("etl");
    ASSERT_TRUE(dag.ok()) << dag.status();
    ASSERT_TRUE(dag->has_value());
    EXPECT_EQ(Fields(**dag), Fields(m.dags[0]));
    Result<std::optional<DagRun>> run = (*store)->GetRun(5);
    ASSERT_TRUE(run.ok()) << run.status();
    ASSERT_TRUE(run->has_value());
    EXPECT_EQ(Fields(**run), Fields(m.runs[0]));
    Result<std::vector<TaskInstance>> tis = (*store)->ListTaskInstances(5);
    ASSERT_TRUE(tis.ok()) << tis.status();
    ASSERT_EQ(tis->size(), 1u);
    EXPECT_EQ(Fields((*tis)[0]), Fields(m.task_instances[0]));
    Result<int64_t> max = (*store)->MaxRunId();
    ASSERT_TRUE(max.ok()) << max.status();
    EXPECT_EQ(*max, 5);
  }
}

TEST(SqliteMigrationsTest, DataCommittedIsReadableByAnotherConnectionBeforeClose) {
  TempDir dir;
  std::string path = dir.File("wal.db");
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  ASSERT_TRUE(store.ok()) << store.status();
  Mutation m;
  m.runs = {FullRun(1, "etl", RunState::kQueued)};
  ASSERT_TRUE((*store)->Commit(m).ok());
  // Another process (here: a second connection) sees the commit while the store is still open.
  EXPECT_EQ(QueryRawInt(path, "SELECT count(*) FROM dag_runs"), 1);
}

TEST(SqliteMigrationsTest, DatabaseFromANewerSparkplaneIsRefused) {
  TempDir dir;
  std::string path = dir.File("newer.db");
  {
    Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  int newer = kLatestSchemaVersion + 1;
  ExecRaw(path, "PRAGMA user_version = " + std::to_string(newer));

  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path);
  EXPECT_THAT(store.status(),
              StatusIs(StatusCode::kFailedPrecondition,
                       HasSubstr("database schema version " + std::to_string(newer) +
                                 " is newer than this sparkplane (" +
                                 std::to_string(kLatestSchemaVersion) + ")")));
  EXPECT_THAT(store.status().message(), HasSubstr(path));
  // Refusing must not touch the file.
  EXPECT_EQ(QueryRawInt(path, "PRAGMA user_version"), newer);
}

TEST(SqliteMigrationsTest, FileThatIsNotADatabaseIsAFailedPrecondition) {
  TempDir dir;
  std::string path = dir.File("garbage.db");
  std::ofstream(path) << std::string(4096, 'x');
  EXPECT_THAT(OpenSqliteStore(path).status(),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("garbage.db")));
}

TEST(SqliteMigrationsTest, MissingDirectoryIsAFailedPrecondition) {
  TempDir dir;
  std::string path = dir.File("no/such/dir/x.db");
  EXPECT_THAT(OpenSqliteStore(path).status(),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("cannot open database")));
}

// Synthetic steps for testing the upgrade machinery itself, independent of the real schema.
constexpr sqlite::Migration kStepOne = {1, "create t", "CREATE TABLE t (x INTEGER);"};
constexpr sqlite::Migration kStepTwo = {2, "add t.y",
                                        "ALTER TABLE t ADD COLUMN y INTEGER DEFAULT 7;"};
constexpr sqlite::Migration kBrokenStepTwo = {
    2, "add t.z then fail", "ALTER TABLE t ADD COLUMN z INTEGER; SELECT * FROM no_such_table;"};

std::unique_ptr<sqlite::Connection> MustConnect(const std::string& path) {
  Result<std::unique_ptr<sqlite::Connection>> conn = sqlite::Connection::Open(path);
  EXPECT_TRUE(conn.ok()) << conn.status();
  return conn.ok() ? std::move(conn).value() : nullptr;
}

TEST(SqliteMigrationsTest, UpgradesAnOlderDatabaseStepByStepKeepingData) {
  TempDir dir;
  std::string path = dir.File("upgrade.db");
  std::unique_ptr<sqlite::Connection> conn = MustConnect(path);
  ASSERT_NE(conn, nullptr);
  const sqlite::Migration v1[] = {kStepOne};
  ASSERT_TRUE(sqlite::Migrate(*conn, v1).ok());
  ASSERT_TRUE(conn->Exec("INSERT INTO t (x) VALUES (1)").ok());

  const sqlite::Migration v2[] = {kStepOne, kStepTwo};
  Status s = sqlite::Migrate(*conn, v2);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(*sqlite::ReadSchemaVersion(*conn), 2);
  Result<int64_t> y = conn->QueryInt("SELECT y FROM t WHERE x = 1");
  ASSERT_TRUE(y.ok()) << y.status();
  EXPECT_EQ(*y, 7);

  // Migrating again is a no-op.
  ASSERT_TRUE(sqlite::Migrate(*conn, v2).ok());
  EXPECT_EQ(*sqlite::ReadSchemaVersion(*conn), 2);
}

TEST(SqliteMigrationsTest, FailingStepRollsBackToTheLastWholeVersion) {
  TempDir dir;
  std::string path = dir.File("broken.db");
  std::unique_ptr<sqlite::Connection> conn = MustConnect(path);
  ASSERT_NE(conn, nullptr);
  const sqlite::Migration broken[] = {kStepOne, kBrokenStepTwo};
  EXPECT_THAT(sqlite::Migrate(*conn, broken),
              StatusIs(StatusCode::kInternal,
                       AllOf(HasSubstr("schema migration to version 2 (add t.z then fail)"),
                             HasSubstr("no_such_table"))));
  EXPECT_FALSE(conn->InTransaction());
  EXPECT_EQ(*sqlite::ReadSchemaVersion(*conn), 1);
  EXPECT_EQ(*conn->QueryInt("SELECT count(*) FROM pragma_table_info('t') WHERE name = 'z'"), 0);
}

TEST(SqliteMigrationsTest, StepsOutOfOrderAreAnInternalError) {
  TempDir dir;
  std::unique_ptr<sqlite::Connection> conn = MustConnect(dir.File("order.db"));
  ASSERT_NE(conn, nullptr);
  const sqlite::Migration misnumbered[] = {kStepTwo};
  EXPECT_THAT(sqlite::Migrate(*conn, misnumbered),
              StatusIs(StatusCode::kInternal, HasSubstr("out of order")));
  EXPECT_EQ(*sqlite::ReadSchemaVersion(*conn), 0);
}

TEST(SqliteErrorMappingTest, CodesCarryTheirRetryMeaning) {
  using sqlite::StatusFromSqlite;
  EXPECT_TRUE(StatusFromSqlite(SQLITE_OK, "").ok());
  EXPECT_THAT(StatusFromSqlite(SQLITE_BUSY, "database is locked"),
              StatusIs(StatusCode::kAborted, HasSubstr("database is locked")));
  EXPECT_THAT(StatusFromSqlite(SQLITE_BUSY_SNAPSHOT, "x"),
              StatusIs(StatusCode::kAborted, HasSubstr("retry")));
  EXPECT_THAT(StatusFromSqlite(SQLITE_LOCKED, "x"),
              StatusIs(StatusCode::kAborted, HasSubstr("busy")));
  EXPECT_THAT(StatusFromSqlite(SQLITE_CONSTRAINT_UNIQUE, "UNIQUE constraint failed"),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("UNIQUE")));
  EXPECT_THAT(StatusFromSqlite(SQLITE_CONSTRAINT_FOREIGNKEY, "FOREIGN KEY constraint failed"),
              StatusIs(StatusCode::kInternal, HasSubstr("FOREIGN KEY")));
  EXPECT_THAT(StatusFromSqlite(SQLITE_NOTADB, "file is not a database"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("not a database")));
  EXPECT_THAT(StatusFromSqlite(SQLITE_CORRUPT, "malformed"),
              StatusIs(StatusCode::kInternal, HasSubstr("malformed")));
}

}  // namespace
}  // namespace sp::store
