// The schema of the SQLite store, as forward migration steps (see migrations.h).
//
// Conventions: times are INTEGER unix milliseconds (NULL when absent), JSON is TEXT (NULL for
// JSON null), sealed secrets are BLOBs (opaque bytes), enum values are their snake_case names from
// records.cc. Tables are STRICT so a wrongly typed bind fails instead of being stored.
// dag_runs has no foreign key to dags: runs and their history outlive a deleted DAG file.
#include "store/sqlite/migrations.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <string>

namespace sp::store::sqlite {
namespace {

constexpr std::array<Migration, kLatestSchemaVersion> kMigrations = {{
    {1, "create the initial tables", R"sql(
CREATE TABLE dags (
  dag_id TEXT PRIMARY KEY,
  file TEXT NOT NULL,
  paused INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  last_scheduled_logical_date INTEGER
) STRICT;

CREATE TABLE dag_runs (
  id INTEGER PRIMARY KEY,
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  run_type TEXT NOT NULL,
  logical_date INTEGER NOT NULL,
  data_interval_start INTEGER NOT NULL,
  data_interval_end INTEGER NOT NULL,
  conf TEXT,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  ended_at INTEGER,
  note TEXT NOT NULL,
  cancel_requested INTEGER NOT NULL,
  UNIQUE (dag_id, run_id)
) STRICT;
CREATE INDEX dag_runs_by_state ON dag_runs (state);
CREATE INDEX dag_runs_by_dag_logical_date ON dag_runs (dag_id, logical_date);

CREATE TABLE task_instances (
  run_id INTEGER NOT NULL REFERENCES dag_runs (id),
  task_id TEXT NOT NULL,
  state TEXT NOT NULL,
  try_number INTEGER NOT NULL,
  max_tries INTEGER NOT NULL,
  started_at INTEGER,
  ended_at INTEGER,
  next_try_at INTEGER,
  exit_code INTEGER,
  outputs TEXT,
  log_path TEXT NOT NULL,
  handle TEXT,
  reason TEXT NOT NULL,
  PRIMARY KEY (run_id, task_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE state_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id INTEGER NOT NULL,
  task_id TEXT NOT NULL,
  try_number INTEGER NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  reason TEXT NOT NULL,
  at INTEGER NOT NULL
) STRICT;
CREATE INDEX state_events_by_run ON state_events (run_id);

CREATE TABLE clusters (
  name TEXT PRIMARY KEY,
  backend TEXT NOT NULL,
  run_id INTEGER NOT NULL,
  state TEXT NOT NULL,
  handle TEXT,
  created_at INTEGER NOT NULL,
  deleted_at INTEGER
) STRICT;

CREATE TABLE connections (
  conn_id TEXT PRIMARY KEY,
  conn_type TEXT NOT NULL,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  schema TEXT NOT NULL,
  login TEXT NOT NULL,
  password_sealed BLOB NOT NULL,
  extras TEXT,
  extras_sealed BLOB NOT NULL,
  created_by_run INTEGER NOT NULL
) STRICT;
)sql"},
    {2, "add users, sessions and API tokens", R"sql(
CREATE TABLE users (
  username TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
) STRICT;
)sql"},
    {3, "count changes to runs (the API's page cache)", R"sql(
CREATE TABLE runs_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
) STRICT;
INSERT INTO runs_version (id, version) VALUES (1, 0);
CREATE TRIGGER dag_runs_inserted AFTER INSERT ON dag_runs
BEGIN UPDATE runs_version SET version = version + 1; END;
CREATE TRIGGER dag_runs_deleted AFTER DELETE ON dag_runs
BEGIN UPDATE runs_version SET version = version + 1; END;
CREATE TRIGGER dag_runs_updated AFTER UPDATE ON dag_runs
WHEN OLD.dag_id IS NOT NEW.dag_id OR OLD.run_id IS NOT NEW.run_id
  OR OLD.run_type IS NOT NEW.run_type OR OLD.logical_date IS NOT NEW.logical_date
  OR OLD.data_interval_start IS NOT NEW.data_interval_start
  OR OLD.data_interval_end IS NOT NEW.data_interval_end OR OLD.conf IS NOT NEW.conf
  OR OLD.state IS NOT NEW.state OR OLD.created_at IS NOT NEW.created_at
  OR OLD.started_at IS NOT NEW.started_at OR OLD.ended_at IS NOT NEW.ended_at
  OR OLD.note IS NOT NEW.note OR OLD.cancel_requested IS NOT NEW.cancel_requested
BEGIN UPDATE runs_version SET version = version + 1; END;
)sql"},
    // PostgreSQL's step 4 adds the scheduler lease (several schedulers on one database); a SQLite
    // file has one server by its lock, so the step records nothing here and keeps the numbers
    // of both databases the same.
    {4, "scheduler lease (PostgreSQL only)", "SELECT 1;"},
    {5, "commands relayed to the active scheduler (PostgreSQL only)", "SELECT 1;"},
    {6, "scheduler partitions (PostgreSQL only)", "SELECT 1;"},
}};

// Ends the open transaction after a failure; the failure is what the caller reports.
void RollBack(Connection& conn) {
  if (conn.InTransaction()) conn.Exec("ROLLBACK").IgnoreError();
}

Status NewerThanCode(int version, int latest) {
  return FailedPreconditionError("database schema version " + std::to_string(version) +
                                 " is newer than this sparkplane (" + std::to_string(latest) +
                                 "); upgrade sparkplane or point it at another database");
}

}  // namespace

std::span<const Migration> Migrations() {
  return kMigrations;
}

Result<std::unique_ptr<Connection>> OpenMigrated(const std::string& path) {
  if (path != ":memory:" && !path.empty()) {
    // Only a file that does not exist yet is opened here: closing a descriptor drops every
    // POSIX lock this process holds on the file, so opening and closing a database another
    // connection of this process already has open (the server has three) would drop that
    // connection's shared lock, and the next process to close its own connection would take
    // itself for the last one and delete the WAL under us (stale reads ever after).
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd >= 0) ::close(fd);
    }
    for (const char* suffix : {"", "-wal", "-shm"}) ::chmod((path + suffix).c_str(), 0600);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(path));
  RETURN_IF_ERROR(Migrate(*conn));
  return conn;
}

Result<int> ReadSchemaVersion(Connection& conn) {
  ASSIGN_OR_RETURN(int64_t version, conn.QueryInt("PRAGMA user_version"));
  return static_cast<int>(version);
}

Status Migrate(Connection& conn) {
  return Migrate(conn, kMigrations);
}

Status Migrate(Connection& conn, std::span<const Migration> steps) {
  const int latest = static_cast<int>(steps.size());
  ASSIGN_OR_RETURN(int version, ReadSchemaVersion(conn));
  if (version > latest) return NewerThanCode(version, latest);
  while (version < latest) {
    RETURN_IF_ERROR(conn.Exec("BEGIN IMMEDIATE").With("start schema migration"));
    // Another process may have migrated while we waited for the write lock: read again.
    Result<int> current = ReadSchemaVersion(conn);
    if (!current.ok()) {
      RollBack(conn);
      return current.status();
    }
    version = *current;
    if (version >= latest) {
      RollBack(conn);
      if (version > latest) return NewerThanCode(version, latest);
      break;
    }
    const Migration& step = steps[static_cast<size_t>(version)];
    if (step.version != version + 1) {
      RollBack(conn);
      return InternalError("schema migration steps are out of order: step " +
                           std::to_string(version + 1) + " says it is version " +
                           std::to_string(step.version));
    }
    Status applied = conn.Exec(step.sql);
    if (applied.ok()) {
      applied = conn.Exec("PRAGMA user_version = " + std::to_string(step.version));
    }
    if (applied.ok()) applied = conn.Exec("COMMIT");
    if (!applied.ok()) {
      RollBack(conn);
      return applied.With("schema migration to version " + std::to_string(step.version) + " (" +
                          step.summary + ")");
    }
    version = step.version;
  }
  return OkStatus();
}

}  // namespace sp::store::sqlite
