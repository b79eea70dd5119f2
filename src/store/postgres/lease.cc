// SchedulerLease (see lease.h).
#include "store/postgres/lease.h"

#include <utility>

#include "store/internal/sql_store.h"
#include "store/postgres/migrations.h"

namespace sp::store::postgres {
namespace {

// Any constant: the session advisory lock of the active scheduler.
constexpr char kLeaseLock[] = "7265816432015524";
// The 64-bit key of an advisory lock row of pg_locks.
constexpr char kLockKey[] = "((k.classid::bigint << 32) | k.objid::bigint)";
// Advisory locks are per database: only this one's count.
constexpr char kThisDatabase[] =
    "k.database = (SELECT oid FROM pg_database WHERE datname = current_database())";

}  // namespace

Result<std::unique_ptr<SchedulerLease>> SchedulerLease::Register(
    const std::string& url, const std::string& host, int pid,
    std::chrono::milliseconds failover_timeout) {
  // A frozen holder's session ends after failover_timeout without a command, releasing the lock.
  ASSIGN_OR_RETURN(
      std::unique_ptr<Connection> conn,
      OpenMigrated(url, "SET idle_session_timeout = " + std::to_string(failover_timeout.count())));
  std::unique_ptr<SchedulerLease> lease(new SchedulerLease(std::move(conn), failover_timeout));
  // Instances (commands included) silent for a week are history: forget them.
  RETURN_IF_ERROR(lease->conn_->Exec(
      std::string("DELETE FROM schedulers WHERE heartbeat_at < ") + kDatabaseNowMs +
      " - 7 * 86400000 AND id <> coalesce((SELECT holder FROM scheduler_lease WHERE id = 1), 0)"));
  ASSIGN_OR_RETURN(Connection::Statement stmt,
                   lease->conn_->Prepare(std::string("INSERT INTO schedulers (host, pid, "
                                                     "started_at, heartbeat_at, session_pid) "
                                                     "VALUES (?1, ?2, ") +
                                         kDatabaseNowMs + ", " + kDatabaseNowMs +
                                         ", pg_backend_pid()) RETURNING id"));
  stmt.BindText(1, host);
  stmt.BindInt64(2, pid);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return InternalError("registering the scheduler instance returned no id");
  lease->instance_ = stmt.ColumnInt64(0);
  return lease;
}

void SchedulerLease::DropLock() {
  // The session's only advisory lock is the lease's, taken once per successful try: let go of
  // every hold (a try repeated after an error would otherwise leave one behind, and with it a
  // lease nobody can take while this session lives).
  conn_->Exec("SELECT pg_advisory_unlock_all()").IgnoreError();
  epoch_ = 0;
}

Result<bool> SchedulerLease::TryAcquire() {
  ASSIGN_OR_RETURN(int64_t got, conn_->QueryInt(std::string("SELECT pg_try_advisory_lock(") +
                                                kLeaseLock + ")::int"));
  if (got != 1) return false;
  Result<bool> taken = TakeOver();
  if (!taken.ok() || !*taken) DropLock();
  return taken;
}

Result<bool> SchedulerLease::TakeOver() {
  // A holder whose last heartbeat is older than PostgreSQL's own start lost its session to a
  // restart, not by dying: it gets failover_timeout after the start to take its lease back
  // (Reclaim) before a standby may take over.
  ASSIGN_OR_RETURN(
      int64_t wait_for_holder,
      conn_->QueryInt(std::string("SELECT count(*) FROM scheduler_lease l JOIN schedulers s ON "
                                  "s.id = l.holder, (SELECT (extract(epoch FROM "
                                  "pg_postmaster_start_time()) * 1000)::bigint AS ms) p "
                                  "WHERE l.id = 1 AND l.holder <> ") +
                      std::to_string(instance_) + " AND s.stopped_at IS NULL AND " +
                      "s.heartbeat_at < p.ms AND " + kDatabaseNowMs + " < p.ms + " +
                      std::to_string(failover_timeout_.count())));
  if (wait_for_holder != 0) return false;
  RETURN_IF_ERROR(conn_->Begin());
  Result<Connection::Statement> bump = conn_->Prepare(
      "UPDATE scheduler_lease SET epoch = epoch + 1, holder = ?1 WHERE id = 1 "
      "RETURNING epoch");
  Status s = bump.status();
  if (s.ok()) {
    bump->BindInt64(1, instance_);
    Result<bool> row = bump->Step();
    s = row.ok() ? (*row ? OkStatus() : InternalError("the scheduler lease row is missing"))
                 : row.status();
    if (s.ok()) epoch_ = bump->ColumnInt64(0);
  }
  if (s.ok()) {
    Result<Connection::Statement> mark =
        conn_->Prepare("UPDATE schedulers SET active_epoch = ?2 WHERE id = ?1");
    s = mark.status();
    if (s.ok()) {
      mark->BindInt64(1, instance_);
      mark->BindInt64(2, epoch_);
      s = mark->Run();
    }
  }
  if (s.ok()) s = conn_->CommitTransaction();
  if (!s.ok()) {
    conn_->RollBackIfOpen();
    return s.With("take the scheduler lease");
  }
  return true;
}

Result<std::string> SchedulerLease::DescribeHolder() {
  ASSIGN_OR_RETURN(
      Connection::Statement stmt,
      conn_->Prepare(
          std::string("SELECT s.id, s.host, s.pid FROM scheduler_lease l JOIN schedulers s ON "
                      "s.id = l.holder JOIN pg_locks k ON k.locktype = 'advisory' AND k.granted "
                      "AND ") +
          kThisDatabase + " AND " + kLockKey + " = " + kLeaseLock + " WHERE l.id = 1"));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::string("none");
  return "instance " + std::to_string(stmt.ColumnInt64(0)) + " on host " + stmt.ColumnText(1) +
         " (pid " + std::to_string(stmt.ColumnInt64(2)) + ")";
}

Status SchedulerLease::Heartbeat() {
  // Also whether this session still holds the lock: a session that died and was reconnected
  // (Connection reconnects by itself) no longer does, even before anyone took over.
  ASSIGN_OR_RETURN(
      Connection::Statement stmt,
      conn_->Prepare(std::string("UPDATE schedulers SET heartbeat_at = ") + kDatabaseNowMs +
                     ", session_pid = pg_backend_pid() WHERE id = ?1 RETURNING "
                     "(SELECT holder FROM scheduler_lease "
                     "WHERE id = 1 AND epoch = ?2), EXISTS (SELECT 1 FROM pg_locks k "
                     "WHERE k.locktype = 'advisory' AND k.granted AND k.pid = "
                     "pg_backend_pid() AND " +
                     kLockKey + " = " + kLeaseLock + ")::int"));
  stmt.BindInt64(1, instance_);
  stmt.BindInt64(2, epoch_);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (epoch_ == 0) return OkStatus();  // a standby: only the heartbeat
  if (!row || stmt.IsNull(0) || stmt.ColumnInt64(0) != instance_) {
    return FailedPreconditionError("another scheduler took the lease over (ours was epoch " +
                                   std::to_string(epoch_) + ")");
  }
  if (stmt.ColumnInt64(1) != 1) {
    return UnavailableError("this scheduler's database session ended, and its lock with it");
  }
  return OkStatus();
}

Status SchedulerLease::Reclaim() {
  ASSIGN_OR_RETURN(int64_t got, conn_->QueryInt(std::string("SELECT pg_try_advisory_lock(") +
                                                kLeaseLock + ")::int"));
  if (got != 1) {
    return FailedPreconditionError("another scheduler holds the lease lock now (ours was epoch " +
                                   std::to_string(epoch_) + ")");
  }
  // Nobody took over while the lock was free if the lease still names us at our epoch: anyone
  // else would have moved the epoch before writing.
  Result<int64_t> ours = conn_->QueryInt(
      "SELECT count(*) FROM scheduler_lease WHERE id = 1 AND epoch = " + std::to_string(epoch_) +
      " AND holder = " + std::to_string(instance_));
  if (ours.ok() && *ours == 1) return OkStatus();
  const int64_t epoch = epoch_;
  DropLock();  // unsure or not ours: hold nothing (the next Reclaim asks again)
  if (!ours.ok()) {
    epoch_ = epoch;
    return UnavailableError(ours.status().message()).With("confirm the scheduler lease");
  }
  return FailedPreconditionError("another scheduler took the lease over (ours was epoch " +
                                 std::to_string(epoch) + ")");
}

void SchedulerLease::Release() {
  conn_
      ->Exec(std::string("UPDATE schedulers SET stopped_at = ") + kDatabaseNowMs +
             " WHERE id = " + std::to_string(instance_))
      .IgnoreError();
  if (epoch_ != 0) DropLock();
}

LeaseKeeper::LeaseKeeper(SchedulerLease* lease, std::function<void(const Status&)> on_lost,
                         std::function<void(const std::string&)> warn)
    : lease_(lease),
      on_lost_(std::move(on_lost)),
      warn_(std::move(warn)),
      last_ok_(std::chrono::steady_clock::now()),
      thread_([this] { Run(); }) {}

LeaseKeeper::~LeaseKeeper() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void LeaseKeeper::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    Status alive = lease_->Heartbeat();
    if (!alive.ok() && alive.code() != StatusCode::kFailedPrecondition) {
      // The session ended (or a command failed): take the lock back unless another instance
      // has the lease now.
      Status reclaimed = lease_->Reclaim();
      if (reclaimed.ok()) {
        warn_("the scheduler lease's session ended (" + alive.ToString() +
              "); took the lease back on a new session");
      } else if (reclaimed.code() != StatusCode::kFailedPrecondition) {
        warn_("cannot confirm the scheduler lease (" + reclaimed.ToString() +
              "); tries start again once it is confirmed");
      }
      alive = reclaimed;
    }
    if (alive.code() == StatusCode::kFailedPrecondition) {
      on_lost_(alive);
      return;
    }
    lock.lock();
    if (alive.ok()) last_ok_ = std::chrono::steady_clock::now();
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
  }
}

void LeaseKeeper::AwaitValid() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_ && std::chrono::steady_clock::now() - last_ok_ > std::chrono::seconds(3)) {
    cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
}

Result<std::vector<SchedulerInstance>> ListSchedulers(const std::string& url) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, OpenMigrated(url));
  ASSIGN_OR_RETURN(
      Connection::Statement stmt,
      conn->Prepare(std::string("SELECT s.id, s.host, s.pid, s.started_at, ") + kDatabaseNowMs +
                    " - s.heartbeat_at, s.stopped_at, (l.holder = s.id AND EXISTS (SELECT 1 FROM "
                    "pg_locks k WHERE k.locktype = 'advisory' AND k.granted AND " +
                    kThisDatabase + " AND k.pid = s.session_pid AND " + kLockKey + " = " +
                    kLeaseLock +
                    "))::int, EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = "
                    "s.session_pid AND a.datname = current_database())::int FROM schedulers s "
                    "CROSS JOIN scheduler_lease l WHERE "
                    "l.id = 1 "
                    "ORDER BY (l.holder = s.id) DESC, s.id DESC LIMIT 100"));
  return internal::ReadAll<SchedulerInstance>(
      stmt,
      [](const Connection::Statement& row) {
        SchedulerInstance s;
        s.id = row.ColumnInt64(0);
        s.host = row.ColumnText(1);
        s.pid = static_cast<int>(row.ColumnInt64(2));
        s.started_at_ms = row.ColumnInt64(3);
        s.heartbeat_age_ms = row.ColumnInt64(4);
        if (!row.IsNull(5)) s.stopped_at_ms = row.ColumnInt64(5);
        s.active = row.ColumnInt64(6) == 1;
        s.connected = row.ColumnInt64(7) == 1;
        return s;
      },
      "list schedulers");
}

Result<SchedulerHoldings> CountHoldings(const std::string& url) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, OpenMigrated(url));
  ASSIGN_OR_RETURN(
      Connection::Statement stmt,
      conn->Prepare("SELECT (SELECT count(*) FROM dag_runs WHERE state IN ('queued', 'running')), "
                    "(SELECT count(*) FROM task_instances t JOIN dag_runs r ON r.id = t.run_id "
                    "WHERE r.state IN ('queued', 'running') AND t.state IN ('queued', "
                    "'running')), (SELECT count(*) FROM clusters WHERE state <> 'deleted'), "
                    "(SELECT count(*) FROM relayed_commands WHERE state = 'pending')"));
  ASSIGN_OR_RETURN(std::vector<SchedulerHoldings> rows, internal::ReadAll<SchedulerHoldings>(
                                                            stmt,
                                                            [](const Connection::Statement& row) {
                                                              SchedulerHoldings h;
                                                              h.runs = row.ColumnInt64(0);
                                                              h.tries = row.ColumnInt64(1);
                                                              h.clusters = row.ColumnInt64(2);
                                                              h.commands = row.ColumnInt64(3);
                                                              return h;
                                                            },
                                                            "count what the scheduler holds"));
  return rows.empty() ? SchedulerHoldings{} : rows.front();
}

}  // namespace sp::store::postgres
