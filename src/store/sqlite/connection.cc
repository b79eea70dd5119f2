// Connection and Statement: RAII over the SQLite3 C API (see connection.h).
#include "store/sqlite/connection.h"

#include <chrono>
#include <exception>
#include <utility>

namespace sp::store::sqlite {
namespace {

// Long enough to ride out another process's checkpoint or migration, short enough that a stuck
// writer surfaces as an Aborted error the caller can retry or report.
constexpr std::chrono::milliseconds kBusyTimeout{5000};

std::string Describe(int rc, std::string_view message) {
  std::string out(message);
  out += " (sqlite ";
  out += sqlite3_errstr(rc);
  out += ", code " + std::to_string(rc) + ")";
  return out;
}

}  // namespace

Status StatusFromSqlite(int rc, std::string_view message) {
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:
      return OkStatus();
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return AbortedError("database is busy, retry the transaction: " + Describe(rc, message));
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_FULL:
      return FailedPreconditionError(Describe(rc, message));
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return AlreadyExistsError(Describe(rc, message));
      return InternalError(Describe(rc, message));
    default:
      return InternalError(Describe(rc, message));
  }
}

Statement::~Statement() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

void Statement::BindInt64(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Statement::BindText(int index, std::string_view value) {
  int rc =
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Statement::BindBlob(int index, std::string_view value) {
  // A zero-length blob bound from a null pointer would read back as NULL; bind an empty one.
  int rc = value.empty()
               ? sqlite3_bind_zeroblob(stmt_, index, 0)
               : sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

void Statement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

Result<bool> Statement::Step() {
  if (bind_rc_ != SQLITE_OK) {
    return StatusFromSqlite(bind_rc_,
                            std::string("cannot bind a parameter of: ") + sqlite3_sql(stmt_));
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return StatusFromSqlite(sqlite3_extended_errcode(sqlite3_db_handle(stmt_)),
                          sqlite3_errmsg(sqlite3_db_handle(stmt_)));
}

Status Statement::Run() {
  for (;;) {
    ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return OkStatus();
  }
}

bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

int64_t Statement::ColumnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}

std::string Statement::ColumnText(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);  // after _text(), as SQLite requires
  if (text == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

std::string Statement::ColumnBlob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr) return std::string();
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

std::string Statement::ColumnName(int column) const {
  const char* name = sqlite3_column_name(stmt_, column);
  return name != nullptr ? name : "?";
}

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);  // a handle is allocated even when opening fails
    return StatusFromSqlite(rc, "cannot open database '" + path + "': " + message);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(kBusyTimeout.count()));
  std::unique_ptr<Connection> conn(new Connection(db, path));

  // journal_mode answers with the mode in effect: "wal", or "memory" for an in-memory database.
  ASSIGN_OR_RETURN(Statement mode, conn->Prepare("PRAGMA journal_mode=WAL"));
  ASSIGN_OR_RETURN(bool row, mode.Step());
  std::string journal = row ? mode.ColumnText(0) : "";
  if (journal != "wal" && journal != "memory") {
    return FailedPreconditionError("database '" + path +
                                   "' cannot use write-ahead logging (journal mode is '" + journal +
                                   "'); put it on a local file system");
  }
  RETURN_IF_ERROR(conn->Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"));
  ASSIGN_OR_RETURN(int64_t fk, conn->QueryInt("PRAGMA foreign_keys"));
  if (fk != 1) {
    return FailedPreconditionError("this SQLite library was built without foreign keys");
  }
  return conn;
}

Connection::~Connection() {
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  statements_.clear();
  sqlite3_close(db_);  // the last connection to close also checkpoints and removes the WAL
}

Result<Statement> Connection::Prepare(const std::string& sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return Statement(it->second);
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size() + 1),
                              SQLITE_PREPARE_PERSISTENT, &stmt, &tail);
  if (rc != SQLITE_OK) {
    return StatusFromSqlite(sqlite3_extended_errcode(db_),
                            std::string(sqlite3_errmsg(db_)) + " in SQL: " + sql);
  }
  if (stmt == nullptr) return InternalError("empty SQL statement");
  statements_.emplace(sql, stmt);
  return Statement(stmt);
}

Status Connection::Exec(const std::string& sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
  if (rc == SQLITE_OK) return OkStatus();
  std::string message = error != nullptr ? error : sqlite3_errmsg(db_);
  sqlite3_free(error);
  return StatusFromSqlite(sqlite3_extended_errcode(db_), message);
}

Result<int64_t> Connection::QueryInt(const std::string& sql) {
  ASSIGN_OR_RETURN(Statement stmt, Prepare(sql));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return InternalError("no result from: " + sql);
  return stmt.ColumnInt64(0);
}

bool Connection::InTransaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

Status Connection::Begin() {
  ASSIGN_OR_RETURN(Statement stmt, Prepare("BEGIN IMMEDIATE"));
  return stmt.Run();
}

Status Connection::CommitTransaction() {
  ASSIGN_OR_RETURN(Statement stmt, Prepare("COMMIT"));
  return stmt.Run();
}

void Connection::RollBackIfOpen() {
  // SQLite rolls back by itself after some errors (SQLITE_FULL, SQLITE_NOMEM).
  if (!InTransaction()) return;
  Result<Statement> stmt = Prepare("ROLLBACK");
  if (stmt.ok()) stmt->Run().IgnoreError();
}

int64_t Connection::Changes() const {
  return sqlite3_changes64(db_);
}

}  // namespace sp::store::sqlite
