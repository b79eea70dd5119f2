// The schema of the PostgreSQL store, as forward migration steps (see migrations.h).
//
// Conventions are SQLite's (store/sqlite/migrations.cc): times are BIGINT unix milliseconds (NULL
// when absent), JSON is TEXT (NULL for JSON null), sealed secrets are BYTEA, booleans are
// integers 0/1, enum values are their snake_case names. dag_runs has no foreign key to dags.
#include "store/postgres/migrations.h"

#include <array>
#include <string>

namespace sp::store::postgres {
namespace {

struct Step {
  int version;
  const char* summary;
  const char* sql;
};

constexpr std::array<Step, kLatestSchemaVersion> kSteps = {{
    {1, "create the initial tables", R"sql(
CREATE TABLE dags (
  dag_id TEXT PRIMARY KEY,
  file TEXT NOT NULL,
  paused INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  last_scheduled_logical_date BIGINT
);

CREATE TABLE dag_runs (
  id BIGINT PRIMARY KEY,
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  run_type TEXT NOT NULL,
  logical_date BIGINT NOT NULL,
  data_interval_start BIGINT NOT NULL,
  data_interval_end BIGINT NOT NULL,
  conf TEXT,
  state TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  started_at BIGINT,
  ended_at BIGINT,
  note TEXT NOT NULL,
  cancel_requested INTEGER NOT NULL,
  UNIQUE (dag_id, run_id)
);
CREATE INDEX dag_runs_by_state ON dag_runs (state);
CREATE INDEX dag_runs_by_dag_logical_date ON dag_runs (dag_id, logical_date);

CREATE TABLE task_instances (
  run_id BIGINT NOT NULL REFERENCES dag_runs (id),
  task_id TEXT NOT NULL,
  state TEXT NOT NULL,
  try_number INTEGER NOT NULL,
  max_tries INTEGER NOT NULL,
  started_at BIGINT,
  ended_at BIGINT,
  next_try_at BIGINT,
  exit_code INTEGER,
  outputs TEXT,
  log_path TEXT NOT NULL,
  handle TEXT,
  reason TEXT NOT NULL,
  PRIMARY KEY (run_id, task_id)
);

CREATE TABLE state_events (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id BIGINT NOT NULL,
  task_id TEXT NOT NULL,
  try_number INTEGER NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  reason TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX state_events_by_run ON state_events (run_id);

CREATE TABLE clusters (
  name TEXT PRIMARY KEY,
  backend TEXT NOT NULL,
  run_id BIGINT NOT NULL,
  state TEXT NOT NULL,
  handle TEXT,
  created_at BIGINT NOT NULL,
  deleted_at BIGINT
);

CREATE TABLE connections (
  conn_id TEXT PRIMARY KEY,
  conn_type TEXT NOT NULL,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  schema TEXT NOT NULL,
  login TEXT NOT NULL,
  password_sealed BYTEA NOT NULL,
  extras TEXT,
  extras_sealed BYTEA NOT NULL,
  created_by_run BIGINT NOT NULL
);
)sql"},
    {2, "add users, sessions and API tokens", R"sql(
CREATE TABLE users (
  username TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  revoked_at BIGINT
);
)sql"},
    {3, "count changes to runs (the API's page cache)", R"sql(
CREATE TABLE runs_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version BIGINT NOT NULL
);
INSERT INTO runs_version (id, version) VALUES (1, 0);
CREATE FUNCTION sparkplane_runs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE runs_version SET version = version + 1;
  RETURN NULL;
END $$;
CREATE TRIGGER dag_runs_inserted_or_deleted AFTER INSERT OR DELETE ON dag_runs
  FOR EACH ROW EXECUTE FUNCTION sparkplane_runs_changed();
CREATE TRIGGER dag_runs_updated AFTER UPDATE ON dag_runs
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION sparkplane_runs_changed();
)sql"},
    {4, "scheduler instances and the scheduler lease", R"sql(
CREATE TABLE schedulers (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  host TEXT NOT NULL,
  pid INTEGER NOT NULL,
  started_at BIGINT NOT NULL,
  heartbeat_at BIGINT NOT NULL,
  session_pid INTEGER,
  active_epoch BIGINT,
  stopped_at BIGINT
);
CREATE TABLE scheduler_lease (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  epoch BIGINT NOT NULL,
  holder BIGINT
);
INSERT INTO scheduler_lease (id, epoch, holder) VALUES (1, 0, NULL);
-- The fence every write of a lease holder passes first, in its own transaction: FOR SHARE waits
-- for a takeover in progress (which updates the row) and then sees its epoch.
CREATE FUNCTION sparkplane_fence(expected BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM scheduler_lease WHERE id = 1 AND epoch = expected FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'fenced: another scheduler took this database over (the lease epoch moved '
                    'past ours, %); this one must stop', expected USING ERRCODE = 'SP001';
  END IF;
END $$;
)sql"},
    {5, "commands relayed to the active scheduler", R"sql(
-- Commands given where no scheduler acts (store/postgres/command_relay.h): the active one takes
-- them (woken by NOTIFY) and answers each in the transaction of the decision it caused.
CREATE TABLE relayed_commands (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request TEXT NOT NULL,
  sender TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'withdrawn')),
  answer TEXT,
  created_at BIGINT NOT NULL,
  -- After this (database clock) the command is never applied: its sender has given up.
  expires_at BIGINT NOT NULL,
  answered_at BIGINT
);
CREATE INDEX relayed_commands_pending ON relayed_commands (id) WHERE state = 'pending';
CREATE FUNCTION sparkplane_answer_command(command BIGINT, answer_text TEXT) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE relayed_commands SET state = 'done', answer = answer_text,
    answered_at = (extract(epoch FROM clock_timestamp()) * 1000)::bigint
    WHERE id = command AND state = 'pending'
      AND expires_at > (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'relayed command % was withdrawn by its sender, expired or answered already',
      command USING ERRCODE = 'SP002';
  END IF;
  PERFORM pg_notify('sparkplane_answers', command::text);
END $$;
)sql"},
    {6, "scheduler partitions: several active schedulers", R"sql(
-- With `scheduler_partitions` above 1, every DAG belongs to one of that many partitions (a hash of
-- its id) and each lease row is one partition's, taken by one scheduler at a time
-- (store/postgres/lease.h): several schedulers act at once, each on the DAGs of its partitions.
ALTER TABLE scheduler_lease DROP CONSTRAINT scheduler_lease_id_check;
ALTER TABLE scheduler_lease ADD CONSTRAINT scheduler_lease_partition CHECK (id BETWEEN 1 AND 64);
-- Servers share the partitions out; a command registers too but takes at most one, for a moment.
ALTER TABLE schedulers ADD COLUMN serves BOOLEAN NOT NULL DEFAULT true;
-- A server counts in the others' shares once it can take partitions up (its loop runs).
ALTER TABLE schedulers ADD COLUMN sharing BOOLEAN NOT NULL DEFAULT false;
-- The partition whose holder applies the command (1 with a single scheduler lease).
ALTER TABLE relayed_commands ADD COLUMN partition INTEGER NOT NULL DEFAULT 1;
-- The fence of a holder of several partitions: every one must still be at its epoch.
CREATE FUNCTION sparkplane_fence_partitions(ids INTEGER[], epochs BIGINT[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  kept INTEGER;
BEGIN
  SELECT count(*) INTO kept FROM (SELECT l.id FROM scheduler_lease l
    JOIN unnest(ids, epochs) AS e(id, epoch) ON l.id = e.id AND l.epoch = e.epoch
    FOR SHARE OF l) AS k;
  IF kept <> cardinality(ids) THEN
    RAISE EXCEPTION 'fenced: another scheduler took over a partition of this one (epochs %); '
                    'this one must stop', epochs USING ERRCODE = 'SP001';
  END IF;
END $$;
)sql"},
}};

Status NewerThanCode(int version) {
  return FailedPreconditionError("database schema version " + std::to_string(version) +
                                 " is newer than this sparkplane (" +
                                 std::to_string(kLatestSchemaVersion) +
                                 "); upgrade sparkplane or point it at another database");
}

Status MigrateLocked(Connection& conn) {
  RETURN_IF_ERROR(
      conn.Exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLockKey) + ")"));
  RETURN_IF_ERROR(conn.Exec(
      "CREATE TABLE IF NOT EXISTS sparkplane_schema (id INTEGER PRIMARY KEY CHECK (id = 1), "
      "version INTEGER NOT NULL); "
      "INSERT INTO sparkplane_schema (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING"));
  ASSIGN_OR_RETURN(int version, ReadSchemaVersion(conn));
  if (version > kLatestSchemaVersion) return NewerThanCode(version);
  for (const Step& step : kSteps) {
    if (step.version <= version) continue;
    Status applied = conn.Exec(step.sql);
    if (applied.ok()) {
      applied = conn.Exec("UPDATE sparkplane_schema SET version = " + std::to_string(step.version));
    }
    if (!applied.ok()) {
      return applied.With("schema migration to version " + std::to_string(step.version) + " (" +
                          step.summary + ")");
    }
  }
  return OkStatus();
}

}  // namespace

Result<int> ReadSchemaVersion(Connection& conn) {
  ASSIGN_OR_RETURN(int64_t exists,
                   conn.QueryInt("SELECT count(*) FROM pg_tables WHERE schemaname = "
                                 "current_schema() AND tablename = 'sparkplane_schema'"));
  if (exists == 0) return 0;
  ASSIGN_OR_RETURN(int64_t version,
                   conn.QueryInt("SELECT coalesce(max(version), 0) FROM sparkplane_schema"));
  return static_cast<int>(version);
}

Status Migrate(Connection& conn) {
  // A current schema is read without the migration lock: a process frozen inside the locked
  // transaction below (SIGSTOP, a paused VM) would otherwise hold up every other sparkplane
  // process's connection until PostgreSQL ends that transaction (a minute), a standby's takeover
  // included.
  ASSIGN_OR_RETURN(int current, ReadSchemaVersion(conn));
  if (current == kLatestSchemaVersion) return OkStatus();
  if (current > kLatestSchemaVersion) return NewerThanCode(current);
  RETURN_IF_ERROR(conn.Begin().With("start schema migration"));
  Status s = MigrateLocked(conn);
  if (s.ok()) s = conn.CommitTransaction();
  if (!s.ok()) conn.RollBackIfOpen();
  return s;
}

Result<std::unique_ptr<Connection>> OpenMigrated(const std::string& url,
                                                 const std::string& settings) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Open(url, settings));
  RETURN_IF_ERROR(Migrate(*conn));
  return conn;
}

}  // namespace sp::store::postgres
