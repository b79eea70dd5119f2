// Connection and Statement: a thin RAII layer over the SQLite3 C API for SqliteStore.
//
// A Connection owns one sqlite3 handle and a cache of prepared statements keyed by their SQL text
// (prepared once with SQLITE_PREPARE_PERSISTENT, finalized when the Connection closes). Prepare()
// lends a cached statement out as a Statement, which resets it and clears its bindings when it goes
// out of scope, so the same SQL must not be checked out twice at once.
//
// Error mapping (see common/status.h for the retry meaning of codes):
//   SQLITE_BUSY / SQLITE_LOCKED          -> Aborted (retry the transaction)
//   SQLITE_CONSTRAINT_UNIQUE             -> AlreadyExists (a natural key is taken)
//   SQLITE_CANTOPEN / NOTADB / READONLY  -> FailedPrecondition (fix the file, then retry)
//   anything else                        -> Internal, with SQLite's message
//
// Thread safety: none. A Connection is used by one thread at a time; SqliteStore serializes
// access with its mutex (the handle is opened with SQLITE_OPEN_NOMUTEX for that reason).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/status.h"
#include "store/internal/typed_columns.h"

namespace sp::store::sqlite {

// Maps a SQLite result code to a Status (see the table above). `message` is SQLite's text.
Status StatusFromSqlite(int rc, std::string_view message);

// A prepared statement borrowed from a Connection's cache for one execution.
class Statement : public internal::TypedColumns<Statement> {
 public:
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}
  Statement(Statement&& other) noexcept : stmt_(other.stmt_), bind_rc_(other.bind_rc_) {
    other.stmt_ = nullptr;
  }
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based, as in SQLite. A failed bind is reported by the next Step().
  void BindInt64(int index, int64_t value);
  void BindText(int index, std::string_view value);
  void BindBlob(int index, std::string_view value);  // bytes that need not be UTF-8
  void BindNull(int index);

  // Advances to the next row: true when one is available, false when the statement is done.
  Result<bool> Step();
  // Runs a statement that returns no rows (INSERT/UPDATE/DELETE) to completion.
  Status Run();

  // Columns are 0-based, as in SQLite; valid after Step() returned true.
  bool IsNull(int column) const;
  int64_t ColumnInt64(int column) const;
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;
  std::string ColumnName(int column) const;
  // BindTime, BindOptionalTime, BindOptionalInt, BindJson, ColumnTime, ColumnOptionalTime,
  // ColumnOptionalInt and ColumnJson: internal::TypedColumns.

 private:
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;  // first failed bind, reported by Step()
};

class Connection {
 public:
  using Statement = ::sp::store::sqlite::Statement;

  // Opens (creating if needed) the database at `path` (":memory:" works too) and applies the
  // per-connection settings: WAL journal, synchronous=NORMAL, foreign_keys=ON, busy timeout.
  static Result<std::unique_ptr<Connection>> Open(const std::string& path);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // A cached prepared statement for `sql` (one statement, no trailing text).
  Result<Statement> Prepare(const std::string& sql);
  // Runs one or more statements without caching them (schema scripts, BEGIN/COMMIT).
  Status Exec(const std::string& sql);
  // Reads a single integer, e.g. "PRAGMA user_version".
  Result<int64_t> QueryInt(const std::string& sql);

  // True while a transaction is open (SQLite may roll one back by itself on some errors).
  bool InTransaction() const;
  // A write transaction (BEGIN IMMEDIATE: the write lock is taken now, not at the first write).
  Status Begin();
  Status CommitTransaction();
  // Rolls the open transaction back, if any (after a failure: the failure is what is reported).
  void RollBackIfOpen();
  // Rows inserted, updated or deleted by the last statement.
  int64_t Changes() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

 private:
  Connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  sqlite3* db_;
  std::string path_;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

}  // namespace sp::store::sqlite
