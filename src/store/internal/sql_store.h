// SqlStore<Conn>: the Store (store/store.h) written once for the SQL databases Sparkplane keeps
// its state in — SQLite (store/sqlite) and PostgreSQL (store/postgres). Each record type has its
// writer and row decoder next to each other, so a table's column order is written in one place
// for both databases.
//
// The SQL is the dialect both accept: `?N` parameters (the PostgreSQL connection renumbers them as
// `$N`), `INSERT ... ON CONFLICT ... DO UPDATE SET x = excluded.x`, no LIMIT when there is none.
//
// A Conn provides: Prepare(sql) -> Result<Statement> (a statement with Bind*(i, v) 1-based,
// Step(), Run() and Column*(i) 0-based), QueryInt(sql), Begin(), CommitTransaction(),
// RollBackIfOpen() and Changes() (rows changed by the last statement).
//
// Thread safety: one connection guarded by mu_; every public method holds mu_ for its whole
// duration, so reads never interleave with a Commit and a cached statement is never used by two
// threads.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

namespace sp::store::internal {

inline std::string Quoted(const std::string& s) {
  return "'" + s + "'";
}

// Runs `stmt` and decodes every row with `read`, which returns T or Result<T>.
template <typename T, typename Stmt, typename Read>
Result<std::vector<T>> ReadAll(Stmt& stmt, Read read, const char* what) {
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
template <typename T, typename Stmt, typename Read>
Result<std::optional<T>> ReadOne(Stmt& stmt, Read read, const char* what) {
  ASSIGN_OR_RETURN(std::vector<T> rows, (ReadAll<T>(stmt, read, what)));
  if (rows.empty()) return std::optional<T>();
  return std::optional<T>(std::move(rows.front()));
}

// ---- dags

constexpr char kDagColumns[] = "dag_id, file, paused, fingerprint, last_scheduled_logical_date";

template <typename Conn>
Status UpsertDag(Conn& conn, const DagRecord& dag) {
  ASSIGN_OR_RETURN(auto stmt, conn.Prepare(R"sql(
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

template <typename Row>
Result<DagRecord> ReadDag(const Row& row) {
  DagRecord dag;
  dag.dag_id = row.ColumnText(0);
  dag.file = row.ColumnText(1);
  dag.paused = row.ColumnInt64(2) != 0;
  dag.fingerprint = row.ColumnText(3);
  dag.last_scheduled_logical_date = row.ColumnOptionalTime(4);
  return dag;
}

// ---- dag_runs

constexpr char kRunColumns[] =
    "id, dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, conf, "
    "state, created_at, started_at, ended_at, note, cancel_requested";

inline std::string DescribeRun(const DagRun& run) {
  return "run " + std::to_string(run.id) + " (" + Quoted(run.run_id) + " of dag " +
         Quoted(run.dag_id) + ")";
}

// Inserts a new run (insert_only) or upserts a changed one by id.
template <typename Conn>
Status WriteRun(Conn& conn, const DagRun& run, bool insert_only) {
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
  ASSIGN_OR_RETURN(auto stmt, conn.Prepare(insert_only ? kInsert : kUpsert));
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
  if (s.code() != StatusCode::kAlreadyExists) return s;
  // The primary key is named by SQLite as the column, by PostgreSQL as the constraint.
  if (s.message().find("dag_runs.id") != std::string::npos ||
      s.message().find("dag_runs_pkey") != std::string::npos) {
    return AlreadyExistsError("run key " + std::to_string(run.id) +
                              " is already used (another process wrote a run first)");
  }
  return AlreadyExistsError("dag " + Quoted(run.dag_id) + " already has a run " +
                            Quoted(run.run_id) + " with another id");
}

template <typename Row>
Result<DagRun> ReadRun(const Row& row) {
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

// The query of ListRuns; parameters: ?1 dag_id, ?2 state, ?3 limit, ?4 ended_before,
// ?5 before_key, ?6 logical_date_before (each only when the filter has it).
inline std::string ListRunsQuery(const RunFilter& filter) {
  std::string sql = std::string("SELECT ") + kRunColumns + " FROM dag_runs";
  const char* glue = " WHERE ";
  auto where = [&](const std::string& condition) {
    sql += glue + condition;
    glue = " AND ";
  };
  if (filter.dag_id) where("dag_id = ?1");
  if (filter.state) where("state = ?2");
  if (filter.only_active) {
    where(std::string("state IN ('") + RunStateName(RunState::kQueued) + "', '" +
          RunStateName(RunState::kRunning) + "')");
  }
  if (filter.before_key) where("id < ?5");
  if (filter.logical_date_before) {
    where("logical_date < ?6");
    sql += " ORDER BY logical_date DESC, id DESC";
  } else if (filter.ended_before) {
    where(std::string("ended_at < ?4 AND state IN ('") + RunStateName(RunState::kSuccess) + "', '" +
          RunStateName(RunState::kFailed) + "', '" + RunStateName(RunState::kCancelled) + "')");
    sql += " ORDER BY ended_at, id";
  } else {
    sql += " ORDER BY id DESC";
  }
  if (filter.limit > 0) sql += " LIMIT ?3";
  return sql;
}

template <typename Stmt>
void BindListRuns(Stmt& stmt, const RunFilter& filter) {
  if (filter.dag_id) stmt.BindText(1, *filter.dag_id);
  if (filter.state) stmt.BindText(2, RunStateName(*filter.state));
  if (filter.limit > 0) stmt.BindInt64(3, filter.limit);
  if (filter.ended_before && !filter.logical_date_before) stmt.BindTime(4, *filter.ended_before);
  if (filter.before_key) stmt.BindInt64(5, *filter.before_key);
  if (filter.logical_date_before) stmt.BindTime(6, *filter.logical_date_before);
}

// ---- task_instances

constexpr char kTaskInstanceColumns[] =
    "run_id, task_id, state, try_number, max_tries, started_at, ended_at, next_try_at, "
    "exit_code, outputs, log_path, handle, reason";

template <typename Conn>
Status UpsertTaskInstance(Conn& conn, const TaskInstance& ti) {
  ASSIGN_OR_RETURN(auto stmt, conn.Prepare(R"sql(
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

template <typename Row>
Result<TaskInstance> ReadTaskInstance(const Row& row) {
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

template <typename Conn>
Status InsertEvent(Conn& conn, const StateEvent& e) {
  ASSIGN_OR_RETURN(auto stmt, conn.Prepare(R"sql(
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

template <typename Row>
Result<StateEvent> ReadEvent(const Row& row) {
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

template <typename Conn>
Status UpsertCluster(Conn& conn, const ClusterRecord& c) {
  ASSIGN_OR_RETURN(auto stmt, conn.Prepare(R"sql(
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

template <typename Row>
Result<ClusterRecord> ReadCluster(const Row& row) {
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

template <typename Conn>
Status UpsertConnection(Conn& conn, const ConnectionRecord& c) {
  ASSIGN_OR_RETURN(auto stmt, conn.Prepare(R"sql(
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

template <typename Row>
Result<ConnectionRecord> ReadConnection(const Row& row) {
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

// Runs one statement that takes `key` as ?1.
template <typename Conn, typename Key>
Status RunWithKey(Conn& conn, const char* sql, const Key& key) {
  ASSIGN_OR_RETURN(auto stmt, conn.Prepare(sql));
  if constexpr (std::is_integral_v<Key>) {
    stmt.BindInt64(1, key);
  } else {
    stmt.BindText(1, key);
  }
  return stmt.Run();
}

// A run and everything recorded under it; cluster records only once their cluster is deleted.
template <typename Conn>
Status DeleteRun(Conn& conn, int64_t id) {
  // Only a finished run: one that another process cleared back to running since retention read
  // it (a clear beside `db clean`, another scheduler's) is kept whole.
  constexpr char kFinished[] =
      " AND EXISTS (SELECT 1 FROM dag_runs WHERE id = ?1 AND state IN ('success', 'failed', "
      "'cancelled'))";
  for (std::string sql : {std::string("DELETE FROM task_instances WHERE run_id = ?1") + kFinished,
                          std::string("DELETE FROM state_events WHERE run_id = ?1") + kFinished,
                          std::string("DELETE FROM clusters WHERE run_id = ?1 AND state = "
                                      "'deleted'") +
                              kFinished,
                          std::string("DELETE FROM dag_runs WHERE id = ?1 AND state IN "
                                      "('success', 'failed', 'cancelled')")}) {
    RETURN_IF_ERROR(RunWithKey(conn, sql.c_str(), id));
  }
  return OkStatus();
}

// Applies every part of `m` in the order store.h gives; the caller owns the transaction.
template <typename Conn>
Status ApplyMutation(Conn& conn, const Mutation& m) {
  for (const DagRecord& dag : m.dags) {
    if (Status s = UpsertDag(conn, dag); !s.ok()) return s.With("dag " + Quoted(dag.dag_id));
  }
  for (const std::string& dag_id : m.delete_dags) {
    if (Status s = RunWithKey(conn, "DELETE FROM dags WHERE dag_id = ?1", dag_id); !s.ok())
      return s.With("delete dag " + Quoted(dag_id));
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
    if (Status s = RunWithKey(conn, "DELETE FROM connections WHERE conn_id = ?1", conn_id);
        !s.ok()) {
      return s.With("delete connection " + Quoted(conn_id));
    }
  }
  for (int64_t id : m.delete_runs) {
    if (Status s = DeleteRun(conn, id); !s.ok()) return s.With("delete run " + std::to_string(id));
  }
  if (m.command_answer) {
    ASSIGN_OR_RETURN(auto stmt, conn.Prepare("SELECT sparkplane_answer_command(?1, ?2)"));
    stmt.BindInt64(1, m.command_answer->id);
    stmt.BindText(2, m.command_answer->answer);
    if (Status s = stmt.Run(); !s.ok()) {
      return s.With("answer relayed command " + std::to_string(m.command_answer->id));
    }
  }
  return OkStatus();
}

template <typename Conn>
class SqlStore : public Store {
 public:
  Status Commit(const Mutation& m) override {
    if (m.empty()) return OkStatus();
    std::lock_guard<std::mutex> lock(mu_);
    return CommitLocked(m);
  }

  Result<std::vector<DagRecord>> ListDags() override {
    return Query<DagRecord>(std::string("SELECT ") + kDagColumns + " FROM dags ORDER BY dag_id",
                            ReadDag<Row>, "list dags");
  }
  Result<std::optional<DagRecord>> GetDag(const std::string& dag_id) override {
    return QueryOne<DagRecord>(
        std::string("SELECT ") + kDagColumns + " FROM dags WHERE dag_id = ?1", ReadDag<Row>,
        "get dag", [&](Row& s) { s.BindText(1, dag_id); });
  }

  Result<std::vector<DagRun>> ListRuns(const RunFilter& filter) override {
    return Query<DagRun>(ListRunsQuery(filter), ReadRun<Row>, "list runs",
                         [&](Row& s) { BindListRuns(s, filter); });
  }
  Result<std::optional<DagRun>> GetRun(int64_t id) override {
    return QueryOne<DagRun>(std::string("SELECT ") + kRunColumns + " FROM dag_runs WHERE id = ?1",
                            ReadRun<Row>, "get run", [&](Row& s) { s.BindInt64(1, id); });
  }
  Result<std::optional<DagRun>> FindRun(const std::string& dag_id,
                                        const std::string& run_id) override {
    return QueryOne<DagRun>(
        std::string("SELECT ") + kRunColumns + " FROM dag_runs WHERE dag_id = ?1 AND run_id = ?2",
        ReadRun<Row>, "find run", [&](Row& s) {
          s.BindText(1, dag_id);
          s.BindText(2, run_id);
        });
  }
  Result<std::vector<TaskInstance>> ListTaskInstances(int64_t run_id) override {
    return Query<TaskInstance>(std::string("SELECT ") + kTaskInstanceColumns +
                                   " FROM task_instances WHERE run_id = ?1 ORDER BY task_id",
                               ReadTaskInstance<Row>, "list task instances",
                               [&](Row& s) { s.BindInt64(1, run_id); });
  }
  Result<std::optional<TaskInstance>> GetTaskInstance(int64_t run_id,
                                                      const std::string& task_id) override {
    return QueryOne<TaskInstance>(std::string("SELECT ") + kTaskInstanceColumns +
                                      " FROM task_instances WHERE run_id = ?1 AND task_id = ?2",
                                  ReadTaskInstance<Row>, "get task instance", [&](Row& s) {
                                    s.BindInt64(1, run_id);
                                    s.BindText(2, task_id);
                                  });
  }
  Result<std::vector<TaskInstance>> ListTaskInstancesOfRuns(
      const std::vector<int64_t>& run_ids) override {
    if (run_ids.empty()) return std::vector<TaskInstance>();
    std::string keys;
    for (int64_t id : run_ids) keys += (keys.empty() ? "" : ",") + std::to_string(id);
    return Query<TaskInstance>(std::string("SELECT ") + kTaskInstanceColumns +
                                   " FROM task_instances WHERE run_id IN (" + keys +
                                   ") ORDER BY run_id, task_id",
                               ReadTaskInstance<Row>, "list task instances");
  }
  Result<StateCounts> CountStates() override {
    StateCounts counts;
    std::lock_guard<std::mutex> lock(mu_);
    for (auto [table, out] : {std::pair{"dag_runs", &counts.runs},
                              std::pair{"task_instances", &counts.task_instances}}) {
      ASSIGN_OR_RETURN(Row stmt, conn_->Prepare(std::string("SELECT state, count(*) FROM ") +
                                                table + " GROUP BY state ORDER BY state"));
      for (;;) {
        ASSIGN_OR_RETURN(bool row, stmt.Step());
        if (!row) break;
        out->emplace_back(stmt.ColumnText(0), stmt.ColumnInt64(1));
      }
    }
    return counts;
  }
  Result<std::vector<StateEvent>> ListEvents(int64_t run_id) override {
    return Query<StateEvent>(
        std::string("SELECT ") + kEventColumns + " FROM state_events WHERE run_id = ?1 ORDER BY id",
        ReadEvent<Row>, "list events", [&](Row& s) { s.BindInt64(1, run_id); });
  }
  Result<std::vector<StateEvent>> ListEventsAfter(int64_t after_id, int limit) override {
    return Query<StateEvent>(std::string("SELECT ") + kEventColumns +
                                 " FROM state_events WHERE id > ?1 ORDER BY id LIMIT ?2",
                             ReadEvent<Row>, "list events", [&](Row& s) {
                               s.BindInt64(1, after_id);
                               s.BindInt64(2, limit);
                             });
  }
  Result<int64_t> MaxEventId() override {
    std::lock_guard<std::mutex> lock(mu_);
    return conn_->QueryInt("SELECT coalesce(max(id), 0) FROM state_events");
  }
  Result<int64_t> RunsVersion() override {
    std::lock_guard<std::mutex> lock(mu_);
    // Kept by triggers on dag_runs (schema version 3), whoever writes.
    return conn_->QueryInt("SELECT version FROM runs_version");
  }
  Result<int64_t> MaxRunId() override {
    std::lock_guard<std::mutex> lock(mu_);
    return conn_->QueryInt("SELECT coalesce(max(id), 0) FROM dag_runs");
  }

  Result<std::vector<ClusterRecord>> ListClusters(bool include_deleted) override {
    std::string sql = std::string("SELECT ") + kClusterColumns + " FROM clusters";
    if (!include_deleted) sql += std::string(" WHERE state != '") + kDeletedClusterState + "'";
    return Query<ClusterRecord>(sql + " ORDER BY created_at, name", ReadCluster<Row>,
                                "list clusters");
  }
  Result<std::vector<ConnectionRecord>> ListConnections() override {
    return Query<ConnectionRecord>(
        std::string("SELECT ") + kConnectionColumns + " FROM connections ORDER BY conn_id",
        ReadConnection<Row>, "list connections");
  }
  Result<std::optional<ConnectionRecord>> GetConnection(const std::string& conn_id) override {
    return QueryOne<ConnectionRecord>(
        std::string("SELECT ") + kConnectionColumns + " FROM connections WHERE conn_id = ?1",
        ReadConnection<Row>, "get connection", [&](Row& s) { s.BindText(1, conn_id); });
  }

 protected:
  using Row = typename Conn::Statement;

  explicit SqlStore(std::unique_ptr<Conn> conn) : conn_(std::move(conn)) {}

  // Called in each Commit's transaction before it writes (mu_ held): refuses a fenced writer.
  virtual Status CheckFence() { return OkStatus(); }

  // Commit's transaction, statement by statement (mu_ held).
  Status CommitLocked(const Mutation& m) {
    RETURN_IF_ERROR(conn_->Begin().With("store commit"));
    Status s = CheckFence();
    if (s.ok()) s = ApplyMutation(*conn_, m);
    if (s.ok()) s = conn_->CommitTransaction();
    if (!s.ok()) {
      conn_->RollBackIfOpen();
      return s.With("store commit");
    }
    return OkStatus();
  }

  // Prepares `sql`, binds its parameters with `bind` and decodes every row with `read`.
  template <typename T, typename Read, typename Bind = void (*)(Row&)>
  Result<std::vector<T>> Query(
      const std::string& sql, Read read, const char* what, Bind bind = [](Row&) {}) {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Row stmt, conn_->Prepare(sql));
    bind(stmt);
    return ReadAll<T>(stmt, read, what);
  }
  template <typename T, typename Read, typename Bind = void (*)(Row&)>
  Result<std::optional<T>> QueryOne(
      const std::string& sql, Read read, const char* what, Bind bind = [](Row&) {}) {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Row stmt, conn_->Prepare(sql));
    bind(stmt);
    return ReadOne<T>(stmt, read, what);
  }

  std::mutex mu_;
  std::unique_ptr<Conn> conn_;  // guarded by mu_
};

}  // namespace sp::store::internal
