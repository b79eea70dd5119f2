// Schema migrations for PostgresStore: forward-only steps numbered like SQLite's
// (store/sqlite/migrations.h), so version N means the same tables in both databases (step 4, the
// scheduler lease, adds tables only here: a SQLite file has one server by its lock).
//
// The version lives in the one-row table `sparkplane_schema`. Migrate() runs in one transaction
// under a transaction-level advisory lock, so several schedulers starting at once on one database
// apply each step exactly once, and a failure leaves the database at the version it had. A
// current database is only read (no lock, no transaction), so a process frozen while it opens a
// connection holds up no other. A database whose version is above kLatestSchemaVersion was
// written by a newer sparkplane and is refused.
//
// Thread safety: call with exclusive use of the Connection.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "store/postgres/connection.h"

namespace sp::store::postgres {

inline constexpr int kLatestSchemaVersion = 6;
// The transaction-level advisory lock that serializes migrations of one database (any constant).
inline constexpr int64_t kMigrationLockKey = 7265816432015523;

// The version of the database (0 for an empty one).
Result<int> ReadSchemaVersion(Connection& conn);

// Brings the database to kLatestSchemaVersion; FailedPrecondition if it is already newer.
Status Migrate(Connection& conn);

// Connects to `url` (with the session `settings`, see Connection::Open) and migrates it.
Result<std::unique_ptr<Connection>> OpenMigrated(const std::string& url,
                                                 const std::string& settings = "");

}  // namespace sp::store::postgres
