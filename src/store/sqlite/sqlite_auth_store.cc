// The AuthStore on its own connection to the scheduler's SQLite database (WAL lets it read while
// the scheduler writes): store/internal/sql_auth_store.h on a SQLite connection.
#include <utility>

#include "store/auth_store.h"
#include "store/internal/sql_auth_store.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/migrations.h"

namespace sp::store {

Result<std::unique_ptr<AuthStore>> OpenSqliteAuthStore(const std::string& path) {
  Result<std::unique_ptr<sqlite::Connection>> conn = sqlite::OpenMigrated(path);
  if (!conn.ok()) return conn.status().With("open auth store '" + path + "'");
  return std::unique_ptr<AuthStore>(
      new internal::SqlAuthStore<sqlite::Connection>(std::move(conn).value()));
}

}  // namespace sp::store
