// SqliteStore: the Store (store/store.h) kept in one SQLite database file.
//
// One connection in WAL mode (synchronous=NORMAL, foreign_keys=ON, 5 s busy timeout) with its
// prepared statements cached, guarded by one mutex: every call, read or write, takes the mutex for
// its whole duration. Reads are index lookups that take microseconds, so serializing them behind
// the scheduler's small commits costs less than a pool of connections would; it also means a
// reader never sees half of a Commit. Other processes (a second `sparkplane` CLI) may open the
// same file; SQLite's locking and the busy timeout arbitrate, and a write that still cannot get
// the lock fails with Aborted.
//
// Commit(m) is one BEGIN IMMEDIATE ... COMMIT transaction applying, in order: dags, delete_dags,
// runs, task_instances, events, clusters, connections, delete_connections. Upserts are by the
// natural keys of store.h. On any error the transaction is rolled back and nothing is written;
// the Status names the record that failed.
//
// Choices left open by store.h:
//   * ListRuns is newest first by id (ids grow as runs are created); limit <= 0 means no limit.
//   * ListClusters(include_deleted=false) leaves out clusters whose state is "deleted".
//   * DagRun ids must be > 0 (0 is the unset default); a run id already used by another run of
//     the same DAG is AlreadyExists.
//   * Lists are ordered: dags by dag_id, task instances by task_id, events in insertion order,
//     clusters by (created_at, name), connections by conn_id.
//
// The reads and writes are store/internal/sql_store.h's, shared with the PostgreSQL store.
//
// Thread safety: all methods may be called from any thread.
#pragma once

#include <memory>
#include <string>

#include "store/internal/sql_store.h"
#include "store/sqlite/connection.h"
#include "store/store.h"

namespace sp::store {

class SqliteStore final : public internal::SqlStore<sqlite::Connection> {
 public:
  // Opens (creating if needed) and migrates the database at `path` (":memory:" for a private
  // in-memory database, handy in tests).
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path);

  // The schema version of the open database (kLatestSchemaVersion once opened).
  Result<int> SchemaVersion();
  // SQLite's EXPLAIN QUERY PLAN for the query ListRuns(filter) runs, one line per step
  // ("SEARCH dag_runs USING INDEX dag_runs_by_state (state=?)"), for diagnostics and tests.
  Result<std::string> ExplainListRuns(const RunFilter& filter);

 private:
  explicit SqliteStore(std::unique_ptr<sqlite::Connection> conn);
};

}  // namespace sp::store
