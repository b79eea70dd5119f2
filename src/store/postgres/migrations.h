// Schema migrations for PostgresStore: forward-only steps numbered like SQLite's
// (store/sqlite/migrations.h), so version N means the same tables in both databases.
//
// The version lives in the one-row table `sparkplane_schema`. Migrate() runs in one transaction
// under a transaction-level advisory lock, so several schedulers starting at once on one database
// apply each step exactly once, and a failure leaves the database at the version it had. A
// database whose version is above kLatestSchemaVersion was written by a newer sparkplane and is
// refused.
//
// Thread safety: call with exclusive use of the Connection.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "store/postgres/connection.h"

namespace sp::store::postgres {

inline constexpr int kLatestSchemaVersion = 3;

// The version of the database (0 for an empty one).
Result<int> ReadSchemaVersion(Connection& conn);

// Brings the database to kLatestSchemaVersion; FailedPrecondition if it is already newer.
Status Migrate(Connection& conn);

// Connects to `url` and migrates it (`migrate` false: refuses a database that is not at
// kLatestSchemaVersion instead, for `db check`).
Result<std::unique_ptr<Connection>> OpenMigrated(const std::string& url, bool migrate = true);

}  // namespace sp::store::postgres
