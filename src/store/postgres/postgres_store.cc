// PostgresStore: Store on PostgreSQL; the reads and writes are SqlStore's.
#include "store/postgres/postgres_store.h"

#include <utility>

#include "store/internal/sql_auth_store.h"
#include "store/postgres/migrations.h"

namespace sp::store {

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const std::string& url) {
  Result<std::unique_ptr<postgres::Connection>> conn = postgres::OpenMigrated(url);
  if (!conn.ok()) return conn.status().With("open store " + postgres::RedactUrl(url));
  return std::unique_ptr<PostgresStore>(new PostgresStore(std::move(conn).value()));
}

PostgresStore::PostgresStore(std::unique_ptr<postgres::Connection> conn)
    : SqlStore(std::move(conn)) {}

Result<int> PostgresStore::SchemaVersion() {
  std::lock_guard<std::mutex> lock(mu_);
  return postgres::ReadSchemaVersion(*conn_);
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url) {
  ASSIGN_OR_RETURN(std::unique_ptr<PostgresStore> store, PostgresStore::Open(url));
  return std::unique_ptr<Store>(std::move(store));
}

Result<std::unique_ptr<AuthStore>> OpenPostgresAuthStore(const std::string& url) {
  Result<std::unique_ptr<postgres::Connection>> conn = postgres::OpenMigrated(url);
  if (!conn.ok()) return conn.status().With("open auth store " + postgres::RedactUrl(url));
  return std::unique_ptr<AuthStore>(
      new internal::SqlAuthStore<postgres::Connection>(std::move(conn).value()));
}

}  // namespace sp::store
