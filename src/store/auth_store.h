// AuthStore: the durable records of who may use the HTTP API — users (argon2id password
// hashes), browser sessions and API tokens (both kept only as hashes, so a stolen database
// holds no usable credential and each can be revoked). Not scheduler state: these tables are
// written directly, not through Decide/Commit.
//
// Thread safety: implementations are safe to call from several threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace sp::store {

struct UserRecord {
  std::string username;
  std::string password_hash;  // crypto_pwhash_str output (argon2id)
  std::string role;           // "viewer", "operator", "admin"
  Time created_at{};
};

struct SessionRecord {
  std::string token_hash;  // hex BLAKE2b of the cookie value
  std::string username;
  std::string csrf_token;  // sent back in X-CSRF-Token on unsafe methods
  Time created_at{};
  Time expires_at{};
};

struct ApiTokenRecord {
  std::string id;          // public, short ("tok_3f9a..."), what `tokens revoke` takes
  std::string token_hash;  // hex BLAKE2b of the secret
  std::string username;
  std::string name;  // what the user called it
  std::string role;  // at most the user's role
  Time created_at{};
  std::optional<Time> revoked_at;
};

class AuthStore {
 public:
  virtual ~AuthStore() = default;

  // AlreadyExists when the user exists.
  virtual Status CreateUser(const UserRecord& user) = 0;
  // NotFound when the user does not exist.
  virtual Status UpdateUser(const UserRecord& user) = 0;
  virtual Result<std::optional<UserRecord>> GetUser(const std::string& username) = 0;
  virtual Result<std::vector<UserRecord>> ListUsers() = 0;
  // Deletes the user with its sessions and tokens; false when there was none.
  virtual Result<bool> DeleteUser(const std::string& username) = 0;

  virtual Status PutSession(const SessionRecord& session) = 0;
  virtual Result<std::optional<SessionRecord>> GetSession(const std::string& token_hash) = 0;
  virtual Status DeleteSession(const std::string& token_hash) = 0;
  // Ends every session of `username` (a new password logs everyone out).
  virtual Status DeleteSessionsOf(const std::string& username) = 0;
  // Removes sessions that expired before `now`.
  virtual Status DeleteExpiredSessions(Time now) = 0;

  virtual Status PutApiToken(const ApiTokenRecord& token) = 0;
  virtual Result<std::optional<ApiTokenRecord>> FindApiToken(const std::string& token_hash) = 0;
  // Every token (revoked ones too), or one user's when `username` is set.
  virtual Result<std::vector<ApiTokenRecord>> ListApiTokens(
      const std::optional<std::string>& username) = 0;
  // Marks the token revoked; false when no unrevoked token has that id.
  virtual Result<bool> RevokeApiToken(const std::string& id, Time now) = 0;
};

// Opens the auth tables of the SQLite database at `path` (its own connection, so HTTP logins
// never wait on the scheduler's writes), migrating the database forward like OpenSqliteStore.
Result<std::unique_ptr<AuthStore>> OpenSqliteAuthStore(const std::string& path);

}  // namespace sp::store
