// SqlAuthStore<Conn>: the AuthStore (store/auth_store.h) written once for SQLite and PostgreSQL,
// on its own connection (so HTTP logins never wait on the scheduler's writes). A Conn is as in
// store/internal/sql_store.h. One connection guarded by a mutex, like SqlStore.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/auth_store.h"
#include "store/internal/sql_store.h"

namespace sp::store::internal {

constexpr char kUserColumns[] = "username, password_hash, role, created_at";
constexpr char kSessionColumns[] = "token_hash, username, csrf_token, created_at, expires_at";
constexpr char kTokenColumns[] = "id, token_hash, username, name, role, created_at, revoked_at";

template <typename Row>
UserRecord ReadUser(const Row& row) {
  return UserRecord{row.ColumnText(0), row.ColumnText(1), row.ColumnText(2), row.ColumnTime(3)};
}

template <typename Row>
SessionRecord ReadSession(const Row& row) {
  return SessionRecord{row.ColumnText(0), row.ColumnText(1), row.ColumnText(2), row.ColumnTime(3),
                       row.ColumnTime(4)};
}

template <typename Row>
ApiTokenRecord ReadToken(const Row& row) {
  return ApiTokenRecord{row.ColumnText(0),        row.ColumnText(1), row.ColumnText(2),
                        row.ColumnText(3),        row.ColumnText(4), row.ColumnTime(5),
                        row.ColumnOptionalTime(6)};
}

template <typename Conn>
class SqlAuthStore final : public AuthStore {
 public:
  using Statement = typename Conn::Statement;

  explicit SqlAuthStore(std::unique_ptr<Conn> conn) : conn_(std::move(conn)) {}

  Status CreateUser(const UserRecord& u) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Statement stmt,
                     conn_->Prepare("INSERT INTO users (username, password_hash, role, created_at)"
                                    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING"));
    stmt.BindText(1, u.username);
    stmt.BindText(2, u.password_hash);
    stmt.BindText(3, u.role);
    stmt.BindTime(4, u.created_at);
    RETURN_IF_ERROR(stmt.Run().With("create user"));
    const int64_t changed = conn_->Changes();
    if (changed == 0) return AlreadyExistsError("user '" + u.username + "' already exists");
    return OkStatus();
  }

  Status UpdateUser(const UserRecord& u) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare("UPDATE users SET password_hash = ?2, role = ?3"
                                                    " WHERE username = ?1"));
    stmt.BindText(1, u.username);
    stmt.BindText(2, u.password_hash);
    stmt.BindText(3, u.role);
    RETURN_IF_ERROR(stmt.Run().With("update user"));
    const int64_t changed = conn_->Changes();
    if (changed == 0) return NotFoundError("no user '" + u.username + "'");
    return OkStatus();
  }

  Result<std::optional<UserRecord>> GetUser(const std::string& username) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare(std::string("SELECT ") + kUserColumns +
                                                    " FROM users WHERE username = ?1"));
    stmt.BindText(1, username);
    return ReadOne<UserRecord>(stmt, ReadUser<Statement>, "read users");
  }

  Result<std::vector<UserRecord>> ListUsers() override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare(std::string("SELECT ") + kUserColumns +
                                                    " FROM users ORDER BY username"));
    return ReadAll<UserRecord>(stmt, ReadUser<Statement>, "read users");
  }

  Result<bool> DeleteUser(const std::string& username) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare("DELETE FROM users WHERE username = ?1"));
    stmt.BindText(1, username);
    RETURN_IF_ERROR(stmt.Run().With("delete user"));
    const int64_t changed = conn_->Changes();
    return changed > 0;
  }

  Status PutSession(const SessionRecord& s) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Statement stmt,
                     conn_->Prepare(std::string("INSERT INTO sessions (") + kSessionColumns +
                                    ") VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (token_hash) DO "
                                    "UPDATE SET username = excluded.username, csrf_token = "
                                    "excluded.csrf_token, created_at = excluded.created_at, "
                                    "expires_at = excluded.expires_at"));
    stmt.BindText(1, s.token_hash);
    stmt.BindText(2, s.username);
    stmt.BindText(3, s.csrf_token);
    stmt.BindTime(4, s.created_at);
    stmt.BindTime(5, s.expires_at);
    return stmt.Run().With("save session");
  }

  Result<std::optional<SessionRecord>> GetSession(const std::string& token_hash) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare(std::string("SELECT ") + kSessionColumns +
                                                    " FROM sessions WHERE token_hash = ?1"));
    stmt.BindText(1, token_hash);
    return ReadOne<SessionRecord>(stmt, ReadSession<Statement>, "read sessions");
  }

  Status DeleteSession(const std::string& token_hash) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare("DELETE FROM sessions WHERE token_hash = ?1"));
    stmt.BindText(1, token_hash);
    return stmt.Run().With("delete session");
  }

  Status DeleteSessionsOf(const std::string& username) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare("DELETE FROM sessions WHERE username = ?1"));
    stmt.BindText(1, username);
    return stmt.Run().With("end sessions");
  }

  Status DeleteExpiredSessions(Time now) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare("DELETE FROM sessions WHERE expires_at < ?1"));
    stmt.BindTime(1, now);
    return stmt.Run().With("delete expired sessions");
  }

  Status PutApiToken(const ApiTokenRecord& t) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Statement stmt,
                     conn_->Prepare(std::string("INSERT INTO api_tokens (") + kTokenColumns +
                                    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
    stmt.BindText(1, t.id);
    stmt.BindText(2, t.token_hash);
    stmt.BindText(3, t.username);
    stmt.BindText(4, t.name);
    stmt.BindText(5, t.role);
    stmt.BindTime(6, t.created_at);
    stmt.BindOptionalTime(7, t.revoked_at);
    return stmt.Run().With("save API token");
  }

  Result<std::optional<ApiTokenRecord>> FindApiToken(const std::string& token_hash) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare(std::string("SELECT ") + kTokenColumns +
                                                    " FROM api_tokens WHERE token_hash = ?1"));
    stmt.BindText(1, token_hash);
    return ReadOne<ApiTokenRecord>(stmt, ReadToken<Statement>, "read API tokens");
  }

  Result<std::vector<ApiTokenRecord>> ListApiTokens(
      const std::optional<std::string>& username) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::string sql = std::string("SELECT ") + kTokenColumns + " FROM api_tokens";
    if (username) sql += " WHERE username = ?1";
    ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare(sql + " ORDER BY created_at, id"));
    if (username) stmt.BindText(1, *username);
    return ReadAll<ApiTokenRecord>(stmt, ReadToken<Statement>, "read API tokens");
  }

  Result<bool> RevokeApiToken(const std::string& id, Time now) override {
    std::lock_guard<std::mutex> lock(mu_);
    ASSIGN_OR_RETURN(Statement stmt, conn_->Prepare("UPDATE api_tokens SET revoked_at = ?2"
                                                    " WHERE id = ?1 AND revoked_at IS NULL"));
    stmt.BindText(1, id);
    stmt.BindTime(2, now);
    RETURN_IF_ERROR(stmt.Run().With("revoke API token"));
    const int64_t changed = conn_->Changes();
    return changed > 0;
  }

 private:
  std::mutex mu_;
  std::unique_ptr<Conn> conn_;  // guarded by mu_
};

}  // namespace sp::store::internal
