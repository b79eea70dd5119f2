// SqliteStore: Store on SQLite. Each record type has an Upsert* writer and a Read* row decoder
// next to each other so that the column order is written in one place per table.
//
// Thread safety: one sqlite3 connection (opened NOMUTEX) guarded by mu_; every public method holds
// mu_ for its whole duration, so reads never interleave with a Commit and cached statements are
// never used by two threads. See sqlite_store.h for why one connection is enough.
#include "store/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "store/sqlite/connection.h"
#include "store/sqlite/migrations.h"

namespace sp::store {
namespace {

using sqlite::Connection;
using sqlite::Statement;

std::string Quoted(const std::string& s) {
  return "'" + s + "'";
}

// ---- dags

constexpr char kDagColumns[] = "dag_id, file, paused, fingerprint, last_scheduled_logical_date";

Status UpsertDag(Connection& conn, const DagRecord& dag) {
  ASSIGN_OR_RETURN(Statement stmt, conn.Prepare(R"sql(
INSERT INTO dags (dag_id, file, paused, fingerprint, last_scheduled_logical_date)
VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (dag_id) DO UPDATE SET
  file = excluded.file, paused = excluded.paused, fingerprint = excluded.fingerprint,
  last_scheduled_logical_date = excluded.last_scheduled_logical_date)sql"));
  stmt.BindText(1, dag.dag_id);
  stmt.BindText(2, dag.file);
  stmt.BindInt64(3, dag.paused ? 1 : 0);
  stmt.BindText(4, dag.fingerprint);
  stmt.BindOptionalTime(5, dag.last_scheduled_logical_date);
  return stmt.Run();
}

DagRecord ReadDag(const Statement& row) {
  DagRecord dag;
  dag.dag_id = row.ColumnText(0);
  dag.file = row.ColumnText(1);
  dag.paused = row.ColumnInt64(2) != 0;
  dag.fingerprint = row.ColumnText(3);
  dag.last_scheduled_logical_date = row.ColumnOptionalTime(4);
  return dag;
}

Status DeleteDag(Connection& conn, const std::string& dag_id) {
  ASSIGN_OR_RETURN(Statement stmt, conn.Prepare("DELETE FROM dags WHERE dag_id = ?1"));
  stmt.BindText(1, dag_id);
  return stmt.Run();
}

// ---- dag_runs

// A run and everything recorded under it; cluster records only once their cluster is deleted.
Status DeleteRun(Connection& conn, int64_t id) {
  for (const char* sql : {"DELETE FROM task_instances WHERE run_id = ?1",
                          "DELETE FROM state_events WHERE run_id = ?1",
                          "DELETE FROM clusters WHERE run_id = ?1 AND state = 'deleted'",
                          "DELETE FROM dag_runs WHERE id = ?1"}) {
    ASSIGN_OR_RETURN(Statement stmt, conn.Prepare(sql));
    stmt.BindInt64(1, id);
    RETURN_IF_ERROR(stmt.Run());
  }
  return OkStatus();
}

constexpr char kRunColumns[] =
    "id, dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, conf, "
    "state, created_at, started_at, ended_at, note, cancel_requested";

std::string DescribeRun(const DagRun& run) {
  return "run " + std::to_string(run.id) + " (" + Quoted(run.run_id) + " of dag " +
         Quoted(run.dag_id) + ")";
}

// Inserts a new run (insert_only) or upserts a changed one by id.
Status WriteRun(Connection& conn, const DagRun& run, bool insert_only) {
  if (run.id <= 0) {
    return InvalidArgumentError("run id must be > 0, got " + std::to_string(run.id));
  }
  static const std::string kInsert = R"sql(
INSERT INTO dag_runs (id, dag_id, run_id, run_type, logical_date, data_interval_start,
                      data_interval_end, conf, state, created_at, started_at, ended_at, note,
                      cancel_requested)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14))sql";
  static const std::string kUpsert = kInsert + R"sql(
ON CONFLICT (id) DO UPDATE SET
  dag_id = excluded.dag_id, run_id = excluded.run_id, run_type = excluded.run_type,
  logical_date = excluded.logical_date, data_interval_start = excluded.data_interval_start,
  data_interval_end = excluded.data_interval_end, conf = excluded.conf, state = excluded.state,
  created_at = excluded.created_at, started_at = excluded.started_at,
  ended_at = excluded.ended_at, note = excluded.note,
  cancel_requested = excluded.cancel_requested)sql";
  ASSIGN_OR_RETURN(Statement stmt, conn.Prepare(insert_only ? kInsert : kUpsert));
  stmt.BindInt64(1, run.id);
  stmt.BindText(2, run.dag_id);
  stmt.BindText(3, run.run_id);
  stmt.BindText(4, RunTypeName(run.type));
  stmt.BindTime(5, run.logical_date);
  stmt.BindTime(6, run.data_interval_start);
  stmt.BindTime(7, run.data_interval_end);
  stmt.BindJson(8, run.conf);
  stmt.BindText(9, RunStateName(run.state));
  stmt.BindTime(10, run.created_at);
  stmt.BindOptionalTime(11, run.started_at);
  stmt.BindOptionalTime(12, run.ended_at);
  stmt.BindText(13, run.note);
  stmt.BindInt64(14, run.cancel_requested ? 1 : 0);
  Status s = stmt.Run();
  if (s.code() == StatusCode::kAlreadyExists &&
      s.message().find("dag_runs.id") != std::string::npos) {
    return AlreadyExistsError("run key " + std::to_string(run.id) +
                              " is already used (another process wrote a run first)");
  }
  if (s.code() == StatusCode::kAlreadyExists) {
    return AlreadyExistsError("dag " + Quoted(run.dag_id) + " already has a run " +
                              Quoted(run.run_id) + " with another id");
  }
  return s;
}

Result<DagRun> ReadRun(const Statement& row) {
  DagRun run;
  run.id = row.ColumnInt64(0);
  run.dag_id = row.ColumnText(1);
  run.run_id = row.ColumnText(2);
  std::string type = row.ColumnText(3);
  std::optional<RunType> parsed_type = ParseRunType(type);
  if (!parsed_type) return InternalError("unknown run type " + Quoted(type));
  run.type = *parsed_type;
  run.logical_date = row.ColumnTime(4);
  run.data_interval_start = row.ColumnTime(5);
  run.data_interval_end = row.ColumnTime(6);
  ASSIGN_OR_RETURN(run.conf, row.ColumnJson(7));
  std::string state = row.ColumnText(8);
  std::optional<RunState> parsed_state = ParseRunState(state);
  if (!parsed_state) return InternalError("unknown run state " + Quoted(state));
  run.state = *parsed_state;
  run.created_at = row.ColumnTime(9);
  run.started_at = row.ColumnOptionalTime(10);
  run.ended_at = row.ColumnOptionalTime(11);
  run.note = row.ColumnText(12);
  run.cancel_requested = row.ColumnInt64(13) != 0;
  return run;
}

// Runs `stmt` and decodes every row with `read`, which returns T or Result<T>.
template <typename T, typename Read>
Result<std::vector<T>> ReadAll(Statement& stmt, Read read, const char* what) {
  std::vector<T> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    Result<T> value = read(stmt);
    if (!value.ok()) return value.status().With(what);
    out.push_back(std::move(value).value());
  }
}

// The first row decoded with `read`, or nullopt.
template <typename T, typename Read>
Result<std::optional<T>> ReadOne(Statement& stmt, Read read, const char* what) {
  ASSIGN_OR_RETURN(std::vector<T> rows, (ReadAll<T>(stmt, read, what)));
  if (rows.empty()) return std::optional<T>();
  return std::optional<T>(std::move(rows.front()));
}

std::string ListRunsQuery(const RunFilter& filter) {
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM dag_runs";
  const char* glue = " WHERE ";
  if (filter.dag_id) {
    sql += glue + std::string("dag_id = ?1");
    glue = " AND ";
  }
  if (filter.state) {
    sql += glue + std::string("state = ?2");
    glue = " AND ";
  }
  if (filter.only_active) {
    sql += glue + std::string("state IN ('") + RunStateName(RunState::kQueued) + "', '" +
           RunStateName(RunState::kRunning) + "')";
    glue = " AND ";
  }
  if (filter.before_key) {
    sql += glue + std::string("id < ?5");
    glue = " AND ";
  }
  if (filter.logical_date_before) {
    sql += glue + std::string("logical_date < ?6 ORDER BY logical_date DESC, id DESC LIMIT ?3");
    return sql;
  }
  if (filter.ended_before) {
    sql += glue + std::string("ended_at < ?4 AND state IN ('") + RunStateName(RunState::kSuccess) +
           "', '" + RunStateName(RunState::kFailed) + "', '" + RunStateName(RunState::kCancelled) +
           "') ORDER BY ended_at, id LIMIT ?3";
    return sql;
  }
  sql += " ORDER BY id DESC LIMIT ?3";
  return sql;
}

// ---- task_instances

constexpr char kTaskInstanceColumns[] =
    "run_id, task_id, state, try_number, max_tries, started_at, ended_at, next_try_at, "
    "exit_code, outputs, log_path, handle, reason";

Status UpsertTaskInstance(Connection& conn, const TaskInstance& ti) {
  ASSIGN_OR_RETURN(Statement stmt, conn.Prepare(R"sql(
INSERT INTO task_instances (run_id, task_id, state, try_number, max_tries, started_at, ended_at,
                            next_try_at, exit_code, outputs, log_path, handle, reason)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
ON CONFLICT (run_id, task_id) DO UPDATE SET
  state = excluded.state, try_number = excluded.try_number, max_tries = excluded.max_tries,
  started_at = excluded.started_at, ended_at = excluded.ended_at,
  next_try_at = excluded.next_try_at, exit_code = excluded.exit_code,
  outputs = excluded.outputs, log_path = excluded.log_path, handle = excluded.handle,
  reason = excluded.reason)sql"));
  stmt.BindInt64(1, ti.run_id);
  stmt.BindText(2, ti.task_id);
  stmt.BindText(3, TaskStateName(ti.state));
  stmt.BindInt64(4, ti.try_number);
  stmt.BindInt64(5, ti.max_tries);
  stmt.BindOptionalTime(6, ti.started_at);
  stmt.BindOptionalTime(7, ti.ended_at);
  stmt.BindOptionalTime(8, ti.next_try_at);
  stmt.BindOptionalInt(9, ti.exit_code);
  stmt.BindJson(10, ti.outputs);
  stmt.BindText(11, ti.log_path);
  stmt.BindJson(12, ti.handle);
  stmt.BindText(13, ti.reason);
  return stmt.Run();
}

Result<TaskInstance> ReadTaskInstance(const Statement& row) {
  TaskInstance ti;
  ti.run_id = row.ColumnInt64(0);
  ti.task_id = row.ColumnText(1);
  std::string state = row.ColumnText(2);
  std::optional<TaskState> parsed = ParseTaskState(state);
  if (!parsed)
    return InternalError("task " + Quoted(ti.task_id) + " has unknown state " + Quoted(state));
  ti.state = *parsed;
  ti.try_number = static_cast<int>(row.ColumnInt64(3));
  ti.max_tries = static_cast<int>(row.ColumnInt64(4));
  ti.started_at = row.ColumnOptionalTime(5);
  ti.ended_at = row.ColumnOptionalTime(6);
  ti.next_try_at = row.ColumnOptionalTime(7);
  ti.exit_code = row.ColumnOptionalInt(8);
  ASSIGN_OR_RETURN(ti.outputs, row.ColumnJson(9));
  ti.log_path = row.ColumnText(10);
  ASSIGN_OR_RETURN(ti.handle, row.ColumnJson(11));
  ti.reason = row.ColumnText(12);
  return ti;
}

// ---- state_events

constexpr char kEventColumns[] =
    "run_id, task_id, try_number, from_state, to_state, reason, at, id";

Status InsertEvent(Connection& conn, const StateEvent& e) {
  ASSIGN_OR_RETURN(Statement stmt, conn.Prepare(R"sql(
INSERT INTO state_events (run_id, task_id, try_number, from_state, to_state, reason, at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7))sql"));
  stmt.BindInt64(1, e.run_id);
  stmt.BindText(2, e.task_id);
  stmt.BindInt64(3, e.try_number);
  stmt.BindText(4, e.from_state);
  stmt.BindText(5, e.to_state);
  stmt.BindText(6, e.reason);
  stmt.BindTime(7, e.at);
  return stmt.Run();
}

StateEvent ReadEvent(const Statement& row) {
  StateEvent e;
  e.run_id = row.ColumnInt64(0);
  e.task_id = row.ColumnText(1);
  e.try_number = static_cast<int>(row.ColumnInt64(2));
  e.from_state = row.ColumnText(3);
  e.to_state = row.ColumnText(4);
  e.reason = row.ColumnText(5);
  e.at = row.ColumnTime(6);
  e.id = row.ColumnInt64(7);
  return e;
}

// ---- clusters

constexpr char kClusterColumns[] = "name, backend, run_id, state, handle, created_at, deleted_at";
constexpr char kDeletedClusterState[] = "deleted";

Status UpsertCluster(Connection& conn, const ClusterRecord& c) {
  ASSIGN_OR_RETURN(Statement stmt, conn.Prepare(R"sql(
INSERT INTO clusters (name, backend, run_id, state, handle, created_at, deleted_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT (name) DO UPDATE SET
  backend = excluded.backend, run_id = excluded.run_id, state = excluded.state,
  handle = excluded.handle, created_at = excluded.created_at,
  deleted_at = excluded.deleted_at)sql"));
  stmt.BindText(1, c.name);
  stmt.BindText(2, c.backend);
  stmt.BindInt64(3, c.run_id);
  stmt.BindText(4, c.state);
  stmt.BindJson(5, c.handle);
  stmt.BindTime(6, c.created_at);
  stmt.BindOptionalTime(7, c.deleted_at);
  return stmt.Run();
}

Result<ClusterRecord> ReadCluster(const Statement& row) {
  ClusterRecord c;
  c.name = row.ColumnText(0);
  c.backend = row.ColumnText(1);
  c.run_id = row.ColumnInt64(2);
  c.state = row.ColumnText(3);
  ASSIGN_OR_RETURN(c.handle, row.ColumnJson(4));
  c.created_at = row.ColumnTime(5);
  c.deleted_at = row.ColumnOptionalTime(6);
  return c;
}

// ---- connections

constexpr char kConnectionColumns[] =
    "conn_id, conn_type, host, port, schema, login, password_sealed, extras, extras_sealed, "
    "created_by_run";

Status UpsertConnection(Connection& conn, const ConnectionRecord& c) {
  ASSIGN_OR_RETURN(Statement stmt, conn.Prepare(R"sql(
INSERT INTO connections (conn_id, conn_type, host, port, schema, login, password_sealed, extras,
                         extras_sealed, created_by_run)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
ON CONFLICT (conn_id) DO UPDATE SET
  conn_type = excluded.conn_type, host = excluded.host, port = excluded.port,
  schema = excluded.schema, login = excluded.login, password_sealed = excluded.password_sealed,
  extras = excluded.extras, extras_sealed = excluded.extras_sealed,
  created_by_run = excluded.created_by_run)sql"));
  stmt.BindText(1, c.conn_id);
  stmt.BindText(2, c.conn_type);
  stmt.BindText(3, c.host);
  stmt.BindInt64(4, c.port);
  stmt.BindText(5, c.schema);
  stmt.BindText(6, c.login);
  stmt.BindBlob(7, c.password_sealed);
  stmt.BindJson(8, c.extras);
  stmt.BindBlob(9, c.extras_sealed);
  stmt.BindInt64(10, c.created_by_run);
  return stmt.Run();
}

Result<ConnectionRecord> ReadConnection(const Statement& row) {
  ConnectionRecord c;
  c.conn_id = row.ColumnText(0);
  c.conn_type = row.ColumnText(1);
  c.host = row.ColumnText(2);
  c.port = static_cast<int>(row.ColumnInt64(3));
  c.schema = row.ColumnText(4);
  c.login = row.ColumnText(5);
  c.password_sealed = row.ColumnBlob(6);
  ASSIGN_OR_RETURN(c.extras, row.ColumnJson(7));
  c.extras_sealed = row.ColumnBlob(8);
  c.created_by_run = row.ColumnInt64(9);
  return c;
}

Status DeleteConnection(Connection& conn, const std::string& conn_id) {
  ASSIGN_OR_RETURN(Statement stmt, conn.Prepare("DELETE FROM connections WHERE conn_id = ?1"));
  stmt.BindText(1, conn_id);
  return stmt.Run();
}

Status RunCached(Connection& conn, const char* sql) {
  ASSIGN_OR_RETURN(Statement stmt, conn.Prepare(sql));
  return stmt.Run();
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  Result<std::unique_ptr<sqlite::Connection>> conn = sqlite::OpenMigrated(path);
  if (!conn.ok()) return conn.status().With("open store " + Quoted(path));
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(conn).value()));
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(path));
  return std::unique_ptr<Store>(std::move(store));
}

SqliteStore::SqliteStore(std::unique_ptr<sqlite::Connection> conn) : conn_(std::move(conn)) {}

SqliteStore::~SqliteStore() = default;

Status SqliteStore::Commit(const Mutation& m) {
  if (m.empty()) return OkStatus();
  std::lock_guard<std::mutex> lock(mu_);
  RETURN_IF_ERROR(RunCached(*conn_, "BEGIN IMMEDIATE").With("store commit"));
  Status s = ApplyLocked(m);
  if (s.ok()) s = RunCached(*conn_, "COMMIT");
  if (!s.ok()) {
    // SQLite rolls back by itself after some errors (SQLITE_FULL, SQLITE_NOMEM).
    if (conn_->InTransaction()) RunCached(*conn_, "ROLLBACK").IgnoreError();
    return s.With("store commit");
  }
  return OkStatus();
}

Status SqliteStore::ApplyLocked(const Mutation& m) {
  Connection& conn = *conn_;
  for (const DagRecord& dag : m.dags) {
    if (Status s = UpsertDag(conn, dag); !s.ok()) return s.With("dag " + Quoted(dag.dag_id));
  }
  for (const std::string& dag_id : m.delete_dags) {
    if (Status s = DeleteDag(conn, dag_id); !s.ok()) return s.With("delete dag " + Quoted(dag_id));
  }
  for (const DagRun& run : m.new_runs) {
    if (Status s = WriteRun(conn, run, /*insert_only=*/true); !s.ok())
      return s.With(DescribeRun(run));
  }
  for (const DagRun& run : m.runs) {
    if (Status s = WriteRun(conn, run, /*insert_only=*/false); !s.ok())
      return s.With(DescribeRun(run));
  }
  for (const TaskInstance& ti : m.task_instances) {
    if (Status s = UpsertTaskInstance(conn, ti); !s.ok()) {
      return s.With("task instance " + Quoted(ti.task_id) + " of run " + std::to_string(ti.run_id) +
                    " (the run must exist)");
    }
  }
  for (const StateEvent& e : m.events) {
    if (Status s = InsertEvent(conn, e); !s.ok()) {
      return s.With("state event of run " + std::to_string(e.run_id) +
                    (e.task_id.empty() ? "" : " task " + Quoted(e.task_id)));
    }
  }
  for (const ClusterRecord& c : m.clusters) {
    if (Status s = UpsertCluster(conn, c); !s.ok()) return s.With("cluster " + Quoted(c.name));
  }
  for (const ConnectionRecord& c : m.connections) {
    if (Status s = UpsertConnection(conn, c); !s.ok()) {
      return s.With("connection " + Quoted(c.conn_id));
    }
  }
  for (const std::string& conn_id : m.delete_connections) {
    if (Status s = DeleteConnection(conn, conn_id); !s.ok()) {
      return s.With("delete connection " + Quoted(conn_id));
    }
  }
  for (int64_t id : m.delete_runs) {
    if (Status s = DeleteRun(conn, id); !s.ok()) return s.With("delete run " + std::to_string(id));
  }
  return OkStatus();
}

Result<std::vector<DagRecord>> SqliteStore::ListDags() {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare(std::string("SELECT ") + kDagColumns +
                                                  " FROM dags ORDER BY dag_id"));
  return ReadAll<DagRecord>(stmt, ReadDag, "list dags");
}

Result<std::optional<DagRecord>> SqliteStore::GetDag(const std::string& dag_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare(std::string("SELECT ") + kDagColumns +
                                                  " FROM dags WHERE dag_id = ?1"));
  stmt.BindText(1, dag_id);
  return ReadOne<DagRecord>(stmt, ReadDag, "get dag");
}

Result<std::vector<DagRun>> SqliteStore::ListRuns(const RunFilter& filter) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare(ListRunsQuery(filter)));
  if (filter.dag_id) stmt.BindText(1, *filter.dag_id);
  if (filter.state) stmt.BindText(2, RunStateName(*filter.state));
  stmt.BindInt64(3, filter.limit > 0 ? filter.limit : -1);  // a negative LIMIT has no limit
  if (filter.ended_before) stmt.BindTime(4, *filter.ended_before);
  if (filter.before_key) stmt.BindInt64(5, *filter.before_key);
  if (filter.logical_date_before) stmt.BindTime(6, *filter.logical_date_before);
  return ReadAll<DagRun>(stmt, ReadRun, "list runs");
}

Result<std::optional<DagRun>> SqliteStore::GetRun(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare(std::string("SELECT ") + kRunColumns +
                                                  " FROM dag_runs WHERE id = ?1"));
  stmt.BindInt64(1, id);
  return ReadOne<DagRun>(stmt, ReadRun, "get run");
}

Result<std::optional<DagRun>> SqliteStore::FindRun(const std::string& dag_id,
                                                   const std::string& run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   conn_->Prepare(std::string("SELECT ") + kRunColumns +
                                  " FROM dag_runs WHERE dag_id = ?1 AND run_id = ?2"));
  stmt.BindText(1, dag_id);
  stmt.BindText(2, run_id);
  return ReadOne<DagRun>(stmt, ReadRun, "find run");
}

Result<std::vector<TaskInstance>> SqliteStore::ListTaskInstances(int64_t run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   conn_->Prepare(std::string("SELECT ") + kTaskInstanceColumns +
                                  " FROM task_instances WHERE run_id = ?1 ORDER BY task_id"));
  stmt.BindInt64(1, run_id);
  return ReadAll<TaskInstance>(stmt, ReadTaskInstance, "list task instances");
}

Result<std::vector<TaskInstance>> SqliteStore::ListTaskInstancesOfRuns(
    const std::vector<int64_t>& run_ids) {
  std::vector<TaskInstance> out;
  if (run_ids.empty()) return out;
  std::string keys;
  for (int64_t id : run_ids) keys += (keys.empty() ? "" : ",") + std::to_string(id);
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare(std::string("SELECT ") + kTaskInstanceColumns +
                                                  " FROM task_instances WHERE run_id IN (" + keys +
                                                  ") ORDER BY run_id, task_id"));
  return ReadAll<TaskInstance>(stmt, ReadTaskInstance, "list task instances");
}

Result<StateCounts> SqliteStore::CountStates() {
  StateCounts counts;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto [table, out] :
       {std::pair{"dag_runs", &counts.runs}, std::pair{"task_instances", &counts.task_instances}}) {
    ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare(std::string("SELECT state, count(*) FROM ") +
                                                    table + " GROUP BY state ORDER BY state"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      out->emplace_back(stmt.ColumnText(0), stmt.ColumnInt64(1));
    }
  }
  return counts;
}

Result<std::vector<StateEvent>> SqliteStore::ListEvents(int64_t run_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   conn_->Prepare(std::string("SELECT ") + kEventColumns +
                                  " FROM state_events WHERE run_id = ?1 ORDER BY id"));
  stmt.BindInt64(1, run_id);
  return ReadAll<StateEvent>(stmt, ReadEvent, "list events");
}

Result<std::vector<StateEvent>> SqliteStore::ListEventsAfter(int64_t after_id, int limit) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt,
                   conn_->Prepare(std::string("SELECT ") + kEventColumns +
                                  " FROM state_events WHERE id > ?1 ORDER BY id LIMIT ?2"));
  stmt.BindInt64(1, after_id);
  stmt.BindInt64(2, limit);
  return ReadAll<StateEvent>(stmt, ReadEvent, "list events");
}

Result<int64_t> SqliteStore::MaxEventId() {
  std::lock_guard<std::mutex> lock(mu_);
  return conn_->QueryInt("SELECT coalesce(max(id), 0) FROM state_events");
}

Result<int64_t> SqliteStore::RunsVersion() {
  std::lock_guard<std::mutex> lock(mu_);
  // Kept by triggers on dag_runs (schema version 3), whoever writes.
  return conn_->QueryInt("SELECT version FROM runs_version");
}

Result<int64_t> SqliteStore::MaxRunId() {
  std::lock_guard<std::mutex> lock(mu_);
  return conn_->QueryInt("SELECT coalesce(max(id), 0) FROM dag_runs");
}

Result<std::vector<ClusterRecord>> SqliteStore::ListClusters(bool include_deleted) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string sql = std::string("SELECT ") + kClusterColumns + " FROM clusters";
  if (!include_deleted) sql += std::string(" WHERE state != '") + kDeletedClusterState + "'";
  sql += " ORDER BY created_at, name";
  ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare(sql));
  return ReadAll<ClusterRecord>(stmt, ReadCluster, "list clusters");
}

Result<std::vector<ConnectionRecord>> SqliteStore::ListConnections() {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare(std::string("SELECT ") + kConnectionColumns +
                                                  " FROM connections ORDER BY conn_id"));
  return ReadAll<ConnectionRecord>(stmt, ReadConnection, "list connections");
}

Result<std::optional<ConnectionRecord>> SqliteStore::GetConnection(const std::string& conn_id) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare(std::string("SELECT ") + kConnectionColumns +
                                                  " FROM connections WHERE conn_id = ?1"));
  stmt.BindText(1, conn_id);
  return ReadOne<ConnectionRecord>(stmt, ReadConnection, "get connection");
}

Result<int> SqliteStore::SchemaVersion() {
  std::lock_guard<std::mutex> lock(mu_);
  return sqlite::ReadSchemaVersion(*conn_);
}

Result<std::string> SqliteStore::ExplainListRuns(const RunFilter& filter) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare("EXPLAIN QUERY PLAN " + ListRunsQuery(filter)));
  std::string plan;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return plan;
    if (!plan.empty()) plan += "\n";
    plan += stmt.ColumnText(3);  // columns: id, parent, notused, detail
  }
}

}  // namespace sp::store
