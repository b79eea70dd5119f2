// Opening a store by location (see open.h).
#include "store/open.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <utility>
#include <vector>

#include "store/postgres/connection.h"
#include "store/postgres/migrations.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/migrations.h"
#include "store/store_pool.h"

namespace sp::store {

Result<StoreLocation> ParseStoreLocation(const std::string& location) {
  if (location.empty()) return InvalidArgumentError("the store location is empty");
  if (postgres::IsPostgresUrl(location)) {
    return StoreLocation{StoreLocation::Kind::kPostgres, location};
  }
  if (location.starts_with("sqlite:")) {
    std::string path = location.substr(7);
    if (path.starts_with("//")) path = path.substr(2);  // sqlite:///abs/path
    if (path.empty()) return InvalidArgumentError("store 'sqlite:' names no file");
    return StoreLocation{StoreLocation::Kind::kSqlite, path};
  }
  size_t scheme = location.find("://");
  if (scheme != std::string::npos) {
    return InvalidArgumentError("store '" + DescribeStoreLocation(location) +
                                "' is not SQLite (sqlite:PATH) or PostgreSQL (postgresql://...)");
  }
  return StoreLocation{StoreLocation::Kind::kSqlite, location};
}

std::string DescribeStoreLocation(const std::string& location) {
  return postgres::RedactUrl(location);
}

Result<std::unique_ptr<Store>> OpenStore(const std::string& location) {
  ASSIGN_OR_RETURN(StoreLocation where, ParseStoreLocation(location));
  if (where.kind == StoreLocation::Kind::kPostgres) return OpenPostgresStore(where.target);
  return OpenSqliteStore(where.target);
}

Result<std::unique_ptr<Store>> OpenStorePool(const std::string& location, int connections) {
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < std::max(connections, 1); ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<Store> s, OpenStore(location));
    stores.push_back(std::move(s));
  }
  return std::unique_ptr<Store>(new StorePool(std::move(stores)));
}

Result<std::unique_ptr<AuthStore>> OpenAuthStore(const std::string& location) {
  ASSIGN_OR_RETURN(StoreLocation where, ParseStoreLocation(location));
  if (where.kind == StoreLocation::Kind::kPostgres) return OpenPostgresAuthStore(where.target);
  return OpenSqliteAuthStore(where.target);
}

Result<std::unique_ptr<postgres::SchedulerLease>> RegisterScheduler(
    const std::string& location, const std::string& host,
    std::chrono::milliseconds failover_timeout, int partitions) {
  ASSIGN_OR_RETURN(StoreLocation where, ParseStoreLocation(location));
  if (where.kind != StoreLocation::Kind::kPostgres) {
    return std::unique_ptr<postgres::SchedulerLease>();
  }
  return postgres::SchedulerLease::Register(where.target, host, static_cast<int>(::getpid()),
                                            failover_timeout, partitions, partitions > 0);
}

int LatestSchemaVersion() {
  static_assert(sqlite::kLatestSchemaVersion == postgres::kLatestSchemaVersion,
                "a schema step is added to both databases with the same number");
  return sqlite::kLatestSchemaVersion;
}

Result<int> ReadStoreSchemaVersion(const std::string& location) {
  ASSIGN_OR_RETURN(StoreLocation where, ParseStoreLocation(location));
  if (where.kind == StoreLocation::Kind::kPostgres) {
    ASSIGN_OR_RETURN(std::unique_ptr<postgres::Connection> conn,
                     postgres::Connection::Open(where.target));
    return postgres::ReadSchemaVersion(*conn);
  }
  std::error_code ec;
  if (!std::filesystem::exists(where.target, ec)) return 0;  // opening would create it
  ASSIGN_OR_RETURN(std::unique_ptr<sqlite::Connection> conn,
                   sqlite::Connection::Open(where.target));
  return sqlite::ReadSchemaVersion(*conn);
}

}  // namespace sp::store
