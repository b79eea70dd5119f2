// Schema migrations for SqliteStore: an ordered list of forward-only steps, numbered 1..N.
//
// The database records the version it is at in `PRAGMA user_version` (0 for a new file). Opening
// applies every step above that version, each in its own BEGIN IMMEDIATE transaction together
// with the version bump, so a crash mid-migration leaves the database at the last whole step and
// two processes opening the same file at once do not apply a step twice. A database whose version
// is above kLatestSchemaVersion was written by a newer sparkplane and is refused.
//
// Adding a step: append it to kMigrations in migrations.cc with the next number; never edit or
// reorder a released step.
//
// Thread safety: call with exclusive use of the Connection.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "common/status.h"
#include "store/sqlite/connection.h"

namespace sp::store::sqlite {

struct Migration {
  int version;          // the user_version after this step
  const char* summary;  // for error messages: "create the initial tables"
  const char* sql;      // one or more statements
};

inline constexpr int kLatestSchemaVersion = 6;

// The steps in order; element i brings the database to version i + 1.
std::span<const Migration> Migrations();

// Opens the database at `path` private to its owner (0600, and so its -wal and -shm files; the
// empty file is created first so it never exists at the umask's mode; ":memory:" is left as
// is) and migrates it to kLatestSchemaVersion. SqliteStore and the auth store both open this way.
Result<std::unique_ptr<Connection>> OpenMigrated(const std::string& path);

// Reads `PRAGMA user_version`.
Result<int> ReadSchemaVersion(Connection& conn);

// Brings the database to kLatestSchemaVersion; FailedPrecondition if it is already newer.
Status Migrate(Connection& conn);

// Same with an explicit list of steps (numbered 1..steps.size(), the last being the latest),
// so tests can upgrade through intermediate versions or inject a failing step.
Status Migrate(Connection& conn, std::span<const Migration> steps);

}  // namespace sp::store::sqlite
