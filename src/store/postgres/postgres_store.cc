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

void PostgresStore::FenceWrites(int64_t lease_epoch) {
  std::lock_guard<std::mutex> lock(mu_);
  fence_epoch_ = lease_epoch;
}

Status PostgresStore::CheckFence() {
  if (fence_epoch_ == 0) return OkStatus();
  // FOR SHARE: a standby taking the lease over (UPDATE of this row) waits for this commit, and
  // this commit waits for a takeover in progress, so no write lands after the epoch moved.
  ASSIGN_OR_RETURN(int64_t epoch,
                   conn_->QueryInt("SELECT epoch FROM scheduler_lease WHERE id = 1 FOR SHARE"));
  if (epoch == fence_epoch_) return OkStatus();
  return FailedPreconditionError("fenced: another scheduler took this database over (lease epoch " +
                                 std::to_string(epoch) + ", ours " + std::to_string(fence_epoch_) +
                                 "); this one must stop");
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
