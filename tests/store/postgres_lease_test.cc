// SchedulerLease on a real PostgreSQL (label postgres): one holder at a time, the epoch moves on
// every takeover, a fenced store refuses commits once another instance holds the lease, and a
// holder whose session ended takes the lease back only if no one took it over, and LeaseKeeper
// holds effects back while its heartbeat cannot reach the database.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/open.h"
#include "store/pg_lease_test_util.h"
#include "store/pg_test_db.h"
#include "store/postgres/lease.h"
#include "store/store_test_util.h"

namespace sp::store::postgres {
namespace {

using ::sp::store::testing::Acquire;
using ::sp::store::testing::AcquireSoon;
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

// A holder whose last heartbeat is older than PostgreSQL's start lost its session to a restart,
// not by dying: a standby leaves it its own failover_timeout after the start to take the lease
// back (1 h here, the most the setting allows: the test server, started by this ctest run, is
// within it; before, a fixed 5 s). A
// holder that died after the start is taken over at once.
TEST_F(PostgresLeaseTest, AfterAPostgresRestartAStandbyWaitsItsFailoverTimeoutForTheHolder) {
  std::unique_ptr<SchedulerLease> a = Register("a");
  ASSERT_TRUE(a && Acquire(*a));
  // As after a restart: a's session is gone, its last heartbeat before the server's start.
  ASSERT_TRUE(db_.Exec("UPDATE schedulers SET heartbeat_at = 0 WHERE host = 'a'"));
  a.reset();
  Result<std::unique_ptr<SchedulerLease>> patient =
      SchedulerLease::Register(db_.url(), "patient", 1, std::chrono::hours(1));
  ASSERT_TRUE(patient.ok()) << patient.status();
  for (int i = 0; i < 50; ++i) {
    ASSERT_FALSE(Acquire(**patient)) << "took the lease of a holder a restart cut off, try " << i;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Its heartbeat after the start: it died, and the standby takes over.
  ASSERT_TRUE(db_.Exec("UPDATE schedulers SET heartbeat_at = " + std::string(kDatabaseNowMs) +
                       " WHERE host = 'a'"));
  EXPECT_TRUE(AcquireSoon(**patient));
}

// What happened, in order, across the test's threads; waits are bounded (generous: the machine
// is shared), and the test asserts the order of events, never a duration.
class EventLog {
 public:
  void Add(const std::string& event) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(event);
    }
    cv_.notify_all();
  }
  std::vector<std::string> Events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }
  // Waits up to 60 s until `done` holds for the events; whether it did.
  bool WaitFor(const std::function<bool(const std::vector<std::string>&)>& done) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return done(events_); });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
};

int Count(const std::vector<std::string>& events, const std::string& prefix) {
  int n = 0;
  for (const std::string& e : events) n += e.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

// LeaseKeeper::AwaitValid (the gate before a try starts or stops) holds while the holder's last
// heartbeat is older than 3 s, and lets go once a heartbeat goes through again. The heartbeat
// cannot reach the database for real: its session is terminated and the database refuses new
// connections (ALLOW_CONNECTIONS false), so neither Heartbeat nor Reclaim get through until the
// connections are allowed again.
// A holder whose session ended keeps its last heartbeat until it holds its lock again, so the
// time a standby leaves it after a PostgreSQL restart (TakeOver) is not cut short by a heartbeat
// sent on its new session before it reclaimed the lock.
TEST_F(PostgresLeaseTest, AHeartbeatWithoutTheLockDoesNotMoveTheHeartbeat) {
  std::unique_ptr<SchedulerLease> a = Register("a");
  ASSERT_TRUE(a && Acquire(*a));
  ASSERT_TRUE(db_.Exec("UPDATE schedulers SET heartbeat_at = 0 WHERE host = 'a'"));
  ASSERT_TRUE(
      db_.Exec("SELECT pg_terminate_backend(session_pid) FROM schedulers WHERE host = 'a'"));
  Status hb;
  for (int i = 0; i < 250 && hb.code() != StatusCode::kUnavailable; ++i) {
    hb = a->Heartbeat();
    if (hb.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(hb.code(), StatusCode::kUnavailable) << hb;
  EXPECT_EQ(a->Heartbeat().code(), StatusCode::kUnavailable);  // a new session, no lock
  auto age_of_a = [&] {
    Result<std::vector<SchedulerInstance>> list = ListSchedulers(db_.url());
    EXPECT_TRUE(list.ok()) << list.status();
    for (const SchedulerInstance& s : list.ok() ? *list : std::vector<SchedulerInstance>()) {
      if (s.host == "a") return s.heartbeat_age_ms;
    }
    return int64_t{-1};
  };
  EXPECT_GT(age_of_a(), int64_t{1'000'000'000});
  ASSERT_TRUE(a->Reclaim().ok());
  ASSERT_TRUE(a->Heartbeat().ok());
  EXPECT_LT(age_of_a(), 60'000);
}

TEST_F(PostgresLeaseTest, AwaitValidHoldsWhileTheHeartbeatCannotReachTheDatabase) {
  const std::string name = db_.url().substr(db_.url().rfind('/') + 1);
  std::unique_ptr<SchedulerLease> a = Register("a");
  ASSERT_TRUE(a && Acquire(*a));
  EventLog log;
  std::mutex failed_mu;
  std::chrono::steady_clock::time_point first_failure{};  // failed_mu
  {
    auto keeper = std::make_unique<LeaseKeeper>(
        a.get(), [&](const Status& s) { log.Add("lost: " + s.ToString()); },
        [&](const std::string& warning) {
          if (warning.rfind("cannot confirm", 0) == 0) {
            std::lock_guard<std::mutex> lock(failed_mu);
            if (first_failure == std::chrono::steady_clock::time_point{}) {
              first_failure = std::chrono::steady_clock::now();
            }
          }
          log.Add(warning);
        });
    keeper->AwaitValid();  // a fresh lease: at once

    // Cut the holder off: no new session may start, and its own is ended.
    ASSERT_TRUE(db_.Admin("ALTER DATABASE " + name + " WITH ALLOW_CONNECTIONS false"));
    const std::string terminate =
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + name + "'";
    ASSERT_TRUE(db_.Admin(terminate));
    // The keeper found its heartbeat and its reclaim refused...
    ASSERT_TRUE(log.WaitFor([](const std::vector<std::string>& events) {
      return Count(events, "cannot confirm the scheduler lease") >= 1;
    })) << ::testing::PrintToString(log.Events());
    // ...and its last good heartbeat, which came before that first failure, is now more than
    // 3 s old. (A lower bound to wait for, not a duration asserted.)
    std::chrono::steady_clock::time_point stale_from;
    {
      std::lock_guard<std::mutex> lock(failed_mu);
      stale_from = first_failure + std::chrono::milliseconds(3500);
    }
    std::this_thread::sleep_until(stale_from);

    std::thread waiter([&] {
      log.Add("await: called");
      keeper->AwaitValid();
      log.Add("await: returned");
    });
    // (EXPECT, not ASSERT: the waiter thread must be joined below whatever happens.)
    EXPECT_TRUE(log.WaitFor([](const std::vector<std::string>& events) {
      return Count(events, "await: called") == 1;
    }));
    // Time for a gate that does not hold to let the waiter through (it would within
    // microseconds); a gate that holds keeps it there however long this takes.
    std::this_thread::sleep_for(std::chrono::seconds(1));
    log.Add("connections allowed");
    EXPECT_TRUE(db_.Admin("ALTER DATABASE " + name + " WITH ALLOW_CONNECTIONS true"));
    bool returned = log.WaitFor([](const std::vector<std::string>& events) {
      return Count(events, "await: returned") == 1;
    });
    EXPECT_TRUE(returned) << "AwaitValid did not return after the heartbeat got through again";
    if (!returned) keeper.reset();  // a stopping keeper lets every waiter go
    waiter.join();
    keeper.reset();

    std::vector<std::string> events = log.Events();
    std::vector<std::string> order;
    for (const std::string& e : events) {
      if (e.rfind("await:", 0) == 0 || e == "connections allowed" ||
          e.rfind("the scheduler lease's session ended", 0) == 0 || e.rfind("lost:", 0) == 0) {
        order.push_back(e.substr(0, e.find(" (")));
      }
    }
    // The gate held until the heartbeat went through again: on a new session, which took the
    // lock back (no one else had the lease), and the lease was never lost.
    EXPECT_THAT(order,
                ::testing::ElementsAre("await: called", "connections allowed",
                                       "the scheduler lease's session ended", "await: returned"))
        << ::testing::PrintToString(events);
  }
  // The keeper has stopped: the lease is still this instance's, on its new session.
  EXPECT_TRUE(a->Heartbeat().ok());
  EXPECT_EQ(a->epoch(), 1);
}

// Instances (commands included) silent for a week are forgotten when another registers; the
// holder is kept whatever its age.
// A try that fails after taking the lock (here the lease table is briefly missing) keeps no hold
// on it: before, the failed try kept one and a second try took another, so releasing the lease
// left the lock held and no standby could ever take over while that session lived.
TEST_F(PostgresLeaseTest, AFailedTryHoldsNoLockAndAReleasedLeaseCanBeTaken) {
  std::unique_ptr<SchedulerLease> a = Register("a");
  std::unique_ptr<SchedulerLease> b = Register("b");
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(db_.Exec("ALTER TABLE scheduler_lease RENAME TO scheduler_lease_away"));
  Result<bool> failed = a->TryAcquire();
  EXPECT_FALSE(failed.ok()) << "the lease table is missing";
  EXPECT_EQ(a->epoch(), 0);
  ASSERT_TRUE(db_.Exec("ALTER TABLE scheduler_lease_away RENAME TO scheduler_lease"));
  EXPECT_TRUE(Acquire(*b)) << "the failed try left the lock held";
  b->Release();
  ASSERT_TRUE(Acquire(*a)) << "a retries";
  EXPECT_TRUE(a->Heartbeat().ok());
  a->Release();
  EXPECT_TRUE(Acquire(*b)) << "a released lease is free, however often a tried";
}

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

// Several partitions: servers share them out (each its fair share, the rest left to the
// others), one that joins gets some once the others give theirs up, a dead one's are taken over
// at new epochs, and a store fenced on its partitions refuses commits once one moved.
TEST_F(PostgresLeaseTest, ServersShareThePartitionsOutAndTakeADeadOnesOver) {
  Result<std::unique_ptr<SchedulerLease>> first =
      SchedulerLease::Register(db_.url(), "a", 1, SchedulerLease::kDefaultFailoverTimeout, 4);
  ASSERT_TRUE(first.ok()) << first.status();
  std::unique_ptr<SchedulerLease> a = std::move(*first);
  EXPECT_EQ(a->partitions(), 4);
  Result<std::map<int, int64_t>> took = a->TakeShare();
  ASSERT_TRUE(took.ok()) << took.status();
  EXPECT_EQ(took->size(), 4u);  // alone: all of them

  // A second server: nothing is free until the first gives its surplus up.
  Result<std::unique_ptr<SchedulerLease>> second =
      SchedulerLease::Register(db_.url(), "b", 2, SchedulerLease::kDefaultFailoverTimeout, 4);
  ASSERT_TRUE(second.ok()) << second.status();
  std::unique_ptr<SchedulerLease> b = std::move(*second);
  took = b->TakeShare();
  ASSERT_TRUE(took.ok()) << took.status();
  EXPECT_TRUE(took->empty());
  // Until b can take partitions up, a gives none up for it.
  Result<std::set<int>> surplus = a->Surplus();
  ASSERT_TRUE(surplus.ok()) << surplus.status();
  EXPECT_TRUE(surplus->empty());
  ASSERT_TRUE(b->StartSharing().ok());
  surplus = a->Surplus();
  ASSERT_TRUE(surplus.ok()) << surplus.status();
  EXPECT_EQ(*surplus, (std::set<int>{3, 4}));
  ASSERT_TRUE(a->Give(*surplus).ok());
  took = b->TakeShare();
  ASSERT_TRUE(took.ok()) << took.status();
  EXPECT_EQ(took->size(), 2u);
  EXPECT_EQ(a->held().size(), 2u);
  EXPECT_TRUE(a->Heartbeat().ok());
  EXPECT_TRUE(b->Heartbeat().ok());
  // A command registers too, but takes no share.
  Result<std::unique_ptr<SchedulerLease>> command = SchedulerLease::Register(
      db_.url(), "c (command)", 3, SchedulerLease::kDefaultFailoverTimeout, 0, /*serves=*/false);
  ASSERT_TRUE(command.ok()) << command.status();
  EXPECT_EQ((*command)->partitions(), 4);
  surplus = a->Surplus();
  ASSERT_TRUE(surplus.ok() && surplus->empty());
  // A server configured for another number is refused while the partitions are in use.
  Result<std::unique_ptr<SchedulerLease>> other =
      SchedulerLease::Register(db_.url(), "d", 4, SchedulerLease::kDefaultFailoverTimeout, 8);
  EXPECT_THAT(other.status(), StatusIs(StatusCode::kFailedPrecondition,
                                       HasSubstr("set up for 4 scheduler partitions")));

  Result<std::unique_ptr<Store>> store = OpenStore(db_.url());
  ASSERT_TRUE(store.ok()) << store.status();
  (*store)->FencePartitions(b->held());
  Mutation first_write;
  first_write.runs = {FullRun(1, "etl", RunState::kRunning)};
  ASSERT_TRUE((*store)->Commit(first_write).ok());

  // b dies: a takes its two partitions over at new epochs, and b's store writes nothing more.
  const std::map<int, int64_t> b_held = b->held();
  b.reset();
  std::map<int, int64_t> taken;
  for (int i = 0; i < 250 && taken.size() < 2; ++i) {
    Result<std::map<int, int64_t>> more = a->TakeShare();
    ASSERT_TRUE(more.ok()) << more.status();
    taken.insert(more->begin(), more->end());
    if (taken.size() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(taken.size(), 2u);
  for (const auto& [p, epoch] : taken) {
    ASSERT_TRUE(b_held.count(p)) << p;
    EXPECT_GT(epoch, b_held.at(p));
  }
  EXPECT_EQ(a->held().size(), 4u);
  Mutation late;
  late.runs = {FullRun(2, "etl", RunState::kRunning)};
  EXPECT_THAT((*store)->Commit(late),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("fenced")));
  Result<std::vector<SchedulerInstance>> list = ListSchedulers(db_.url());
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_FALSE(list->empty());
  EXPECT_EQ(list->front().host, "a");
  EXPECT_EQ(list->front().partitions, (std::vector<int>{1, 2, 3, 4}));

  // A server that holds no partition is fenced shut: it writes nothing.
  (*store)->FencePartitions(std::map<int, int64_t>{});
  EXPECT_THAT((*store)->Commit(late),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("holds no partition")));
}

// A new number of partitions (a rolling update from one scheduler to several) moves every
// partition to a new epoch: the old holder's fenced store writes nothing more, and a standby of
// the old number cannot take a partition (it would schedule every DAG beside the new servers).
TEST_F(PostgresLeaseTest, ANewNumberOfPartitionsFencesAndRefusesSchedulersOfTheOldOne) {
  std::unique_ptr<SchedulerLease> old_active = Register("old-active");
  std::unique_ptr<SchedulerLease> old_standby = Register("old-standby");
  ASSERT_TRUE(old_active && old_standby && Acquire(*old_active));
  Result<std::unique_ptr<Store>> store = OpenStore(db_.url());
  ASSERT_TRUE(store.ok()) << store.status();
  (*store)->FenceWrites(old_active->epoch());
  // While the old active holds its lease, a server of another number is refused (after waiting
  // a few seconds for a setup under way).
  Result<std::unique_ptr<SchedulerLease>> early =
      SchedulerLease::Register(db_.url(), "new", 5, SchedulerLease::kDefaultFailoverTimeout, 4);
  EXPECT_THAT(early.status(), StatusIs(StatusCode::kFailedPrecondition,
                                       HasSubstr("set up for 1 scheduler partitions")));
  // Its session ends (a PostgreSQL restart, say), and the new server sets the database up.
  ASSERT_TRUE(db_.Admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
                        db_.url().substr(db_.url().rfind('/') + 1) +
                        "' AND pid <> pg_backend_pid()"));
  Result<std::unique_ptr<SchedulerLease>> fresh =
      SchedulerLease::Register(db_.url(), "new", 6, SchedulerLease::kDefaultFailoverTimeout, 4);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ((*fresh)->partitions(), 4);
  Mutation late;
  late.runs = {FullRun(1, "etl", RunState::kRunning)};
  Status committed = (*store)->Commit(late);
  for (int i = 0; i < 50 && committed.code() == StatusCode::kUnavailable; ++i) {
    committed = (*store)->Commit(late);  // its session reconnects first
  }
  EXPECT_THAT(committed, StatusIs(StatusCode::kFailedPrecondition, HasSubstr("fenced")));
  Status reclaimed = old_active->Reclaim();
  for (int i = 0; i < 50 && reclaimed.code() == StatusCode::kUnavailable; ++i) {
    reclaimed = old_active->Reclaim();  // its session reconnects first
  }
  EXPECT_EQ(reclaimed.code(), StatusCode::kFailedPrecondition) << reclaimed;
  Result<bool> taken = old_standby->TryAcquire();
  for (int i = 0; i < 50 && taken.status().code() == StatusCode::kUnavailable; ++i) {
    taken = old_standby->TryAcquire();
  }
  EXPECT_THAT(taken.status(), StatusIs(StatusCode::kFailedPrecondition,
                                       HasSubstr("now set up for 4 scheduler partitions")));
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
