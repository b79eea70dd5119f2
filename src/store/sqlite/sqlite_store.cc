// SqliteStore: Store on SQLite; the reads and writes are SqlStore's (store/internal/sql_store.h).
#include "store/sqlite/sqlite_store.h"

#include <utility>

#include "store/sqlite/migrations.h"

namespace sp::store {

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path) {
  Result<std::unique_ptr<sqlite::Connection>> conn = sqlite::OpenMigrated(path);
  if (!conn.ok()) return conn.status().With("open store " + internal::Quoted(path));
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(conn).value()));
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(path));
  return std::unique_ptr<Store>(std::move(store));
}

SqliteStore::SqliteStore(std::unique_ptr<sqlite::Connection> conn) : SqlStore(std::move(conn)) {}

Result<int> SqliteStore::SchemaVersion() {
  std::lock_guard<std::mutex> lock(mu_);
  return sqlite::ReadSchemaVersion(*conn_);
}

Result<std::string> SqliteStore::ExplainListRuns(const RunFilter& filter) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(sqlite::Statement stmt,
                   conn_->Prepare("EXPLAIN QUERY PLAN " + internal::ListRunsQuery(filter)));
  std::string plan;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return plan;
    if (!plan.empty()) plan += "\n";
    plan += stmt.ColumnText(3);  // columns: id, parent, notused, detail
  }
}

}  // namespace sp::store
