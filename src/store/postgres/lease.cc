// SchedulerLease (see lease.h).
#include "store/postgres/lease.h"

#include <thread>
#include <utility>

#include "common/join.h"
#include "store/internal/sql_store.h"
#include "store/postgres/migrations.h"

namespace sp::store::postgres {
namespace {

// Any constant: the session advisory lock of the active scheduler; partition p's is this + p - 1.
constexpr int64_t kLeaseLock = 7265816432015524;
// The 64-bit key of an advisory lock row of pg_locks.
constexpr char kLockKey[] = "((k.classid::bigint << 32) | k.objid::bigint)";
// Advisory locks are per database: only this one's count.
constexpr char kThisDatabase[] =
    "k.database = (SELECT oid FROM pg_database WHERE datname = current_database())";

std::string LockOf(int partition) {
  return std::to_string(kLeaseLock + partition - 1);
}
// The SQL key of the lock of lease row `row` (a column holding a partition number).
std::string LockOfRow(const std::string& row) {
  return "(" + std::to_string(kLeaseLock - 1) + " + " + row + ")";
}
// Whether some session holds the lock of lease row `row`.
std::string LockHeld(const std::string& row) {
  return std::string(
             "EXISTS (SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND "
             "k.granted AND ") +
         kThisDatabase + " AND " + kLockKey + " = " + LockOfRow(row) + ")";
}

std::set<int> KeysOf(const std::map<int, int64_t>& held) {
  std::set<int> keys;
  for (const auto& [p, epoch] : held) keys.insert(p);
  return keys;
}

}  // namespace

Result<std::unique_ptr<SchedulerLease>> SchedulerLease::Register(
    const std::string& url, const std::string& host, int pid,
    std::chrono::milliseconds failover_timeout, int partitions, bool serves) {
  if (partitions < 0 || partitions > kMaxPartitions) {
    return InvalidArgumentError("scheduler_partitions must be between 1 and " +
                                std::to_string(kMaxPartitions) + ", got " +
                                std::to_string(partitions));
  }
  // A frozen holder's session ends after failover_timeout without a command, releasing the lock.
  ASSIGN_OR_RETURN(
      std::unique_ptr<Connection> conn,
      OpenMigrated(url, "SET idle_session_timeout = " + std::to_string(failover_timeout.count())));
  std::unique_ptr<SchedulerLease> lease(new SchedulerLease(std::move(conn), failover_timeout));
  if (partitions > 0) RETURN_IF_ERROR(lease->SetUpPartitions(partitions));
  ASSIGN_OR_RETURN(int64_t rows, lease->conn_->QueryInt("SELECT count(*) FROM scheduler_lease"));
  lease->partitions_ = static_cast<int>(rows);
  // Instances (commands included) silent for a week are history: forget them.
  RETURN_IF_ERROR(lease->conn_->Exec(
      std::string("DELETE FROM schedulers WHERE heartbeat_at < ") + kDatabaseNowMs +
      " - 7 * 86400000 AND id NOT IN (SELECT holder FROM scheduler_lease WHERE holder IS NOT "
      "NULL)"));
  ASSIGN_OR_RETURN(Connection::Statement stmt,
                   lease->conn_->Prepare(std::string("INSERT INTO schedulers (host, pid, "
                                                     "started_at, heartbeat_at, session_pid, "
                                                     "serves) VALUES (?1, ?2, ") +
                                         kDatabaseNowMs + ", " + kDatabaseNowMs +
                                         ", pg_backend_pid(), ?3) RETURNING id"));
  stmt.BindText(1, host);
  stmt.BindInt64(2, pid);
  stmt.BindInt64(3, serves ? 1 : 0);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return InternalError("registering the scheduler instance returned no id");
  lease->instance_ = stmt.ColumnInt64(0);
  return lease;
}

Status SchedulerLease::SetUpPartitions(int partitions) {
  // A server starting at the same moment may be setting it up already: give it a few seconds.
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(int64_t rows, conn_->QueryInt("SELECT count(*) FROM scheduler_lease"));
    if (rows == partitions) return OkStatus();
    // Under the lock of every current row, so no scheduler holds one while they change (a new
    // row's lock is free: nobody can have taken it).
    std::vector<int> locked;
    auto unlock = [&] {
      for (int p : locked) DropLock(p);
    };
    bool in_use = false;
    for (int p = 1; p <= rows && !in_use; ++p) {
      Result<int64_t> got = conn_->QueryInt("SELECT pg_try_advisory_lock(" + LockOf(p) + ")::int");
      if (!got.ok()) {
        unlock();
        return got.status();
      }
      if (*got == 1) locked.push_back(p);
      in_use = *got != 1;
    }
    if (in_use) {
      unlock();
      if (attempt < 25) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      return FailedPreconditionError(
          "the database is set up for " + std::to_string(rows) +
          " scheduler partitions and a scheduler is using them; this one is configured for " +
          std::to_string(partitions) +
          " (scheduler_partitions): give every server the same setting, or stop them all to "
          "change it");
    }
    // Every row moves to a new epoch above all the old ones and loses its holder: a scheduler
    // of the old number (a standby, a server whose session a PostgreSQL restart ended) can
    // neither reclaim a partition nor write at an old epoch, and one that tries to take a
    // partition is refused (TakeOver counts the rows).
    Status s = conn_->Exec(
        "BEGIN; DELETE FROM scheduler_lease WHERE id > " + std::to_string(partitions) +
        "; INSERT INTO scheduler_lease (id, epoch, holder) SELECT g, 0, NULL FROM "
        "generate_series(1, " +
        std::to_string(partitions) +
        ") g ON CONFLICT (id) DO NOTHING; UPDATE scheduler_lease SET holder = NULL, epoch = "
        "(SELECT max(epoch) + 1 FROM scheduler_lease); COMMIT");
    if (!s.ok()) conn_->RollBackIfOpen();
    unlock();
    return s.With("set the database up for " + std::to_string(partitions) +
                  " scheduler partitions");
  }
}

int64_t SchedulerLease::epoch() const {
  auto it = held_.find(1);
  return it == held_.end() ? 0 : it->second;
}

void SchedulerLease::DropLock(int partition) {
  // Let go of every hold (a try repeated after an error, or a Reclaim on a session that was not
  // lost, takes it once more; one left behind would keep the lease from everyone while this
  // session lives).
  for (int i = 0; i < 100000; ++i) {
    Result<int64_t> released =
        conn_->QueryInt("SELECT pg_advisory_unlock(" + LockOf(partition) + ")::int");
    if (!released.ok() || *released != 1) break;
  }
  held_.erase(partition);
}

Result<bool> SchedulerLease::TryAcquire(int partition) {
  if (partition < 1 || partition > partitions_) {
    return InvalidArgumentError("no scheduler partition " + std::to_string(partition) +
                                " (the database has " + std::to_string(partitions_) + ")");
  }
  if (held_.count(partition)) return true;
  ASSIGN_OR_RETURN(int64_t got,
                   conn_->QueryInt("SELECT pg_try_advisory_lock(" + LockOf(partition) + ")::int"));
  if (got != 1) return false;
  Result<bool> taken = TakeOver(partition);
  if (!taken.ok() || !*taken) DropLock(partition);
  return taken;
}

Result<bool> SchedulerLease::TakeOver(int partition) {
  const std::string row = std::to_string(partition);
  // A holder whose last heartbeat is older than PostgreSQL's own start lost its session to a
  // restart, not by dying: it gets failover_timeout after the start to take its lease back
  // (Reclaim) before a standby may take over.
  ASSIGN_OR_RETURN(
      int64_t wait_for_holder,
      conn_->QueryInt(std::string("SELECT count(*) FROM scheduler_lease l JOIN schedulers s ON "
                                  "s.id = l.holder, (SELECT (extract(epoch FROM "
                                  "pg_postmaster_start_time()) * 1000)::bigint AS ms) p "
                                  "WHERE l.id = ") +
                      row + " AND l.holder <> " + std::to_string(instance_) +
                      " AND s.stopped_at IS NULL AND " + "s.heartbeat_at < p.ms AND " +
                      kDatabaseNowMs + " < p.ms + " + std::to_string(failover_timeout_.count())));
  if (wait_for_holder != 0) return false;
  RETURN_IF_ERROR(conn_->Begin());
  int64_t epoch = 0;
  // The partitions must still be as many as this instance counts: SetUpPartitions changes
  // their number only while it holds every row's lock, so not during this transaction.
  Result<int64_t> rows = conn_->QueryInt("SELECT count(*) FROM scheduler_lease");
  Status s = rows.status();
  if (s.ok() && *rows != partitions_) {
    s = FailedPreconditionError("the database is now set up for " + std::to_string(*rows) +
                                " scheduler partitions, this scheduler for " +
                                std::to_string(partitions_) +
                                ": restart it with scheduler_partitions: " + std::to_string(*rows));
  }
  Result<Connection::Statement> bump = conn_->Prepare(
      "UPDATE scheduler_lease SET epoch = epoch + 1, holder = ?1 WHERE id = ?2 "
      "RETURNING epoch");
  if (s.ok()) s = bump.status();
  if (s.ok()) {
    bump->BindInt64(1, instance_);
    bump->BindInt64(2, partition);
    Result<bool> found = bump->Step();
    s = found.ok() ? (*found ? OkStatus() : InternalError("the scheduler lease row is missing"))
                   : found.status();
    if (s.ok()) epoch = bump->ColumnInt64(0);
  }
  if (s.ok()) {
    Result<Connection::Statement> mark =
        conn_->Prepare("UPDATE schedulers SET active_epoch = ?2 WHERE id = ?1");
    s = mark.status();
    if (s.ok()) {
      mark->BindInt64(1, instance_);
      mark->BindInt64(2, epoch);
      s = mark->Run();
    }
  }
  if (s.ok()) s = conn_->CommitTransaction();
  if (!s.ok()) {
    conn_->RollBackIfOpen();
    return s.With("take the scheduler lease");
  }
  held_[partition] = epoch;
  return true;
}

Result<std::string> SchedulerLease::DescribeHolder(int partition) {
  ASSIGN_OR_RETURN(
      Connection::Statement stmt,
      conn_->Prepare(std::string("SELECT s.id, s.host, s.pid FROM scheduler_lease l "
                                 "JOIN schedulers s ON s.id = l.holder WHERE l.id = ") +
                     std::to_string(partition) + " AND " + LockHeld("l.id")));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::string("none");
  return "instance " + std::to_string(stmt.ColumnInt64(0)) + " on host " + stmt.ColumnText(1) +
         " (pid " + std::to_string(stmt.ColumnInt64(2)) + ")";
}

Status SchedulerLease::Heartbeat() {
  // Also whether this session still holds its locks: a session that died and was reconnected
  // (Connection reconnects by itself) no longer does, even before anyone took over. Without them
  // the heartbeat is not moved: a holder whose session a PostgreSQL restart ended keeps its
  // pre-restart heartbeat until it has taken its locks back, so others leave it the time to.
  const std::string ids = JoinNumbers(held_);
  ASSIGN_OR_RETURN(
      Connection::Statement stmt,
      conn_->Prepare(std::string("WITH locks AS (SELECT count(*) AS n FROM pg_locks k WHERE "
                                 "k.locktype = 'advisory' AND k.granted AND k.pid = "
                                 "pg_backend_pid() AND ") +
                     kLockKey + " IN (SELECT " + LockOfRow("p") +
                     " FROM unnest(?2::int[]) p)) UPDATE schedulers SET heartbeat_at = CASE "
                     "WHEN (SELECT n FROM locks) = cardinality(?2::int[]) THEN " +
                     kDatabaseNowMs +
                     " ELSE heartbeat_at END, session_pid = pg_backend_pid() WHERE id = ?1 "
                     "RETURNING (SELECT count(*) FROM scheduler_lease l WHERE l.id = "
                     "ANY(?2::int[]) AND l.holder = ?1), (SELECT n FROM locks)"));
  stmt.BindInt64(1, instance_);
  stmt.BindText(2, "{" + ids + "}");
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (held_.empty()) return OkStatus();  // a standby: only the heartbeat
  const int64_t n = static_cast<int64_t>(held_.size());
  if (!row || stmt.ColumnInt64(0) != n) {
    return FailedPreconditionError(
        "another scheduler took the lease over (ours was " +
        (partitions_ == 1 ? "epoch " + std::to_string(epoch()) : "partitions " + ids) + ")");
  }
  if (stmt.ColumnInt64(1) != n) {
    return UnavailableError("this scheduler's database session ended, and its lock with it");
  }
  return OkStatus();
}

Status SchedulerLease::Reclaim() {
  const std::map<int, int64_t> held = held_;
  for (const auto& [p, epoch] : held) {
    ASSIGN_OR_RETURN(int64_t got,
                     conn_->QueryInt("SELECT pg_try_advisory_lock(" + LockOf(p) + ")::int"));
    if (got != 1) {
      held_.clear();
      return FailedPreconditionError("another scheduler holds the lease lock now (ours was epoch " +
                                     std::to_string(epoch) + ")");
    }
    // Nobody took over while the lock was free if the lease still names us at our epoch:
    // anyone else would have moved the epoch before writing.
    Result<int64_t> ours = conn_->QueryInt(
        "SELECT count(*) FROM scheduler_lease WHERE id = " + std::to_string(p) +
        " AND epoch = " + std::to_string(epoch) + " AND holder = " + std::to_string(instance_));
    if (ours.ok() && *ours == 1) continue;
    // Unsure or not ours: hold nothing of it (the next Reclaim asks again).
    for (const auto& [q, e] : held) DropLock(q);
    if (!ours.ok()) {
      held_ = held;
      return UnavailableError(ours.status().message()).With("confirm the scheduler lease");
    }
    return FailedPreconditionError("another scheduler took the lease over (ours was epoch " +
                                   std::to_string(epoch) + ")");
  }
  return OkStatus();
}

Result<int> SchedulerLease::FairShare() {
  // Live servers: this one, and the others that take partitions up (their loop runs: one still
  // starting would leave what the others give up unscheduled), not stopped, session open.
  ASSIGN_OR_RETURN(int64_t others,
                   conn_->QueryInt("SELECT count(*) FROM schedulers s WHERE s.serves AND "
                                   "s.sharing AND s.id <> " +
                                   std::to_string(instance_) +
                                   " AND s.stopped_at IS NULL AND EXISTS (SELECT 1 FROM "
                                   "pg_stat_activity a WHERE a.pid = s.session_pid AND "
                                   "a.datname = current_database())"));
  const int64_t live = others + 1;
  return static_cast<int>((partitions_ + live - 1) / live);
}

Status SchedulerLease::StartSharing() {
  return conn_->Exec("UPDATE schedulers SET sharing = true WHERE id = " +
                     std::to_string(instance_));
}

Result<std::map<int, int64_t>> SchedulerLease::TakeShare() {
  std::map<int, int64_t> taken;
  ASSIGN_OR_RETURN(int share, FairShare());
  if (static_cast<int>(held_.size()) >= share) return taken;
  // Partitions whose lock nobody holds, starting from one that depends on this instance so that
  // servers starting together do not all try the same ones first.
  ASSIGN_OR_RETURN(Connection::Statement stmt,
                   conn_->Prepare("SELECT l.id FROM scheduler_lease l WHERE NOT " +
                                  LockHeld("l.id") + " ORDER BY (l.id + ?1) % ?2"));
  stmt.BindInt64(1, instance_);
  stmt.BindInt64(2, partitions_);
  std::vector<int> free;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    free.push_back(static_cast<int>(stmt.ColumnInt64(0)));
  }
  for (int p : free) {
    if (static_cast<int>(held_.size()) >= share) break;
    Result<bool> got = TryAcquire(p);
    if (!got.ok()) break;  // what was taken is kept and returned; the next round goes on
    if (*got) taken[p] = held_[p];
  }
  return taken;
}

Result<std::set<int>> SchedulerLease::Surplus() {
  std::set<int> surplus;
  ASSIGN_OR_RETURN(int share, FairShare());
  // The highest-numbered first: the same choice on every round.
  for (auto it = held_.rbegin();
       it != held_.rend() && static_cast<int>(held_.size() - surplus.size()) > share; ++it) {
    surplus.insert(it->first);
  }
  return surplus;
}

Status SchedulerLease::Give(const std::set<int>& partitions) {
  Status cleared =
      conn_->Exec("UPDATE scheduler_lease SET holder = NULL WHERE id IN (" +
                  JoinNumbers(partitions) + ") AND holder = " + std::to_string(instance_));
  for (int p : partitions) DropLock(p);
  return cleared;
}

void SchedulerLease::Release() {
  conn_
      ->Exec(std::string("UPDATE schedulers SET stopped_at = ") + kDatabaseNowMs +
             " WHERE id = " + std::to_string(instance_))
      .IgnoreError();
  const std::map<int, int64_t> held = held_;
  for (const auto& [p, epoch] : held) DropLock(p);
}

LeaseKeeper::LeaseKeeper(SchedulerLease* lease, std::function<void(const Status&)> on_lost,
                         std::function<void(const std::string&)> warn, PartitionOwner* owner)
    : lease_(lease),
      owner_(owner),
      dropped_(std::make_shared<std::atomic<bool>>(false)),
      told_(KeysOf(lease->held())),
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
    if (alive.ok() && owner_ != nullptr && lease_->partitions() > 1) Rebalance();
    lock.lock();
    if (alive.ok()) last_ok_ = std::chrono::steady_clock::now();
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
  }
}

void LeaseKeeper::Rebalance() {
  if (!owner_->Ready()) return;
  if (!sharing_) {
    // From now on the others count this server in their shares (and give some up for it).
    Status shared = lease_->StartSharing();
    if (!shared.ok()) {
      warn_("joining the scheduler partitions' sharing: " + shared.ToString());
      return;
    }
    sharing_ = true;
  }
  if (!dropping_.empty()) {
    // The owner no longer acts on them: let go, for a server that has fewer than its share.
    if (!dropped_->load()) return;
    Status given = lease_->Give(dropping_);
    if (!given.ok()) warn_("giving up scheduler partitions: " + given.ToString());
    for (int p : dropping_) told_.erase(p);
    dropping_.clear();
  }
  Result<std::map<int, int64_t>> taken = lease_->TakeShare();
  if (!taken.ok()) warn_("taking scheduler partitions: " + taken.status().ToString());
  Result<std::set<int>> surplus = lease_->Surplus();
  if (!surplus.ok()) warn_("sharing scheduler partitions out: " + surplus.status().ToString());
  // What the owner does not know of yet is a gain, however it was taken; a surplus it never
  // knew of (a server joined between the two looks) is given back at once.
  std::map<int, int64_t> gains;
  for (const auto& [p, epoch] : lease_->held()) {
    if (!told_.count(p)) gains[p] = epoch;
  }
  std::set<int> drops;
  std::set<int> untold;
  for (int p : surplus.ok() ? *surplus : std::set<int>()) {
    (gains.count(p) ? untold : drops).insert(p);
  }
  if (!untold.empty()) {
    Status given = lease_->Give(untold);
    if (!given.ok()) warn_("giving up scheduler partitions: " + given.ToString());
    for (int p : untold) gains.erase(p);
  }
  if (gains.empty() && drops.empty()) return;
  for (const auto& [p, epoch] : gains) told_.insert(p);
  dropping_ = drops;
  dropped_ = std::make_shared<std::atomic<bool>>(false);
  owner_->ChangePartitions(std::move(gains), std::move(drops),
                           [dropped = dropped_] { dropped->store(true); });
}

void LeaseKeeper::AwaitValid() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_ && std::chrono::steady_clock::now() - last_ok_ > std::chrono::seconds(3)) {
    cv_.wait_for(lock, std::chrono::milliseconds(100));
  }
}

Result<std::vector<SchedulerInstance>> ListSchedulers(const std::string& url) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, OpenMigrated(url));
  // The partitions an instance holds: the lease rows naming it whose lock its session holds.
  const std::string held =
      std::string(
          "(SELECT string_agg(l.id::text, ',' ORDER BY l.id) FROM scheduler_lease l "
          "WHERE l.holder = s.id AND EXISTS (SELECT 1 FROM pg_locks k WHERE "
          "k.locktype = 'advisory' AND k.granted AND ") +
      kThisDatabase + " AND k.pid = s.session_pid AND " + kLockKey + " = " + LockOfRow("l.id") +
      "))";
  ASSIGN_OR_RETURN(
      Connection::Statement stmt,
      conn->Prepare(std::string("SELECT s.id, s.host, s.pid, s.started_at, ") + kDatabaseNowMs +
                    " - s.heartbeat_at, s.stopped_at, coalesce(" + held +
                    ", ''), EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = "
                    "s.session_pid AND a.datname = current_database())::int, s.serves::int, "
                    "(SELECT count(*) FROM scheduler_lease) "
                    "FROM schedulers s ORDER BY (" +
                    held + " IS NOT NULL) DESC, s.id DESC LIMIT 100"));
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
        std::string held = row.ColumnText(6);
        for (size_t i = 0; i < held.size();) {
          size_t comma = held.find(',', i);
          if (comma == std::string::npos) comma = held.size();
          s.partitions.push_back(std::stoi(held.substr(i, comma - i)));
          i = comma + 1;
        }
        s.active = !s.partitions.empty();
        s.connected = row.ColumnInt64(7) == 1;
        s.serves = row.ColumnInt64(8) == 1;
        s.of = static_cast<int>(row.ColumnInt64(9));
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
