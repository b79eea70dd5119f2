// Connection and Statement: a thin RAII layer over libpq for PostgresStore, with the same shape
// as store/sqlite/connection.h so that store/internal/sql_store.h serves both databases.
//
// SQL is written with SQLite's `?N` parameters; Prepare() renumbers them densely as `$1..$k` in
// order of first appearance (PostgreSQL must infer a type for every `$i` up to the largest, so a
// query that leaves out `?3` must not ask for `$4`), and a bind of a parameter the query does not
// use is ignored. Statements are prepared once per session (PQprepare) and cached by SQL text.
// Values travel as text, except bytes (BindBlob) which travel in binary.
//
// Connection loss: a call that finds the session gone answers Unavailable and the next call
// outside a transaction reconnects, waiting at least a backoff (100 ms doubling to 5 s) between
// attempts, so a PostgreSQL restart costs the callers a few Unavailable answers, never a crash.
// A transaction whose session died is never resumed on a new one: the caller rolls back and
// starts again.
//
// Error mapping (SQLSTATE):
//   08xxx, 57P01-57P03, a dead session      -> Unavailable (retry later)
//   40001, 40P01, 55P03, 57014              -> Aborted (retry the transaction)
//   23505 (unique violation)                -> AlreadyExists (message names the constraint)
//   SP001 (sparkplane_fence: a fenced writer) -> FailedPrecondition
//   SP002 (sparkplane_answer_command: a withdrawn command) -> FailedPrecondition
//   anything else                           -> Internal, with PostgreSQL's message
//
// Thread safety: none. A Connection is used by one thread at a time (the stores hold a mutex).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "store/internal/typed_columns.h"

struct pg_conn;
struct pg_result;

namespace sp::store::postgres {

// Milliseconds since the epoch on the database's clock, as an SQL expression: liveness and
// expiry are measured with it, never with a host's clock.
inline constexpr char kDatabaseNowMs[] = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint";

class Connection;

// A prepared statement's execution: bind, then Step() through the rows (or Run()).
class Statement : public internal::TypedColumns<Statement> {
 public:
  Statement(Connection* conn, std::string name, std::vector<int> slots, int params);
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are 1-based and numbered as in the SQL text (`?N`).
  void BindInt64(int index, int64_t value);
  void BindText(int index, std::string_view value);
  void BindBlob(int index, std::string_view value);
  void BindNull(int index);

  // Runs the statement on the first call; true while a row is available.
  Result<bool> Step();
  Status Run();

  // Columns are 0-based; valid after Step() returned true.
  bool IsNull(int column) const;
  int64_t ColumnInt64(int column) const;
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;  // a bytea column
  std::string ColumnName(int column) const;
  // BindTime, BindOptionalTime, BindOptionalInt, BindJson, ColumnTime, ColumnOptionalTime,
  // ColumnOptionalInt and ColumnJson: internal::TypedColumns.

 private:
  friend class Connection;
  // The dense `$i` slot of SQL parameter `index`, or -1 when the query does not use it.
  int Slot(int index) const;
  // The bound values as libpq takes them (NULL for SQL NULL).
  std::vector<const char*> Values() const;
  std::vector<int> Lengths() const;
  void Set(int index, std::optional<std::string> value, int format);

  Connection* conn_;
  std::string name_;
  std::vector<int> slots_;  // ?N - 1 -> $i - 1, or -1
  std::vector<std::optional<std::string>> values_;
  std::vector<int> formats_;
  pg_result* result_ = nullptr;
  bool executed_ = false;
  int row_ = -1;
  int rows_ = 0;
};

class Connection {
 public:
  using Statement = ::sp::store::postgres::Statement;

  // Connects to `url` (a libpq connection URI or key=value string) with a connect timeout,
  // application_name=sparkplane, UTF-8 and UTC. The error names the server, never the password.
  // `settings` (SET statements) are applied to this session and to every reconnected one.
  static Result<std::unique_ptr<Connection>> Open(const std::string& url,
                                                  const std::string& settings = "");
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Result<Statement> Prepare(const std::string& sql);
  // Runs one or more statements without parameters (schema scripts).
  Status Exec(const std::string& sql);
  Result<int64_t> QueryInt(const std::string& sql);

  Status Begin();
  Status CommitTransaction();
  void RollBackIfOpen();

  // Waits up to `timeout` for a notification on a channel this session listens to (LISTEN, in
  // Open's `settings` so that a reconnected session listens again); true when one or more came
  // (all are taken). A notification is a hint: callers read the table it is about either way.
  // Unavailable when the session is gone (the next call reconnects).
  Result<bool> AwaitNotification(std::chrono::milliseconds timeout);

  // Pipelined writes (one round trip for a whole commit): after StartPipeline(), Begin, Prepare
  // (of a new statement) and Statement::Run only queue their command (a read, Step, is an
  // error); FinishPipeline(commit) queues COMMIT when asked, sends everything with
  // one sync and reads every result in order, returning the first failure (the transaction is
  // then aborted: RollBackIfOpen). The failure names no record: callers that need the located
  // error run the same writes again without a pipeline.
  Status StartPipeline();
  Status FinishPipeline(bool commit);
  bool InTransaction() const { return in_transaction_; }
  int64_t Changes() const { return changes_; }

  // The server without credentials ("127.0.0.1:5432/sparkplane"), for messages.
  const std::string& where() const { return where_; }

 private:
  friend class ::sp::store::postgres::Statement;
  Connection(pg_conn* conn, std::string url, std::string where, std::string settings);

  // Reconnects a lost session when outside a transaction and the backoff allows.
  Status EnsureConnected();
  // The Status of a finished command (nullptr: the session failed), noting a lost session.
  Status Check(pg_result* result, std::string_view what);
  // Sends a bound statement inside a pipeline.
  Status Queue(const Statement& stmt);
  Status SetUpSession();

  pg_conn* conn_;
  std::string url_;
  std::string where_;
  std::string settings_;
  struct Prepared {
    std::string name;
    std::vector<int> slots;
    int params = 0;
  };
  std::unordered_map<std::string, Prepared> prepared_;
  int next_statement_ = 0;
  bool in_transaction_ = false;
  bool pipelining_ = false;
  int queued_ = 0;                                 // commands sent in this pipeline
  std::vector<std::string> prepared_in_pipeline_;  // their SQL, forgotten if it fails
  bool lost_ = false;  // the session died; reconnect before the next command
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{0};
  int64_t changes_ = 0;
};

// True for a URL this module opens: postgresql://, postgres:// or a key=value string with host=.
bool IsPostgresUrl(std::string_view url);

// `url` with its password (if any) replaced by "***", for messages and `db check`.
std::string RedactUrl(const std::string& url);

}  // namespace sp::store::postgres
