// Opening the store where the configuration says Sparkplane's state lives. A location is
//   sqlite:PATH or a plain PATH           the SQLite store (the embedded default)
//   postgresql://... or postgres://...    the PostgreSQL store (a libpq URI; key=value works too)
// Every opener migrates the database forward and refuses one written by a newer sparkplane.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/status.h"
#include "store/auth_store.h"
#include "store/postgres/lease.h"
#include "store/store.h"

namespace sp::store {

struct StoreLocation {
  enum class Kind { kSqlite, kPostgres };
  Kind kind = Kind::kSqlite;
  std::string target;  // the SQLite path, or the PostgreSQL URL
};

// InvalidArgument for an empty location or an unknown scheme ("mysql://").
Result<StoreLocation> ParseStoreLocation(const std::string& location);

// The location for messages and listings: a PostgreSQL password becomes "***".
std::string DescribeStoreLocation(const std::string& location);

Result<std::unique_ptr<Store>> OpenStore(const std::string& location);
// `connections` connections behind one Store (store_pool.h), for concurrent readers.
Result<std::unique_ptr<Store>> OpenStorePool(const std::string& location, int connections);
Result<std::unique_ptr<AuthStore>> OpenAuthStore(const std::string& location);

// The scheduler lease of a PostgreSQL store (store/postgres/lease.h) registered for this process
// (`host`, its pid, SchedulerLease::Register's `failover_timeout`); nullptr for SQLite, where the
// data directory's lock file allows one server. `partitions`: a server's `scheduler_partitions`;
// 0 for a command (it takes the database's number and does not count as a server).
Result<std::unique_ptr<postgres::SchedulerLease>> RegisterScheduler(
    const std::string& location, const std::string& host,
    std::chrono::milliseconds failover_timeout, int partitions = 0);

// The schema version this sparkplane writes (the same number for both databases).
int LatestSchemaVersion();

// The schema version of the database at `location` without migrating it (0: empty or missing);
// for `db check`. Unavailable when PostgreSQL cannot be reached.
Result<int> ReadStoreSchemaVersion(const std::string& location);

}  // namespace sp::store
