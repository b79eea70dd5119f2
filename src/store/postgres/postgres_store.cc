// PostgresStore: Store on PostgreSQL; the reads and writes are SqlStore's.
#include "store/postgres/postgres_store.h"

#include <utility>
#include <vector>

#include "common/join.h"
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

Status PostgresStore::Commit(const Mutation& m) {
  if (m.empty()) return OkStatus();
  std::lock_guard<std::mutex> lock(mu_);
  Status s = PipelinedCommit(m);
  if (s.ok()) return s;
  // A lost session or a lost lease (the fence, FailedPrecondition) names no record: only other
  // failures are run again statement by statement, for the error that names its record.
  if (s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kFailedPrecondition) {
    return s.With("store commit");
  }
  return CommitLocked(m);
}

Status PostgresStore::PipelinedCommit(const Mutation& m) {
  RETURN_IF_ERROR(conn_->StartPipeline());
  Status s = conn_->Begin();
  if (s.ok()) s = CheckFence();
  if (s.ok()) s = internal::ApplyMutation(*conn_, m);
  Status finished = conn_->FinishPipeline(/*commit=*/s.ok());
  if (s.ok()) s = finished;
  if (!s.ok()) conn_->RollBackIfOpen();
  return s;
}

Result<bool> PostgresStore::RelayedCommandAnswered(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(postgres::Connection::Statement stmt,
                   conn_->Prepare("SELECT count(*) FROM relayed_commands WHERE id = ?1 AND "
                                  "state = 'done'"));
  stmt.BindInt64(1, id);
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row && stmt.ColumnInt64(0) == 1;
}

void PostgresStore::FencePartitions(std::optional<std::map<int, int64_t>> epochs) {
  std::lock_guard<std::mutex> lock(mu_);
  fence_ = std::move(epochs);
}

Status PostgresStore::CheckFence() {
  if (!fence_) return OkStatus();
  if (fence_->empty()) {
    return FailedPreconditionError(
        "fenced: this scheduler holds no partition of the database, so it writes nothing");
  }
  // sparkplane_fence_partitions (migrations.cc) reads the lease rows FOR SHARE: a scheduler
  // taking one over (an UPDATE of its row) waits for this commit, and this commit waits for a
  // takeover in progress, so no write lands after an epoch moved. In a pipeline it is only
  // queued: its failure (SQLSTATE SP001, FailedPrecondition) then aborts every write after it.
  std::vector<int64_t> epochs;
  for (const auto& [partition, epoch] : *fence_) epochs.push_back(epoch);
  ASSIGN_OR_RETURN(postgres::Connection::Statement fence,
                   conn_->Prepare("SELECT sparkplane_fence_partitions(?1::int[], ?2::bigint[])"));
  fence.BindText(1, "{" + JoinNumbers(*fence_) + "}");
  fence.BindText(2, "{" + JoinNumbers(epochs) + "}");
  return fence.Run();
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
