// Tests for the Store's reads and writes on both SQL databases (store/internal/sql_store.h): round
// trips of every record type with optional fields set and unset, upserts, atomic commits, error
// codes, and the ListRuns filters. Each test runs on SQLite (label unit) and on PostgreSQL (label
// postgres, a server started by the CTest fixture), plus SQLite's own query-plan checks.
#include "store/internal/sql_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "store/open.h"
#include "store/pg_test_db.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "store/store_test_util.h"

// RunFilter is written with designated initializers ({.only_active = true}); GCC 12 warns about
// the members left to their defaults, which is the point of those defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace sp::store {
namespace {

using ::sp::store::testing::Event;
using ::sp::store::testing::ExecRaw;
using ::sp::store::testing::Fields;
using ::sp::store::testing::FullDag;
using ::sp::store::testing::FullRun;
using ::sp::store::testing::FullTaskInstance;
using ::sp::store::testing::PgTestDatabase;
using ::sp::store::testing::StatusIs;
using ::sp::store::testing::T;
using ::sp::store::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

using Backend = ::sp::store::testing::StoreBackend;

class SqlStoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::kSqlite) {
      location_ = dir_.File("sparkplane.db");
    } else {
      pg_ = std::make_unique<PgTestDatabase>();
      location_ = pg_->url();
      ASSERT_FALSE(location_.empty());
    }
    Result<std::unique_ptr<Store>> opened = OpenStore(location_);
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(opened).value();
  }

  // Commits `m`, failing the test (not aborting it) when the store refuses.
  void MustCommit(const Mutation& m) {
    Status s = store_->Commit(m);
    ASSERT_TRUE(s.ok()) << s;
  }

  void AddRuns(std::initializer_list<DagRun> runs) {
    Mutation m;
    m.runs = runs;
    MustCommit(m);
  }

  std::vector<int64_t> RunIds(const RunFilter& filter) {
    Result<std::vector<DagRun>> runs = store_->ListRuns(filter);
    EXPECT_TRUE(runs.ok()) << runs.status();
    std::vector<int64_t> ids;
    if (runs.ok()) {
      for (const DagRun& r : *runs) ids.push_back(r.id);
    }
    return ids;
  }

  // Runs `sql` on the database behind the store's back (to corrupt it).
  void ExecRawSql(const std::string& sql) {
    if (GetParam() == Backend::kSqlite) {
      ExecRaw(location_, sql);
    } else {
      EXPECT_TRUE(pg_->Exec(sql));
    }
  }

  TempDir dir_;
  std::unique_ptr<PgTestDatabase> pg_;
  std::string location_;
  std::unique_ptr<Store> store_;
};

INSTANTIATE_TEST_SUITE_P(Sqlite, SqlStoreTest, ::testing::Values(Backend::kSqlite));
INSTANTIATE_TEST_SUITE_P(Postgres, SqlStoreTest, ::testing::Values(Backend::kPostgres));

TEST_P(SqlStoreTest, DagRoundTripsWithOptionalFieldsSetAndUnset) {
  DagRecord full = FullDag("etl");
  DagRecord bare;
  bare.dag_id = "bare";
  Mutation m;
  m.dags = {full, bare};
  MustCommit(m);

  Result<std::optional<DagRecord>> got = store_->GetDag("etl");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(Fields(**got), Fields(full));

  Result<std::vector<DagRecord>> all = store_->ListDags();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(Fields((*all)[0]), Fields(bare));  // ordered by dag_id
  EXPECT_EQ((*all)[0].last_scheduled_logical_date, std::nullopt);
  EXPECT_EQ(Fields((*all)[1]), Fields(full));

  Result<std::optional<DagRecord>> missing = store_->GetDag("nope");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->has_value());
}

TEST_P(SqlStoreTest, RunRoundTripsWithOptionalFieldsSetAndUnset) {
  DagRun full = FullRun(7, "etl", RunState::kFailed);
  DagRun bare;
  bare.id = 8;
  bare.dag_id = "etl";
  bare.run_id = "manual__bare";
  DagRun null_conf = FullRun(9, "etl", RunState::kRunning);
  null_conf.conf = nullptr;
  AddRuns({full, bare, null_conf});

  Result<std::optional<DagRun>> got = store_->GetRun(7);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(Fields(**got), Fields(full));

  got = store_->GetRun(8);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(Fields(**got), Fields(bare));
  EXPECT_EQ((*got)->started_at, std::nullopt);
  EXPECT_EQ((*got)->ended_at, std::nullopt);
  EXPECT_EQ((*got)->conf, nlohmann::json::object());

  got = store_->GetRun(9);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_TRUE((*got)->conf.is_null());

  got = store_->GetRun(10);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->has_value());
}

TEST_P(SqlStoreTest, TaskInstanceRoundTripsWithOptionalFieldsSetAndUnset) {
  AddRuns({FullRun(1, "etl", RunState::kRunning)});
  TaskInstance full = FullTaskInstance(1, "load");
  TaskInstance bare;
  bare.run_id = 1;
  bare.task_id = "extract";
  Mutation m;
  m.task_instances = {full, bare};
  MustCommit(m);

  Result<std::vector<TaskInstance>> tis = store_->ListTaskInstances(1);
  ASSERT_TRUE(tis.ok()) << tis.status();
  ASSERT_EQ(tis->size(), 2u);
  EXPECT_EQ(Fields((*tis)[0]), Fields(bare));  // ordered by task_id
  EXPECT_TRUE((*tis)[0].handle.is_null());
  EXPECT_EQ((*tis)[0].exit_code, std::nullopt);
  EXPECT_EQ((*tis)[0].next_try_at, std::nullopt);
  EXPECT_EQ(Fields((*tis)[1]), Fields(full));

  Result<std::vector<TaskInstance>> other = store_->ListTaskInstances(2);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_THAT(*other, IsEmpty());
}

TEST_P(SqlStoreTest, OneTaskInstanceIsReadByRunAndTask) {
  AddRuns({FullRun(1, "etl", RunState::kRunning), FullRun(2, "etl", RunState::kRunning)});
  Mutation m;
  m.task_instances = {FullTaskInstance(1, "load"), FullTaskInstance(1, "extract"),
                      FullTaskInstance(2, "load")};
  m.task_instances[2].try_number = 7;
  MustCommit(m);
  Result<std::optional<TaskInstance>> got = store_->GetTaskInstance(1, "load");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(Fields(**got), Fields(FullTaskInstance(1, "load")));
  got = store_->GetTaskInstance(2, "load");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->try_number, 7);
  for (auto [run, task] : {std::pair{int64_t{1}, "transform"}, std::pair{int64_t{3}, "load"}}) {
    got = store_->GetTaskInstance(run, task);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_FALSE(got->has_value()) << run << "/" << task;
  }
}

TEST_P(SqlStoreTest, EventsAreAppendedAndListedInOrder) {
  AddRuns({FullRun(1, "etl", RunState::kRunning), FullRun(2, "etl", RunState::kRunning)});
  Mutation m;
  m.events = {Event(1, "", "queued", "running", 10), Event(1, "t", "none", "queued", 11),
              Event(2, "t", "none", "queued", 12)};
  MustCommit(m);
  Mutation again;
  again.events = {Event(1, "t", "none", "queued", 11)};  // an identical event is a new entry
  MustCommit(again);

  Result<std::vector<StateEvent>> events = store_->ListEvents(1);
  ASSERT_TRUE(events.ok()) << events.status();
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ(Fields((*events)[0]), Fields(m.events[0]));
  EXPECT_EQ(Fields((*events)[1]), Fields(m.events[1]));
  EXPECT_EQ(Fields((*events)[2]), Fields(m.events[1]));
}

TEST_P(SqlStoreTest, ClusterRoundTripsAndDeletedOnesAreHiddenByDefault) {
  ClusterRecord ready;
  ready.name = "spark-1";
  ready.backend = "kubernetes";
  ready.run_id = 5;
  ready.state = "ready";
  ready.handle = {{"namespace", "spark"}, {"pods", {"a", "b"}}};
  ready.created_at = T(1000);
  ClusterRecord deleted = ready;
  deleted.name = "spark-0";
  deleted.backend = "local";
  deleted.run_id = 0;
  deleted.state = "deleted";
  deleted.handle = nullptr;
  deleted.created_at = T(500);
  deleted.deleted_at = T(900);
  Mutation m;
  m.clusters = {ready, deleted};
  MustCommit(m);

  Result<std::vector<ClusterRecord>> live = store_->ListClusters(/*include_deleted=*/false);
  ASSERT_TRUE(live.ok()) << live.status();
  ASSERT_EQ(live->size(), 1u);
  EXPECT_EQ(Fields((*live)[0]), Fields(ready));
  EXPECT_EQ((*live)[0].deleted_at, std::nullopt);

  Result<std::vector<ClusterRecord>> all = store_->ListClusters(/*include_deleted=*/true);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(Fields((*all)[0]), Fields(deleted));  // ordered by created_at
  EXPECT_EQ(Fields((*all)[1]), Fields(ready));
}

TEST_P(SqlStoreTest, ConnectionRoundTripsIncludingBinarySealedFields) {
  ConnectionRecord full;
  full.conn_id = "warehouse";
  full.conn_type = "postgres";
  full.host = "db.internal";
  full.port = 5432;
  full.schema = "analytics";
  full.login = "etl";
  full.password_sealed = std::string("\x00\xff\x01sealed\x00", 10);
  full.extras = {{"sslmode", "require"}};
  full.extras_sealed = std::string("\x80\x81\x00", 3);
  full.created_by_run = 12;
  ConnectionRecord bare;
  bare.conn_id = "bare";
  Mutation m;
  m.connections = {full, bare};
  MustCommit(m);

  Result<std::optional<ConnectionRecord>> got = store_->GetConnection("warehouse");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ(Fields(**got), Fields(full));

  Result<std::vector<ConnectionRecord>> all = store_->ListConnections();
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ(Fields((*all)[0]), Fields(bare));
  EXPECT_EQ((*all)[0].password_sealed, "");
  EXPECT_EQ(Fields((*all)[1]), Fields(full));

  Mutation del;
  del.delete_connections = {"warehouse", "never-existed"};
  MustCommit(del);
  got = store_->GetConnection("warehouse");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_FALSE(got->has_value());
}

TEST_P(SqlStoreTest, UpsertsOverwriteByNaturalKey) {
  Mutation first;
  first.dags = {FullDag("etl")};
  first.runs = {FullRun(1, "etl", RunState::kQueued)};
  first.task_instances = {FullTaskInstance(1, "t")};
  ClusterRecord c;
  c.name = "spark-1";
  c.state = "creating";
  first.clusters = {c};
  ConnectionRecord conn;
  conn.conn_id = "db";
  conn.host = "old";
  first.connections = {conn};
  MustCommit(first);

  Mutation second;
  DagRecord dag = FullDag("etl");
  dag.paused = false;
  dag.last_scheduled_logical_date.reset();
  second.dags = {dag};
  DagRun run = FullRun(1, "etl", RunState::kSuccess);
  run.ended_at.reset();
  run.note = "done";
  run.cancel_requested = false;
  second.runs = {run};
  TaskInstance ti = FullTaskInstance(1, "t");
  ti.state = TaskState::kSuccess;
  ti.exit_code = 0;
  ti.handle = nullptr;
  ti.next_try_at.reset();
  second.task_instances = {ti};
  c.state = "ready";
  c.deleted_at = T(5);
  second.clusters = {c};
  conn.host = "new";
  second.connections = {conn};
  MustCommit(second);

  Result<std::vector<DagRecord>> dags = store_->ListDags();
  ASSERT_TRUE(dags.ok()) << dags.status();
  ASSERT_EQ(dags->size(), 1u);
  EXPECT_EQ(Fields((*dags)[0]), Fields(dag));

  Result<std::vector<DagRun>> runs = store_->ListRuns({});
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ(Fields((*runs)[0]), Fields(run));

  Result<std::vector<TaskInstance>> tis = store_->ListTaskInstances(1);
  ASSERT_TRUE(tis.ok()) << tis.status();
  ASSERT_EQ(tis->size(), 1u);
  EXPECT_EQ(Fields((*tis)[0]), Fields(ti));

  Result<std::vector<ClusterRecord>> clusters = store_->ListClusters(true);
  ASSERT_TRUE(clusters.ok()) << clusters.status();
  ASSERT_EQ(clusters->size(), 1u);
  EXPECT_EQ(Fields((*clusters)[0]), Fields(c));

  Result<std::vector<ConnectionRecord>> conns = store_->ListConnections();
  ASSERT_TRUE(conns.ok()) << conns.status();
  ASSERT_EQ(conns->size(), 1u);
  EXPECT_EQ((*conns)[0].host, "new");
}

TEST_P(SqlStoreTest, DeletingADagKeepsItsRunsAndTaskInstances) {
  Mutation m;
  m.dags = {FullDag("etl")};
  m.runs = {FullRun(1, "etl", RunState::kSuccess)};
  m.task_instances = {FullTaskInstance(1, "t")};
  MustCommit(m);

  Mutation del;
  del.delete_dags = {"etl"};
  MustCommit(del);

  Result<std::optional<DagRecord>> dag = store_->GetDag("etl");
  ASSERT_TRUE(dag.ok()) << dag.status();
  EXPECT_FALSE(dag->has_value());
  EXPECT_THAT(RunIds({.dag_id = "etl"}), ElementsAre(1));
  Result<std::vector<TaskInstance>> tis = store_->ListTaskInstances(1);
  ASSERT_TRUE(tis.ok()) << tis.status();
  EXPECT_EQ(tis->size(), 1u);
}

TEST_P(SqlStoreTest, RetentionListsOldFinishedRunsAndDeletesEverythingUnderThem) {
  DagRun old_ok = FullRun(1, "etl", RunState::kSuccess);  // ended at T(1'700'000'002'000)
  DagRun old_failed = FullRun(2, "etl", RunState::kFailed);
  old_failed.ended_at = T(1'700'000'001'500);
  DagRun recent = FullRun(3, "etl", RunState::kSuccess);
  recent.ended_at = T(1'800'000'000'000);
  DagRun running = FullRun(4, "etl", RunState::kRunning);
  running.ended_at.reset();
  ClusterRecord gone;
  gone.name = "spark-1";
  gone.backend = "local";
  gone.run_id = 1;
  gone.state = "deleted";
  ClusterRecord live = gone;
  live.name = "spark-2";
  live.state = "ready";  // its run is over but the cluster is not: the reaper needs the record
  Mutation m;
  m.runs = {old_ok, old_failed, recent, running};
  m.task_instances = {FullTaskInstance(1, "t"), FullTaskInstance(3, "t")};
  m.events = {Event(1, "t", "running", "success", 5)};
  m.clusters = {gone, live};
  MustCommit(m);

  EXPECT_THAT(RunIds({.ended_before = T(1'750'000'000'000)}), ElementsAre(2, 1));  // oldest first
  EXPECT_THAT(RunIds({.ended_before = T(1'750'000'000'000), .limit = 1}), ElementsAre(2));

  Mutation del;
  del.delete_runs = {1, 2};
  MustCommit(del);
  EXPECT_THAT(RunIds({}), ElementsAre(4, 3));
  EXPECT_THAT(*store_->ListTaskInstances(1), IsEmpty());
  EXPECT_THAT(*store_->ListEvents(1), IsEmpty());
  EXPECT_EQ(store_->ListTaskInstances(3)->size(), 1u);
  Result<std::vector<ClusterRecord>> clusters = store_->ListClusters(/*include_deleted=*/true);
  ASSERT_TRUE(clusters.ok()) << clusters.status();
  ASSERT_EQ(clusters->size(), 1u);
  EXPECT_EQ((*clusters)[0].name, "spark-2");
}

// The version a page cache of runs keys on: every change to a run moves it, whoever writes
// (another connection here), and writes that change no run do not.
TEST_P(SqlStoreTest, RunsVersionMovesWithEveryRunChangeAndOnlyThen) {
  Result<std::unique_ptr<Store>> other = OpenStore(location_);
  ASSERT_TRUE(other.ok()) << other.status();
  auto version = [&] {
    Result<int64_t> v = store_->RunsVersion();
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : -1;
  };
  int64_t v0 = version();
  DagRun run = FullRun(1, "etl", RunState::kRunning);
  Mutation created;
  created.runs = {run};
  ASSERT_TRUE((*other)->Commit(created).ok());
  int64_t v1 = version();
  EXPECT_GT(v1, v0);

  // The same run written again, and task instances and events: no run changed.
  Mutation same;
  same.runs = {run};
  same.task_instances = {FullTaskInstance(1, "t")};
  same.events = {Event(1, "t", "queued", "running", 5)};
  ASSERT_TRUE((*other)->Commit(same).ok());
  EXPECT_EQ(version(), v1);

  for (auto change : std::vector<std::function<void(DagRun*)>>{
           [](DagRun* r) { r->state = RunState::kSuccess; }, [](DagRun* r) { r->note = "checked"; },
           [](DagRun* r) { r->cancel_requested = !r->cancel_requested; },
           [](DagRun* r) { r->ended_at = T(1'800'000'000'000); }}) {
    int64_t before = version();
    change(&run);
    Mutation m;
    m.runs = {run};
    ASSERT_TRUE((*other)->Commit(m).ok());
    EXPECT_GT(version(), before);
  }
  int64_t before_delete = version();
  Mutation del;
  del.delete_runs = {1};
  ASSERT_TRUE((*other)->Commit(del).ok());
  EXPECT_GT(version(), before_delete);
}

TEST_P(SqlStoreTest, CommitIsAllOrNothing) {
  Mutation m;
  m.dags = {FullDag("etl")};
  m.runs = {FullRun(1, "etl", RunState::kRunning)};
  m.task_instances = {FullTaskInstance(1, "ok"), FullTaskInstance(99, "orphan")};
  m.events = {Event(1, "ok", "none", "queued", 1)};
  ConnectionRecord conn;
  conn.conn_id = "db";
  m.connections = {conn};

  Status s = store_->Commit(m);
  EXPECT_THAT(s, StatusIs(StatusCode::kInternal,
                          AllOf(HasSubstr("task instance 'orphan' of run 99"),
                                AnyOf(HasSubstr("FOREIGN KEY constraint failed"),
                                      HasSubstr("violates foreign key constraint")))));

  Result<std::vector<DagRecord>> dags = store_->ListDags();
  ASSERT_TRUE(dags.ok()) << dags.status();
  EXPECT_THAT(*dags, IsEmpty());
  EXPECT_THAT(RunIds({}), IsEmpty());
  Result<std::vector<TaskInstance>> tis = store_->ListTaskInstances(1);
  ASSERT_TRUE(tis.ok()) << tis.status();
  EXPECT_THAT(*tis, IsEmpty());
  Result<std::vector<StateEvent>> events = store_->ListEvents(1);
  ASSERT_TRUE(events.ok()) << events.status();
  EXPECT_THAT(*events, IsEmpty());
  Result<std::vector<ConnectionRecord>> conns = store_->ListConnections();
  ASSERT_TRUE(conns.ok()) << conns.status();
  EXPECT_THAT(*conns, IsEmpty());

  // The store is usable after the failed commit.
  m.task_instances.pop_back();
  MustCommit(m);
  EXPECT_THAT(RunIds({}), ElementsAre(1));
}

TEST_P(SqlStoreTest, RunIdTakenByAnotherRunOfTheDagIsAlreadyExists) {
  DagRun first = FullRun(1, "etl", RunState::kSuccess);
  AddRuns({first});
  DagRun clash = FullRun(2, "etl", RunState::kQueued);
  clash.run_id = first.run_id;
  Mutation m;
  m.runs = {clash};
  EXPECT_THAT(store_->Commit(m),
              StatusIs(StatusCode::kAlreadyExists,
                       HasSubstr("dag 'etl' already has a run 'manual__1' with another id")));

  DagRun other_dag = clash;
  other_dag.dag_id = "other";  // the same run id in another DAG is fine
  m.runs = {other_dag};
  MustCommit(m);
}

TEST_P(SqlStoreTest, RunWithoutIdIsRejected) {
  Mutation m;
  m.runs = {FullRun(0, "etl", RunState::kQueued)};
  EXPECT_THAT(store_->Commit(m),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("run id must be > 0, got 0")));
}

TEST_P(SqlStoreTest, EmptyCommitSucceeds) {
  MustCommit(Mutation{});
}

TEST_P(SqlStoreTest, ListRunsIsNewestFirstAndHonoursFiltersAndLimit) {
  AddRuns({FullRun(1, "a", RunState::kSuccess), FullRun(2, "b", RunState::kRunning),
           FullRun(3, "a", RunState::kQueued), FullRun(4, "a", RunState::kRunning),
           FullRun(5, "b", RunState::kFailed), FullRun(6, "a", RunState::kCancelled)});

  EXPECT_THAT(RunIds({}), ElementsAre(6, 5, 4, 3, 2, 1));
  EXPECT_THAT(RunIds({.limit = 2}), ElementsAre(6, 5));
  EXPECT_THAT(RunIds({.limit = 0}), ElementsAre(6, 5, 4, 3, 2, 1));  // no limit
  EXPECT_THAT(RunIds({.dag_id = "a"}), ElementsAre(6, 4, 3, 1));
  EXPECT_THAT(RunIds({.dag_id = "a", .limit = 3}), ElementsAre(6, 4, 3));
  EXPECT_THAT(RunIds({.state = RunState::kRunning}), ElementsAre(4, 2));
  EXPECT_THAT(RunIds({.dag_id = "b", .state = RunState::kRunning}), ElementsAre(2));
  EXPECT_THAT(RunIds({.only_active = true}), ElementsAre(4, 3, 2));
  EXPECT_THAT(RunIds({.dag_id = "a", .only_active = true}), ElementsAre(4, 3));
  EXPECT_THAT(RunIds({.only_active = true, .limit = 1}), ElementsAre(4));
  EXPECT_THAT(RunIds({.state = RunState::kSuccess, .only_active = true}), IsEmpty());
  EXPECT_THAT(RunIds({.dag_id = "zzz"}), IsEmpty());
}

// Issue 12: the previous successful run of a run, as Airflow finds it for prev_*_success: the same
// DAG, state success, the latest logical date strictly before the run's (not the newest key: a
// backfill made later may be earlier), through the (dag_id, logical_date) index.
TEST_P(SqlStoreTest, Issue12ListRunsBeforeALogicalDateIsLatestLogicalDateFirst) {
  auto run = [](int64_t id, const std::string& dag, RunState state, int day) {
    DagRun r = FullRun(id, dag, state);
    r.logical_date = T(1'767'225'600'000 + int64_t{day} * 86'400'000);
    return r;
  };
  AddRuns({run(1, "a", RunState::kSuccess, 3), run(2, "a", RunState::kSuccess, 1),
           run(3, "a", RunState::kFailed, 4), run(4, "b", RunState::kSuccess, 4),
           run(5, "a", RunState::kSuccess, 5), run(6, "a", RunState::kSuccess, 2)});
  const Time day5 = T(1'767'225'600'000 + 5 * 86'400'000LL);
  RunFilter prev{
      .dag_id = "a", .state = RunState::kSuccess, .limit = 1, .logical_date_before = day5};
  EXPECT_THAT(RunIds(prev), ElementsAre(1));
  prev.limit = 0;
  EXPECT_THAT(RunIds(prev), ElementsAre(1, 6, 2));
  prev.state.reset();
  EXPECT_THAT(RunIds(prev), ElementsAre(3, 1, 6, 2));
  prev.logical_date_before = T(1'767'225'600'000 + 1 * 86'400'000LL);
  EXPECT_THAT(RunIds(prev), IsEmpty());
}

// SQLite's query plans (PostgreSQL picks its own from statistics).
class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<SqliteStore>> opened = SqliteStore::Open(dir_.File("sparkplane.db"));
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(opened).value();
  }

  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteStoreTest, Issue12ListRunsBeforeALogicalDateUsesTheDagLogicalDateIndex) {
  const Time day5 = T(1'767'225'600'000 + 5 * 86'400'000LL);
  Result<std::string> plan = store_->ExplainListRuns(
      {.dag_id = "a", .state = RunState::kSuccess, .limit = 1, .logical_date_before = day5});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_THAT(*plan, HasSubstr("USING INDEX dag_runs_by_dag_logical_date")) << *plan;
  EXPECT_THAT(*plan, Not(HasSubstr("TEMP B-TREE"))) << *plan;
}

TEST_F(SqliteStoreTest, ListRunsOfActiveRunsUsesAnIndex) {
  for (const RunFilter& filter :
       {RunFilter{.only_active = true}, RunFilter{.dag_id = "a", .only_active = true},
        RunFilter{.state = RunState::kRunning}, RunFilter{.dag_id = "a"}}) {
    Result<std::string> plan = store_->ExplainListRuns(filter);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_THAT(*plan, HasSubstr("SEARCH dag_runs USING INDEX")) << *plan;
    EXPECT_THAT(*plan, Not(HasSubstr("SCAN dag_runs"))) << *plan;
  }
}

TEST_P(SqlStoreTest, FindRunLooksUpByDagAndRunId) {
  AddRuns({FullRun(1, "a", RunState::kSuccess), FullRun(2, "b", RunState::kSuccess)});
  Result<std::optional<DagRun>> found = store_->FindRun("b", "manual__2");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->id, 2);

  for (const auto& [dag, run] : {std::pair{"a", "manual__2"}, std::pair{"c", "manual__1"}}) {
    Result<std::optional<DagRun>> missing = store_->FindRun(dag, run);
    ASSERT_TRUE(missing.ok()) << missing.status();
    EXPECT_FALSE(missing->has_value()) << dag << " " << run;
  }
}

TEST_P(SqlStoreTest, MaxRunIdIsZeroWhenEmptyThenTheLargestId) {
  Result<int64_t> max = store_->MaxRunId();
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_EQ(*max, 0);
  AddRuns({FullRun(41, "a", RunState::kSuccess), FullRun(7, "a", RunState::kSuccess)});
  max = store_->MaxRunId();
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_EQ(*max, 41);
}

TEST_P(SqlStoreTest, InvalidUtf8InJsonIsStoredWithoutThrowing) {
  DagRun run = FullRun(1, "a", RunState::kQueued);
  run.conf = {{"bad", std::string("\xff\xfe", 2)}};
  AddRuns({run});
  Result<std::optional<DagRun>> got = store_->GetRun(1);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_TRUE((*got)->conf.contains("bad"));
}

TEST_P(SqlStoreTest, CorruptJsonInTheDatabaseIsAnInternalErrorNotACrash) {
  AddRuns({FullRun(1, "a", RunState::kQueued)});
  store_.reset();
  ExecRawSql("UPDATE dag_runs SET conf = '{not json' WHERE id = 1");
  Result<std::unique_ptr<Store>> reopened = OpenStore(location_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_THAT(
      (*reopened)->GetRun(1).status(),
      StatusIs(StatusCode::kInternal, AllOf(HasSubstr("get run"), HasSubstr("column 'conf'"))));
}

TEST_P(SqlStoreTest, UnknownStateNameInTheDatabaseIsAnInternalError) {
  AddRuns({FullRun(1, "a", RunState::kQueued)});
  store_.reset();
  ExecRawSql("UPDATE dag_runs SET state = 'paused' WHERE id = 1");
  Result<std::unique_ptr<Store>> reopened = OpenStore(location_);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_THAT((*reopened)->ListRuns({}).status(),
              StatusIs(StatusCode::kInternal, HasSubstr("unknown run state 'paused'")));
}

TEST(SqliteStoreInMemoryTest, InMemoryDatabaseWorksThroughTheStoreInterface) {
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(":memory:");
  ASSERT_TRUE(store.ok()) << store.status();
  Mutation m;
  m.runs = {FullRun(3, "a", RunState::kQueued)};
  m.task_instances = {FullTaskInstance(3, "t")};
  ASSERT_TRUE((*store)->Commit(m).ok());
  Result<int64_t> max = (*store)->MaxRunId();
  ASSERT_TRUE(max.ok()) << max.status();
  EXPECT_EQ(*max, 3);
}

}  // namespace
}  // namespace sp::store
