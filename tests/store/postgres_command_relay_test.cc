// Relayed commands on a real PostgreSQL (label postgres): a sent command wakes the inbox
// (NOTIFY), a commit that answers it notifies the senders and lands with it, a withdrawn or
// expired command can no longer be answered (the whole commit fails and nothing of it lands), and
// a fenced store answers nothing. RelayOrTakeLease, the sending command's side: it applies the
// command itself when no scheduler acts (or the active one left), returns the active scheduler's
// answer, waits out a store that is away for a moment, and withdraws a command nobody took.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "store/open.h"
#include "store/pg_lease_test_util.h"
#include "store/pg_test_db.h"
#include "store/postgres/command_relay.h"
#include "store/postgres/connection.h"
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

constexpr std::chrono::milliseconds kTtl{60000};
const nlohmann::json kTrigger = {{"op", "trigger"}, {"dag_id", "etl"}};

class PostgresCommandRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<CommandRelay>> relay = CommandRelay::Open(db_.url());
    ASSERT_TRUE(relay.ok()) << relay.status();
    relay_ = std::move(*relay);
    Result<std::unique_ptr<CommandInbox>> inbox = CommandInbox::Open(db_.url());
    ASSERT_TRUE(inbox.ok()) << inbox.status();
    inbox_ = std::move(*inbox);
    Result<std::unique_ptr<Store>> store = OpenStore(db_.url());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
  }
  // A commit that creates run `key` and answers command `id`.
  Status AnswerWithRun(int64_t id, int64_t key) {
    Mutation m;
    m.new_runs = {FullRun(key, "etl", RunState::kQueued)};
    m.command_answer =
        Mutation::CommandAnswer{id, R"({"ok":true,"created_runs":[)" + std::to_string(key) + "]}"};
    return store_->Commit(m);
  }
  // Commands in `state` (pending, done, withdrawn).
  int64_t CountCommands(const std::string& state) {
    Result<std::unique_ptr<Connection>> conn = Connection::Open(db_.url(), "");
    EXPECT_TRUE(conn.ok()) << conn.status();
    if (!conn.ok()) return -1;
    Result<int64_t> n =
        (*conn)->QueryInt("SELECT count(*) FROM relayed_commands WHERE state = '" + state + "'");
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? *n : -1;
  }
  // The id of the one pending command, once it is there (0 after 20 s without).
  int64_t AwaitPendingCommand() {
    for (int i = 0; i < 200; ++i) {
      Result<std::vector<RelayedCommand>> pending = inbox_->Pending(10);
      if (pending.ok() && pending->size() == 1) return (*pending)[0].id;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return 0;
  }
  // A lease that keeps its session however long a loaded machine makes a test take (it sends no
  // heartbeats).
  std::unique_ptr<SchedulerLease> Register(const std::string& host, int pid) {
    Result<std::unique_ptr<SchedulerLease>> lease =
        SchedulerLease::Register(db_.url(), host, pid, std::chrono::minutes(10));
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? std::move(*lease) : nullptr;
  }
  // An active scheduler's lease (held) and a command's (registered, not held), then
  // RelayOrTakeLease of a trigger for up to `wait`.
  void RegisterActiveAndCommand() {
    active_ = Register("a", 1);
    ASSERT_TRUE(active_ && Acquire(*active_));
    mine_ = Register("laptop (command)", 9);
    ASSERT_NE(mine_, nullptr);
  }
  Result<std::optional<nlohmann::json>> RelayTrigger(std::chrono::milliseconds wait) {
    return RelayOrTakeLease(*mine_, db_.url(), kTrigger, "laptop", wait);
  }
  bool RunExists(int64_t key) {
    Result<std::optional<DagRun>> r = store_->GetRun(key);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() && r->has_value();
  }

  PgTestDatabase db_;
  std::unique_ptr<CommandRelay> relay_;
  std::unique_ptr<CommandInbox> inbox_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<SchedulerLease> active_;
  std::unique_ptr<SchedulerLease> mine_;
};

TEST_F(PostgresCommandRelayTest, ACommandIsAnsweredByTheCommitOfItsDecision) {
  Result<int64_t> id = relay_->Send({{"op", "trigger"}, {"dag_id", "etl"}}, "laptop", kTtl);
  ASSERT_TRUE(id.ok()) << id.status();
  // The inbox is woken by the send's NOTIFY, well before its one-second fallback.
  auto t0 = std::chrono::steady_clock::now();
  Result<bool> woken = inbox_->AwaitCommand(std::chrono::milliseconds(5000));
  ASSERT_TRUE(woken.ok()) << woken.status();
  EXPECT_TRUE(*woken);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(4000));
  Result<std::vector<RelayedCommand>> pending = inbox_->Pending(10);
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].id, *id);
  EXPECT_EQ((*pending)[0].sender, "laptop");
  EXPECT_EQ(nlohmann::json::parse((*pending)[0].request).value("op", ""), "trigger");

  // Still pending: no answer yet.
  Result<std::optional<nlohmann::json>> none =
      relay_->AwaitAnswer(*id, std::chrono::milliseconds(0));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());

  // The answer's commit notifies the senders (seen here on a session of the test's own).
  Result<std::unique_ptr<Connection>> listener =
      Connection::Open(db_.url(), "LISTEN sparkplane_answers");
  ASSERT_TRUE(listener.ok()) << listener.status();
  std::thread decide([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_TRUE(AnswerWithRun(*id, 7).ok());
  });
  Result<std::optional<nlohmann::json>> answer =
      relay_->AwaitAnswer(*id, std::chrono::milliseconds(10000));
  decide.join();
  ASSERT_TRUE(answer.ok()) << answer.status();
  ASSERT_TRUE(answer->has_value());
  EXPECT_EQ((**answer)["created_runs"], nlohmann::json::array({7}));
  Result<bool> notified = (*listener)->AwaitNotification(std::chrono::milliseconds(5000));
  ASSERT_TRUE(notified.ok()) << notified.status();
  EXPECT_TRUE(*notified);
  EXPECT_TRUE(RunExists(7));
  pending = inbox_->Pending(10);
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_TRUE(pending->empty());
  // Answered once: a second decision of the same command is refused whole.
  EXPECT_THAT(AnswerWithRun(*id, 8),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("answered already")));
  EXPECT_FALSE(RunExists(8));
  // A command answered before the withdrawal cannot be withdrawn.
  Result<bool> withdrawn = relay_->Withdraw(*id);
  ASSERT_TRUE(withdrawn.ok()) << withdrawn.status();
  EXPECT_FALSE(*withdrawn);
}

TEST_F(PostgresCommandRelayTest, AWithdrawnCommandIsNeverApplied) {
  Result<int64_t> id = relay_->Send({{"op", "trigger"}, {"dag_id", "etl"}}, "laptop", kTtl);
  ASSERT_TRUE(id.ok()) << id.status();
  Result<bool> withdrawn = relay_->Withdraw(*id);
  ASSERT_TRUE(withdrawn.ok()) << withdrawn.status();
  EXPECT_TRUE(*withdrawn);
  EXPECT_THAT(AnswerWithRun(*id, 7),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("withdrawn")));
  EXPECT_FALSE(RunExists(7));
  Result<std::vector<RelayedCommand>> pending = inbox_->Pending(10);
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_TRUE(pending->empty());
  EXPECT_THAT(relay_->AwaitAnswer(*id, std::chrono::milliseconds(0)).status(),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("withdrawn")));
}

// A command whose sender's wait is over (it may have died without withdrawing it) is never
// applied: it is no longer listed, and a commit that would answer it fails whole.
TEST_F(PostgresCommandRelayTest, AnExpiredCommandIsNeverApplied) {
  Result<int64_t> id =
      relay_->Send({{"op", "trigger"}, {"dag_id", "etl"}}, "laptop", std::chrono::milliseconds(1));
  ASSERT_TRUE(id.ok()) << id.status();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Result<std::vector<RelayedCommand>> pending = inbox_->Pending(10);
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_TRUE(pending->empty());
  EXPECT_THAT(AnswerWithRun(*id, 7),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("expired")));
  EXPECT_FALSE(RunExists(7));
}

TEST_F(PostgresCommandRelayTest, AFencedStoreAnswersNothing) {
  Result<std::unique_ptr<SchedulerLease>> a = SchedulerLease::Register(db_.url(), "a", 1);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(Acquire(**a));
  store_->FenceWrites((*a)->epoch());
  Result<int64_t> id = relay_->Send({{"op", "pause"}, {"dag_id", "etl"}}, "laptop", kTtl);
  ASSERT_TRUE(id.ok()) << id.status();
  // Another instance takes the lease over: the old holder's answer is refused, and the command
  // stays pending for the new one.
  a->reset();
  Result<std::unique_ptr<SchedulerLease>> b = SchedulerLease::Register(db_.url(), "b", 2);
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(AcquireSoon(**b));
  Mutation answer;
  answer.command_answer = Mutation::CommandAnswer{*id, R"({"ok":true})"};
  EXPECT_THAT(store_->Commit(answer),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("fenced")));
  Result<std::vector<RelayedCommand>> pending = inbox_->Pending(10);
  ASSERT_TRUE(pending.ok()) << pending.status();
  EXPECT_EQ(pending->size(), 1u);
}

TEST_F(PostgresCommandRelayTest, WithNoActiveSchedulerACommandTakesTheLeaseItself) {
  mine_ = Register("laptop (command)", 9);
  ASSERT_NE(mine_, nullptr);
  Result<std::optional<nlohmann::json>> r = RelayTrigger(std::chrono::seconds(30));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->has_value());
  EXPECT_GT(mine_->epoch(), 0);
  EXPECT_EQ(CountCommands("pending") + CountCommands("withdrawn"), 0);
}

TEST_F(PostgresCommandRelayTest, ARelayedCommandReturnsTheActiveSchedulersAnswer) {
  ASSERT_NO_FATAL_FAILURE(RegisterActiveAndCommand());
  std::thread scheduler([&] {
    int64_t id = AwaitPendingCommand();
    EXPECT_NE(id, 0);
    EXPECT_TRUE(AnswerWithRun(id, 7).ok());
  });
  Result<std::optional<nlohmann::json>> r = RelayTrigger(std::chrono::seconds(30));
  scheduler.join();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((**r)["created_runs"], nlohmann::json::array({7}));
  EXPECT_EQ(mine_->epoch(), 0);  // relayed: the lease stayed with the active scheduler
  EXPECT_EQ(CountCommands("done"), 1);
}

TEST_F(PostgresCommandRelayTest, ACommandNobodyTakesIsWithdrawnWhenItsWaitIsOver) {
  ASSERT_NO_FATAL_FAILURE(RegisterActiveAndCommand());
  Result<std::optional<nlohmann::json>> r = RelayTrigger(std::chrono::seconds(2));
  EXPECT_THAT(r.status(),
              StatusIs(StatusCode::kUnavailable, HasSubstr("did not take the command within 2 s")));
  EXPECT_THAT(r.status().message(), HasSubstr("host a (pid 1)"));
  EXPECT_EQ(CountCommands("withdrawn"), 1);
  EXPECT_EQ(CountCommands("pending"), 0);
}

// The active scheduler leaves with no one to take over while the command waits: the command
// takes the lease, withdraws its relayed copy and is applied by its caller.
TEST_F(PostgresCommandRelayTest, ACommandWhoseSchedulerLeftTakesTheLeaseAndWithdrawsItsCopy) {
  ASSERT_NO_FATAL_FAILURE(RegisterActiveAndCommand());
  std::thread leave([&] {
    EXPECT_NE(AwaitPendingCommand(), 0);
    active_.reset();  // its session ends, and with it the lock
  });
  Result<std::optional<nlohmann::json>> r = RelayTrigger(std::chrono::seconds(30));
  leave.join();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->has_value());
  EXPECT_GT(mine_->epoch(), 0);
  EXPECT_EQ(CountCommands("withdrawn"), 1);
  EXPECT_EQ(CountCommands("pending"), 0);
}

// Every session but the active scheduler's is terminated while the command waits (a store
// failover, an operator's pg_terminate_backend): the sender reconnects and still gets the
// answer, which the scheduler commits once its own store reconnected.
TEST_F(PostgresCommandRelayTest, ACommandWaitsOutAStoreThatIsAwayForAMoment) {
  ASSERT_NO_FATAL_FAILURE(RegisterActiveAndCommand());
  std::thread scheduler([&] {
    int64_t id = AwaitPendingCommand();
    ASSERT_NE(id, 0);
    Result<std::unique_ptr<Connection>> conn = Connection::Open(db_.url(), "");
    ASSERT_TRUE(conn.ok()) << conn.status();
    Result<int64_t> kept = (*conn)->QueryInt("SELECT session_pid FROM schedulers WHERE host = 'a'");
    ASSERT_TRUE(kept.ok()) << kept.status();
    const std::string name = db_.url().substr(db_.url().rfind('/') + 1);
    EXPECT_TRUE(
        db_.Admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" +
                  name + "' AND pid <> pg_backend_pid() AND pid <> " + std::to_string(*kept)));
    Status answered = UnavailableError("not yet");
    for (int i = 0; i < 100 && !answered.ok(); ++i) {
      answered = AnswerWithRun(id, 7);
      if (!answered.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_TRUE(answered.ok()) << answered;
  });
  Result<std::optional<nlohmann::json>> r = RelayTrigger(std::chrono::seconds(30));
  scheduler.join();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((**r)["created_runs"], nlohmann::json::array({7}));
}

}  // namespace
}  // namespace sp::store::postgres
