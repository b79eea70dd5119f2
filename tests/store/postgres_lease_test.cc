// SchedulerLease on a real PostgreSQL (label postgres): one holder at a time, the epoch moves on
// every takeover, a fenced store refuses commits once another instance holds the lease, and a
// holder whose session ended takes the lease back only if no one took it over.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "store/open.h"
#include "store/pg_test_db.h"
#include "store/postgres/lease.h"
#include "store/store_test_util.h"

namespace sp::store::postgres {
namespace {

using ::sp::store::testing::FullRun;
using ::sp::store::testing::PgTestDatabase;
using ::sp::store::testing::StatusIs;
using ::testing::HasSubstr;

class PostgresLeaseTest : public ::testing::Test {
 protected:
  std::unique_ptr<SchedulerLease> Register(const std::string& host) {
    Result<std::unique_ptr<SchedulerLease>> lease = SchedulerLease::Register(db_.url(), host, 4242);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? std::move(*lease) : nullptr;
  }
  bool Acquire(SchedulerLease& lease) {
    Result<bool> got = lease.TryAcquire();
    EXPECT_TRUE(got.ok()) << got.status();
    return got.ok() && *got;
  }
  // As a standby does: tries until it holds the lease (a closed session's backend lets go of its
  // lock a moment after the client left), for up to 5 s.
  bool AcquireSoon(SchedulerLease& lease) {
    for (int i = 0; i < 250; ++i) {
      if (Acquire(lease)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  PgTestDatabase db_;
};

TEST_F(PostgresLeaseTest, OneHolderAtATimeAndTheEpochMovesOnEveryTakeover) {
  std::unique_ptr<SchedulerLease> a = Register("a");
  std::unique_ptr<SchedulerLease> b = Register("b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Acquire(*a));
  EXPECT_EQ(a->epoch(), 1);
  EXPECT_FALSE(Acquire(*b));
  Result<std::string> holder = b->DescribeHolder();
  ASSERT_TRUE(holder.ok()) << holder.status();
  EXPECT_THAT(*holder, HasSubstr("on host a (pid 4242)"));
  EXPECT_TRUE(a->Heartbeat().ok());

  a.reset();  // the session closes, as at a kill -9
  ASSERT_TRUE(AcquireSoon(*b));
  EXPECT_EQ(b->epoch(), 2);
  // a's backend lets go of its lock before it leaves pg_stat_activity: ask until it has left.
  std::vector<SchedulerInstance> list;
  for (int i = 0; i < 250; ++i) {
    Result<std::vector<SchedulerInstance>> read = ListSchedulers(db_.url());
    ASSERT_TRUE(read.ok()) << read.status();
    list = *read;
    ASSERT_EQ(list.size(), 2u);
    if (!list[1].connected) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(list[0].active && list[0].connected);  // b: the active one first
  EXPECT_EQ(list[0].host, "b");
  EXPECT_FALSE(list[1].active || list[1].connected);
}

TEST_F(PostgresLeaseTest, AFencedStoreRefusesCommitsOnceAnotherInstanceHoldsTheLease) {
  std::unique_ptr<SchedulerLease> a = Register("a");
  ASSERT_TRUE(a && Acquire(*a));
  Result<std::unique_ptr<Store>> store = OpenStore(db_.url());
  ASSERT_TRUE(store.ok()) << store.status();
  (*store)->FenceWrites(a->epoch());
  Mutation first;
  first.runs = {FullRun(1, "etl", RunState::kRunning)};
  ASSERT_TRUE((*store)->Commit(first).ok());

  // Another instance takes over (a's session is gone); a's store must not write any more.
  a.reset();
  std::unique_ptr<SchedulerLease> b = Register("b");
  ASSERT_TRUE(b && AcquireSoon(*b));
  Mutation second;
  second.runs = {FullRun(2, "etl", RunState::kRunning)};
  EXPECT_THAT((*store)->Commit(second),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("fenced: another scheduler")));
  Result<std::optional<DagRun>> missing = (*store)->GetRun(2);
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->has_value());
}

TEST_F(PostgresLeaseTest, AHolderWhoseSessionEndedTakesItBackOnlyIfNoOneTookItOver) {
  std::unique_ptr<SchedulerLease> a = Register("a");
  ASSERT_TRUE(a && Acquire(*a));
  // Terminate a's session, as an operator or a PostgreSQL restart would.
  ASSERT_TRUE(db_.Admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
                        db_.url().substr(db_.url().rfind('/') + 1) +
                        "' AND pid <> pg_backend_pid()"));
  // pg_terminate_backend only signals the backend: heartbeat until the session is seen gone.
  Status hb;
  for (int i = 0; i < 250 && hb.code() != StatusCode::kUnavailable; ++i) {
    hb = a->Heartbeat();
    if (hb.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(hb.code(), StatusCode::kUnavailable) << hb;
  EXPECT_TRUE(a->Reclaim().ok());
  EXPECT_TRUE(a->Heartbeat().ok());
  EXPECT_EQ(a->epoch(), 1);

  // Now it loses the session and b takes over before a tries: a must stop.
  ASSERT_TRUE(db_.Admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
                        db_.url().substr(db_.url().rfind('/') + 1) +
                        "' AND pid <> pg_backend_pid()"));
  std::unique_ptr<SchedulerLease> b = Register("b");
  ASSERT_TRUE(b && AcquireSoon(*b));
  (void)a->Heartbeat();
  EXPECT_EQ(a->Reclaim().code(), StatusCode::kFailedPrecondition);
}

// Instances (commands included) silent for a week are forgotten when another registers; the
// holder is kept whatever its age.
TEST_F(PostgresLeaseTest, WeekOldInstancesAreForgottenButNeverTheHolder) {
  std::unique_ptr<SchedulerLease> a = Register("a");
  ASSERT_TRUE(a && Acquire(*a));
  std::unique_ptr<SchedulerLease> old = Register("old");
  ASSERT_TRUE(old);
  ASSERT_TRUE(db_.Exec("UPDATE schedulers SET heartbeat_at = heartbeat_at - 8 * 86400000"));
  std::unique_ptr<SchedulerLease> c = Register("c");
  ASSERT_TRUE(c);
  Result<std::vector<SchedulerInstance>> list = ListSchedulers(db_.url());
  ASSERT_TRUE(list.ok()) << list.status();
  std::vector<std::string> hosts;
  for (const SchedulerInstance& s : *list) hosts.push_back(s.host);
  EXPECT_THAT(hosts, ::testing::ElementsAre("a", "c"));  // the holder first, then the newest
}

// Sealed bytes read back whole whatever the database's bytea_output (a role or database set to
// `escape` would otherwise read them as empty).
TEST_F(PostgresLeaseTest, PostgresSealedBytesRoundTripWhateverTheByteaOutput) {
  const std::string name = db_.url().substr(db_.url().rfind('/') + 1);
  ASSERT_TRUE(db_.Admin("ALTER DATABASE " + name + " SET bytea_output = 'escape'"));
  Result<std::unique_ptr<Store>> store = OpenStore(db_.url());
  ASSERT_TRUE(store.ok()) << store.status();
  ConnectionRecord c;
  c.conn_id = "db";
  c.password_sealed = std::string("\x00\x01\xff sealed", 10);
  Mutation m;
  m.connections = {c};
  ASSERT_TRUE((*store)->Commit(m).ok());
  Result<std::optional<ConnectionRecord>> got = (*store)->GetConnection("db");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->password_sealed, c.password_sealed);
}

}  // namespace
}  // namespace sp::store::postgres
