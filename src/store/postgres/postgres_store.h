// PostgresStore: the Store (store/store.h) kept in a PostgreSQL database, for teams that want the
// state in the database they already run and back up. The reads and writes are the SQLite
// store's (store/internal/sql_store.h) on a libpq connection (store/postgres/connection.h):
// Commit is one BEGIN ... COMMIT transaction; unique keys refuse a second run with the same key
// or (dag_id, run_id) exactly as SQLite does.
//
// A lost session (PostgreSQL restarted, the connection cut) answers Unavailable; the next call
// reconnects with backoff. The scheduler retries Unavailable commits of task events on its next
// tick, so a restart of PostgreSQL loses nothing.
//
// Thread safety: all methods may be called from any thread (one connection under a mutex; the
// HTTP API reads through a StorePool of these).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "store/auth_store.h"
#include "store/internal/sql_store.h"
#include "store/postgres/connection.h"
#include "store/store.h"

namespace sp::store {

class PostgresStore final : public internal::SqlStore<postgres::Connection> {
 public:
  // Connects to `url` and migrates the database to the latest schema.
  static Result<std::unique_ptr<PostgresStore>> Open(const std::string& url);

  Result<int> SchemaVersion();
  void FencePartitions(std::optional<std::map<int, int64_t>> epochs) override;
  // One round trip for the whole transaction (libpq's pipeline mode); on a failure other than
  // a lost session, the same writes run again one by one, which gives the error its record
  // ("task instance 't' of run 9 ...") or succeeds if the failure was transient.
  Status Commit(const Mutation& m) override;
  Result<bool> RelayedCommandAnswered(int64_t id) override;

 private:
  explicit PostgresStore(std::unique_ptr<postgres::Connection> conn);
  Status CheckFence() override;
  Status PipelinedCommit(const Mutation& m);

  // mu_; partition -> epoch (empty: every commit refused); nullopt: not fenced
  std::optional<std::map<int, int64_t>> fence_;
};

Result<std::unique_ptr<Store>> OpenPostgresStore(const std::string& url);
Result<std::unique_ptr<AuthStore>> OpenPostgresAuthStore(const std::string& url);

}  // namespace sp::store
