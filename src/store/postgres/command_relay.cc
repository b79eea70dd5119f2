// CommandRelay and CommandInbox (see command_relay.h).
#include "store/postgres/command_relay.h"

#include <thread>
#include <utility>

#include "common/join.h"
#include "common/json_limits.h"
#include "store/internal/sql_store.h"
#include "store/postgres/migrations.h"

namespace sp::store::postgres {

Result<std::unique_ptr<CommandRelay>> CommandRelay::Open(const std::string& url) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                   OpenMigrated(url, "LISTEN sparkplane_answers"));
  return std::unique_ptr<CommandRelay>(new CommandRelay(std::move(conn)));
}

Result<int64_t> CommandRelay::Send(const nlohmann::json& request, const std::string& sender,
                                   std::chrono::milliseconds ttl, int partition) {
  // Whatever its state, a command is history a day after it expired.
  RETURN_IF_ERROR(conn_->Exec(std::string("DELETE FROM relayed_commands WHERE expires_at < ") +
                              kDatabaseNowMs + " - 86400000"));
  ASSIGN_OR_RETURN(
      Connection::Statement stmt,
      conn_->Prepare(std::string("INSERT INTO relayed_commands (request, sender, "
                                 "state, created_at, expires_at, partition) VALUES "
                                 "(?1, ?2, 'pending', ") +
                     kDatabaseNowMs + ", " + kDatabaseNowMs + " + ?3, ?4) RETURNING id"));
  stmt.BindText(1, request.dump());
  stmt.BindText(2, sender);
  stmt.BindInt64(3, ttl.count());
  stmt.BindInt64(4, partition);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return InternalError("queueing the command returned no id");
  const int64_t id = stmt.ColumnInt64(0);
  // After the insert committed (autocommit), so the scheduler it wakes sees the row. Only a
  // hint: without it the command is read within a second.
  conn_->Exec("SELECT pg_notify('sparkplane_commands', '')").IgnoreError();
  return id;
}

Result<std::optional<nlohmann::json>> CommandRelay::AwaitAnswer(int64_t id,
                                                                std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    ASSIGN_OR_RETURN(Connection::Statement stmt,
                     conn_->Prepare("SELECT state, answer FROM relayed_commands WHERE id = ?1"));
    stmt.BindInt64(1, id);
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return NotFoundError("relayed command " + std::to_string(id) + " is gone");
    const std::string state = stmt.ColumnText(0);
    if (state == "done") {
      Result<nlohmann::json> answer = ParseJsonBounded(stmt.ColumnText(1));
      if (!answer.ok())
        return answer.status().With("the answer of relayed command " + std::to_string(id));
      return std::optional<nlohmann::json>(std::move(*answer));
    }
    if (state != "pending") {
      return FailedPreconditionError("relayed command " + std::to_string(id) + " was withdrawn");
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::optional<nlohmann::json>();
    // A notification (any command's answer) or a second, whichever comes first.
    RETURN_IF_ERROR(
        conn_->AwaitNotification(std::min(left, std::chrono::milliseconds(1000))).status());
  }
}

Result<bool> CommandRelay::Withdraw(int64_t id) {
  ASSIGN_OR_RETURN(Connection::Statement stmt,
                   conn_->Prepare("UPDATE relayed_commands SET state = 'withdrawn' WHERE id = ?1 "
                                  "AND state = 'pending' RETURNING id"));
  stmt.BindInt64(1, id);
  return stmt.Step();
}

Result<std::unique_ptr<CommandInbox>> CommandInbox::Open(const std::string& url) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn,
                   OpenMigrated(url, "LISTEN sparkplane_commands"));
  return std::unique_ptr<CommandInbox>(new CommandInbox(std::move(conn)));
}

Result<std::vector<RelayedCommand>> CommandInbox::Pending(int limit,
                                                          const std::set<int>& partitions) {
  ASSIGN_OR_RETURN(
      Connection::Statement stmt,
      conn_->Prepare(std::string("SELECT id, request, sender FROM relayed_commands "
                                 "WHERE state = 'pending' AND expires_at > ") +
                     kDatabaseNowMs + " AND partition = ANY(?2::int[]) ORDER BY id LIMIT ?1"));
  stmt.BindInt64(1, limit);
  stmt.BindText(2, "{" + JoinNumbers(partitions) + "}");
  return internal::ReadAll<RelayedCommand>(
      stmt,
      [](const Connection::Statement& row) {
        return RelayedCommand{row.ColumnInt64(0), row.ColumnText(1), row.ColumnText(2)};
      },
      "list relayed commands");
}

Result<bool> CommandInbox::AwaitCommand(std::chrono::milliseconds timeout) {
  return conn_->AwaitNotification(timeout);
}

Result<std::optional<nlohmann::json>> RelayOrTakeLease(
    SchedulerLease& lease, const std::string& url, const nlohmann::json& request,
    const std::string& sender, std::chrono::milliseconds wait, int partition) {
  ASSIGN_OR_RETURN(bool got, lease.TryAcquire(partition));
  if (got) return std::optional<nlohmann::json>();
  ASSIGN_OR_RETURN(std::unique_ptr<CommandRelay> relay, CommandRelay::Open(url));
  ASSIGN_OR_RETURN(int64_t id, relay->Send(request, sender, wait, partition));
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    Result<std::optional<nlohmann::json>> awaited =
        relay->AwaitAnswer(id, std::chrono::milliseconds(1000));
    if (awaited.ok() && *awaited) return awaited;
    const bool transient = !awaited.ok() && (awaited.status().code() == StatusCode::kUnavailable ||
                                             awaited.status().code() == StatusCode::kAborted);
    if (!awaited.ok() && !transient) {
      // Not applied unless answered meanwhile (then say so: a retry would apply it twice); it
      // expires anyway when `wait` is over.
      Result<bool> withdrawn = relay->Withdraw(id);
      if (withdrawn.ok() && *withdrawn) return awaited.status();
      return awaited.status().With(
          withdrawn.ok() ? "relayed command " + std::to_string(id) +
                               " was applied, but its answer could not be read"
                         : "relayed command " + std::to_string(id) +
                               " could not be withdrawn either (it may still be applied: see "
                               "`sparkplane runs list`)");
    }
    const bool late = std::chrono::steady_clock::now() >= deadline;
    if (!late && !awaited.ok()) {
      // The store is away for a moment (the relay's session reconnects on the next call); the
      // command may be taken meanwhile, so keep waiting for its answer.
      std::this_thread::sleep_for(std::chrono::milliseconds(1000));
      continue;
    }
    if (!late) {
      Result<bool> acquired = lease.TryAcquire(partition);
      if (!acquired.ok() || !*acquired) continue;
    }
    // Given up, or the lease is ours: take the command back unless it was answered meanwhile.
    Result<bool> taken_back = relay->Withdraw(id);
    if (!taken_back.ok()) {
      return taken_back.status().With("withdraw relayed command " + std::to_string(id) +
                                      " (it may still be applied: see `sparkplane runs list`)");
    }
    if (!*taken_back) {
      ASSIGN_OR_RETURN(std::optional<nlohmann::json> answer,
                       relay->AwaitAnswer(id, std::chrono::milliseconds(0)));
      if (answer) return answer;
      return InternalError("relayed command " + std::to_string(id) +
                           " is neither pending nor answered");
    }
    if (!late) return std::optional<nlohmann::json>();
    Result<std::string> holder = lease.DescribeHolder(partition);
    return UnavailableError(
        "the active scheduler (" + (holder.ok() ? *holder : std::string("unknown")) +
        ") did not take the command within " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(wait).count()) +
        " s; it was withdrawn and not applied");
  }
}

}  // namespace sp::store::postgres
