// Connection and Statement: RAII over libpq (see connection.h).
#include "store/postgres/connection.h"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <utility>

namespace sp::store::postgres {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{5000};

// Settings of every session: UTC for anything PostgreSQL formats, no NOTICE chatter, and bounds
// so that a stuck peer or a forgotten transaction cannot hold locks for long.
constexpr char kSessionSettings[] =
    "SET TIME ZONE 'UTC'; SET client_min_messages = warning; "
    "SET idle_in_transaction_session_timeout = '60s'; SET lock_timeout = '10s'; "
    "SET bytea_output = 'hex'";

std::string Trimmed(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

// libpq's messages on one line ("...failed: Connection refused; Is the server running...").
std::string OneLine(const std::string& message) {
  std::string out;
  for (char c : Trimmed(message)) {
    if (c == '\n') {
      out += ";";
    } else if (c == '\t') {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      if (c != ' ' && !out.empty() && out.back() == ';') out += ' ';
      out += c;
    }
  }
  return out;
}

std::string SessionError(pg_conn* conn) {
  return OneLine(PQerrorMessage(conn));
}

bool IsUnavailableState(std::string_view sqlstate) {
  return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03";
}

Status FromSqlState(std::string_view sqlstate, const std::string& message) {
  std::string described = message + " (SQLSTATE " + std::string(sqlstate) + ")";
  if (IsUnavailableState(sqlstate)) return UnavailableError(described);
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03" || sqlstate == "57014") {
    return AbortedError("database is busy, retry the transaction: " + described);
  }
  if (sqlstate == "23505") return AlreadyExistsError(described);
  if (sqlstate == "SP001") return FailedPreconditionError(message);  // sparkplane_fence()
  if (sqlstate == "SP002") return FailedPreconditionError(message);  // a withdrawn command
  return InternalError(described);
}

// The host, port and database of a session, for messages (never the password).
std::string Where(pg_conn* conn) {
  std::string host = PQhost(conn) != nullptr ? PQhost(conn) : "";
  std::string port = PQport(conn) != nullptr ? PQport(conn) : "";
  std::string db = PQdb(conn) != nullptr ? PQdb(conn) : "";
  return host + (port.empty() ? "" : ":" + port) + "/" + db;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Text that PostgreSQL accepts: valid UTF-8 without NUL (SQLite keeps any bytes; PostgreSQL's
// text refuses those two). Bad bytes become U+FFFD, as JSON values already do.
std::string ValidText(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size() && c != 0 && !(len == 2 && c < 0xc2);
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    }
    if (ok && len == 3) {
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xe0 && c1 < 0xa0) && !(c == 0xed && c1 >= 0xa0);  // overlong, surrogates
    }
    if (ok && len == 4) {
      unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xf0 && c1 < 0x90) && !(c == 0xf4 && c1 >= 0x90) && c <= 0xf4;
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

bool NeedsCleaning(std::string_view s) {
  for (unsigned char c : s) {
    if (c == 0 || c >= 0x80) return true;
  }
  return false;
}

}  // namespace

bool IsPostgresUrl(std::string_view url) {
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) return true;
  // libpq's key=value form: a first keyword libpq knows, then '='.
  size_t start = url.find_first_not_of(" \t");
  if (start == std::string_view::npos) return false;
  size_t eq = url.find('=', start);
  if (eq == std::string_view::npos) return false;
  std::string_view key = url.substr(start, eq - start);
  while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.remove_suffix(1);
  for (std::string_view known : {"host", "hostaddr", "port", "dbname", "user", "password",
                                 "service", "sslmode", "connect_timeout", "application_name"}) {
    if (key == known) return true;
  }
  return false;
}

std::string RedactUrl(const std::string& url) {
  std::string out = url;
  // URI form: scheme://user:password@host
  size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    size_t at = out.find('@', scheme + 3);
    size_t colon = out.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=... in a query string, or password = 'quoted value' in the key=value form.
  for (size_t p = out.find("password"); p != std::string::npos; p = out.find("password", p + 1)) {
    size_t eq = out.find_first_not_of(" \t", p + 8);
    if (eq == std::string::npos || out[eq] != '=') continue;
    size_t start = out.find_first_not_of(" \t", eq + 1);
    if (start == std::string::npos) break;
    size_t end = start;
    if (out[start] == '\'') {
      for (end = start + 1; end < out.size() && out[end] != '\''; ++end) {
        if (out[end] == '\\') ++end;
      }
      end = std::min(end + 1, out.size());
    } else {
      end = out.find_first_of("& \t", start);
      if (end == std::string::npos) end = out.size();
    }
    out.replace(start, end - start, "***");
  }
  return out;
}

// ---- Statement

Statement::Statement(Connection* conn, std::string name, std::vector<int> slots, int params)
    : conn_(conn),
      name_(std::move(name)),
      slots_(std::move(slots)),
      values_(static_cast<size_t>(params)),
      formats_(static_cast<size_t>(params), 0) {}

Statement::Statement(Statement&& other) noexcept
    : conn_(other.conn_),
      name_(std::move(other.name_)),
      slots_(std::move(other.slots_)),
      values_(std::move(other.values_)),
      formats_(std::move(other.formats_)),
      result_(other.result_),
      executed_(other.executed_),
      row_(other.row_),
      rows_(other.rows_) {
  other.result_ = nullptr;
}

Statement::~Statement() {
  if (result_ != nullptr) PQclear(result_);
}

int Statement::Slot(int index) const {
  if (index < 1 || static_cast<size_t>(index) > slots_.size()) return -1;
  return slots_[static_cast<size_t>(index - 1)];
}

void Statement::Set(int index, std::optional<std::string> value, int format) {
  int slot = Slot(index);
  if (slot < 0) return;
  values_[static_cast<size_t>(slot)] = std::move(value);
  formats_[static_cast<size_t>(slot)] = format;
}

void Statement::BindInt64(int index, int64_t value) {
  Set(index, std::to_string(value), 0);
}

void Statement::BindText(int index, std::string_view value) {
  Set(index, NeedsCleaning(value) ? ValidText(value) : std::string(value), 0);
}

void Statement::BindBlob(int index, std::string_view value) {
  Set(index, std::string(value), 1);
}

void Statement::BindNull(int index) {
  Set(index, std::nullopt, 0);
}

Result<bool> Statement::Step() {
  if (conn_->pipelining_) return InternalError("a read inside a pipelined write (" + name_ + ")");
  if (!executed_) {
    executed_ = true;
    std::vector<const char*> values = Values();
    std::vector<int> lengths = Lengths();
    result_ = PQexecPrepared(conn_->conn_, name_.c_str(), static_cast<int>(values_.size()),
                             values.data(), lengths.data(), formats_.data(), 0);
    RETURN_IF_ERROR(conn_->Check(result_, name_));
    rows_ = PQntuples(result_);
    const char* affected = PQcmdTuples(result_);
    conn_->changes_ = (affected != nullptr && *affected != '\0') ? std::stoll(affected) : 0;
  }
  ++row_;
  return row_ < rows_;
}

std::vector<const char*> Statement::Values() const {
  std::vector<const char*> out(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) out[i] = values_[i] ? values_[i]->data() : nullptr;
  return out;
}

std::vector<int> Statement::Lengths() const {
  std::vector<int> out(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) {
    out[i] = values_[i] ? static_cast<int>(values_[i]->size()) : 0;
  }
  return out;
}

Status Statement::Run() {
  if (conn_->pipelining_) return conn_->Queue(*this);
  for (;;) {
    ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return OkStatus();
  }
}

bool Statement::IsNull(int column) const {
  return PQgetisnull(result_, row_, column) != 0;
}

int64_t Statement::ColumnInt64(int column) const {
  if (IsNull(column)) return 0;
  return std::strtoll(PQgetvalue(result_, row_, column), nullptr, 10);
}

std::string Statement::ColumnText(int column) const {
  return std::string(PQgetvalue(result_, row_, column),
                     static_cast<size_t>(PQgetlength(result_, row_, column)));
}

std::string Statement::ColumnBlob(int column) const {
  // bytea in text output is "\x" and two hex digits a byte (bytea_output = hex, the default).
  std::string text = ColumnText(column);
  std::string out;
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') return out;
  out.reserve((text.size() - 2) / 2);
  for (size_t i = 2; i + 1 < text.size(); i += 2) {
    out += static_cast<char>(HexValue(text[i]) * 16 + HexValue(text[i + 1]));
  }
  return out;
}

std::string Statement::ColumnName(int column) const {
  return PQfname(result_, column);
}

// ---- Connection

Result<std::unique_ptr<Connection>> Connection::Open(const std::string& url,
                                                     const std::string& settings) {
  // Keywords before dbname are defaults the URL may override (libpq's expand_dbname rule).
  const char* keywords[] = {"connect_timeout", "application_name", "client_encoding", "dbname",
                            nullptr};
  const char* values[] = {"5", "sparkplane", "UTF8", url.c_str(), nullptr};
  pg_conn* conn = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
  if (conn == nullptr) return InternalError("cannot allocate a PostgreSQL connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = SessionError(conn);
    PQfinish(conn);
    return UnavailableError("cannot connect to PostgreSQL at " + RedactUrl(url) + ": " + message);
  }
  std::unique_ptr<Connection> out(new Connection(conn, url, Where(conn), settings));
  RETURN_IF_ERROR(out->SetUpSession());
  return out;
}

Connection::Connection(pg_conn* conn, std::string url, std::string where, std::string settings)
    : conn_(conn), url_(std::move(url)), where_(std::move(where)), settings_(std::move(settings)) {}

Connection::~Connection() {
  PQfinish(conn_);
}

Status Connection::SetUpSession() {
  PQsetNoticeProcessor(
      conn_, [](void*, const char*) {}, nullptr);
  RETURN_IF_ERROR(Exec(kSessionSettings));
  return settings_.empty() ? OkStatus() : Exec(settings_);
}

Status Connection::Check(pg_result* result, std::string_view what) {
  ExecStatusType status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return OkStatus();
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = result != nullptr ? OneLine(PQresultErrorMessage(result)) : "";
  if (message.empty()) message = SessionError(conn_);
  if (PQstatus(conn_) != CONNECTION_OK || (state != nullptr && IsUnavailableState(state))) {
    lost_ = true;
    return UnavailableError("lost the PostgreSQL session to " + where_ + ": " + message);
  }
  (void)what;
  return FromSqlState(state != nullptr ? state : "XX000", message);
}

Status Connection::EnsureConnected() {
  if (!lost_ && PQstatus(conn_) == CONNECTION_OK) return OkStatus();
  lost_ = true;
  if (in_transaction_) {
    return UnavailableError("the PostgreSQL session to " + where_ + " ended mid-transaction");
  }
  auto now = std::chrono::steady_clock::now();
  if (now < next_attempt_) {
    return UnavailableError(
        "PostgreSQL at " + where_ + " is unreachable; retrying in " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ - now).count()) +
        " ms");
  }
  PQreset(conn_);
  if (PQstatus(conn_) != CONNECTION_OK) {
    backoff_ = std::min(kMaxBackoff,
                        backoff_ == std::chrono::milliseconds(0) ? kFirstBackoff : backoff_ * 2);
    next_attempt_ = std::chrono::steady_clock::now() + backoff_;
    return UnavailableError("cannot reconnect to PostgreSQL at " + where_ + ": " +
                            SessionError(conn_));
  }
  prepared_.clear();  // prepared statements belong to the session that died
  lost_ = false;
  backoff_ = std::chrono::milliseconds(0);
  Status set_up = SetUpSession();
  lost_ = !set_up.ok();  // a session without its settings (a lease's timeout) is no session
  return set_up;
}

Result<Statement> Connection::Prepare(const std::string& sql) {
  RETURN_IF_ERROR(EnsureConnected());
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    // ?N -> $i, densely in order of first appearance.
    Prepared p;
    p.name = "sp" + std::to_string(++next_statement_);
    std::string text;
    text.reserve(sql.size());
    for (size_t i = 0; i < sql.size(); ++i) {
      if (sql[i] != '?' || i + 1 >= sql.size() ||
          !std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
        text += sql[i];
        continue;
      }
      size_t j = i + 1;
      int n = 0;
      while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) {
        n = n * 10 + (sql[j++] - '0');
      }
      if (n < 1) return InternalError("parameter ?0 in SQL: " + sql);
      if (static_cast<size_t>(n) > p.slots.size()) p.slots.resize(static_cast<size_t>(n), -1);
      int& slot = p.slots[static_cast<size_t>(n - 1)];
      if (slot < 0) slot = p.params++;
      text += "$" + std::to_string(slot + 1);
      i = j - 1;
    }
    if (pipelining_) {
      // Queued: its result is read with the others; a failure there forgets this statement.
      if (PQsendPrepare(conn_, p.name.c_str(), text.c_str(), 0, nullptr) != 1) {
        lost_ = PQstatus(conn_) != CONNECTION_OK;
        return UnavailableError("cannot send to PostgreSQL at " + where_ + ": " +
                                SessionError(conn_));
      }
      ++queued_;
      prepared_in_pipeline_.push_back(sql);
    } else {
      pg_result* made = PQprepare(conn_, p.name.c_str(), text.c_str(), 0, nullptr);
      Status s = Check(made, "prepare");
      if (made != nullptr) PQclear(made);
      if (!s.ok()) return s.With("in SQL: " + sql);
    }
    it = prepared_.emplace(sql, std::move(p)).first;
  }
  return Statement(this, it->second.name, it->second.slots, it->second.params);
}

Status Connection::Exec(const std::string& sql) {
  if (PQstatus(conn_) != CONNECTION_OK) lost_ = true;
  if (lost_ && !in_transaction_) RETURN_IF_ERROR(EnsureConnected());
  pg_result* result = PQexec(conn_, sql.c_str());
  Status s = Check(result, "exec");
  if (result != nullptr) {
    const char* affected = PQcmdTuples(result);
    changes_ = (affected != nullptr && *affected != '\0') ? std::stoll(affected) : 0;
    PQclear(result);
  }
  return s;
}

Result<int64_t> Connection::QueryInt(const std::string& sql) {
  ASSIGN_OR_RETURN(Statement stmt, Prepare(sql));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return InternalError("no result from: " + sql);
  return stmt.ColumnInt64(0);
}

Status Connection::Queue(const Statement& stmt) {
  std::vector<const char*> values = stmt.Values();
  std::vector<int> lengths = stmt.Lengths();
  if (PQsendQueryPrepared(conn_, stmt.name_.c_str(), static_cast<int>(values.size()), values.data(),
                          lengths.data(), stmt.formats_.data(), 0) != 1) {
    lost_ = PQstatus(conn_) != CONNECTION_OK;
    return UnavailableError("cannot send to PostgreSQL at " + where_ + ": " + SessionError(conn_));
  }
  ++queued_;
  return OkStatus();
}

Status Connection::StartPipeline() {
  RETURN_IF_ERROR(EnsureConnected());
  if (PQenterPipelineMode(conn_) != 1) {
    return InternalError("cannot enter pipeline mode: " + SessionError(conn_));
  }
  pipelining_ = true;
  queued_ = 0;
  prepared_in_pipeline_.clear();
  return OkStatus();
}

Status Connection::FinishPipeline(bool commit) {
  Status first = OkStatus();
  if (commit) {
    if (PQsendQueryParams(conn_, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1) {
      ++queued_;
    } else {
      first =
          UnavailableError("cannot send to PostgreSQL at " + where_ + ": " + SessionError(conn_));
    }
  }
  if (PQpipelineSync(conn_) != 1 && first.ok()) {
    first = UnavailableError("cannot send to PostgreSQL at " + where_ + ": " + SessionError(conn_));
  }
  // Every queued command's result (then a NULL), then the sync point's.
  for (int i = 0; i < queued_ && PQstatus(conn_) == CONNECTION_OK; ++i) {
    pg_result* r = PQgetResult(conn_);
    if (r == nullptr) continue;
    ExecStatusType status = PQresultStatus(r);
    if (status != PGRES_PIPELINE_ABORTED && first.ok()) first = Check(r, "pipeline");
    PQclear(r);
    while ((r = PQgetResult(conn_)) != nullptr) PQclear(r);
  }
  for (pg_result* r; PQstatus(conn_) == CONNECTION_OK && (r = PQgetResult(conn_)) != nullptr;) {
    bool sync = PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (sync) break;
  }
  pipelining_ = false;
  if (PQstatus(conn_) != CONNECTION_OK) {
    lost_ = true;
    if (first.ok() || first.code() != StatusCode::kUnavailable) {
      first =
          UnavailableError("lost the PostgreSQL session to " + where_ + ": " + SessionError(conn_));
    }
  } else {
    PQexitPipelineMode(conn_);
  }
  if (!first.ok()) {
    // Statements prepared in this pipeline may not exist: prepare them again (new names).
    for (const std::string& sql : prepared_in_pipeline_) prepared_.erase(sql);
  }
  if (commit && (first.ok() || lost_)) in_transaction_ = false;
  queued_ = 0;
  prepared_in_pipeline_.clear();
  return first;
}

Status Connection::Begin() {
  if (pipelining_) {
    if (PQsendQueryParams(conn_, "BEGIN", 0, nullptr, nullptr, nullptr, nullptr, 0) != 1) {
      lost_ = PQstatus(conn_) != CONNECTION_OK;
      return UnavailableError("cannot send to PostgreSQL at " + where_ + ": " +
                              SessionError(conn_));
    }
    ++queued_;
    in_transaction_ = true;
    return OkStatus();
  }
  RETURN_IF_ERROR(EnsureConnected());
  RETURN_IF_ERROR(Exec("BEGIN"));
  in_transaction_ = true;
  return OkStatus();
}

Status Connection::CommitTransaction() {
  Status s = Exec("COMMIT");
  // A COMMIT that fails has ended the transaction all the same (PostgreSQL rolls it back).
  in_transaction_ = false;
  return s;
}

void Connection::RollBackIfOpen() {
  if (!in_transaction_) return;
  in_transaction_ = false;
  if (!lost_ && PQstatus(conn_) == CONNECTION_OK) Exec("ROLLBACK").IgnoreError();
}

Result<bool> Connection::AwaitNotification(std::chrono::milliseconds timeout) {
  if (PQstatus(conn_) != CONNECTION_OK) lost_ = true;
  if (lost_) RETURN_IF_ERROR(EnsureConnected());
  auto take = [this] {
    bool any = false;
    while (PGnotify* n = PQnotifies(conn_)) {
      any = true;
      PQfreemem(n);
    }
    return any;
  };
  if (take()) return true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{PQsocket(conn_), POLLIN, 0};
    if (pfd.fd < 0) {
      lost_ = true;
      return UnavailableError("lost the PostgreSQL session to " + where_);
    }
    int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      return UnavailableError("waiting for a notification from " + where_ + " failed");
    }
    if (ready <= 0) continue;
    if (PQconsumeInput(conn_) == 0) {
      lost_ = true;
      return UnavailableError("lost the PostgreSQL session to " + where_ + ": " +
                              SessionError(conn_));
    }
    if (take()) return true;
  }
}

}  // namespace sp::store::postgres
