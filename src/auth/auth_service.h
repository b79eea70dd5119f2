// AuthService: users, browser sessions and API tokens for the HTTP API, over an AuthStore.
//
// - Login checks an argon2id hash; at most `max_concurrent_hashes` run at once (each takes
//   64 MiB), the rest wait their turn. Failed logins are counted per username and per client
//   address in a sliding window; past the limit Login answers ResourceExhausted (HTTP 429) without
//   checking the password, so a guesser learns nothing and costs no argon2id. The address is the
//   peer's: behind a proxy every client shares it (the per-user limit still holds per name).
//   At most 100,000 names and addresses are remembered.
// - A session is an opaque random cookie value; the store keeps only its BLAKE2b hash, with a
//   CSRF token and an expiry, so logging out or deleting the user revokes it.
// - An API token ("spk_<id>_<secret>") is shown once; the store keeps its hash, its role (at most
//   the user's) and whether it was revoked.
// - FromSession/FromToken always read the store. What they verified is also remembered for
//   `remember` (1 s; never past the session's expiry), keyed by its hash, for Remembered(): the
//   HTTP server answers cached pages (runs lists) on its I/O thread for such a caller, with no
//   store read. Logout, DeleteUser, SetPassword and RevokeToken through this service forget at
//   once; a change made by another process (the `tokens revoke` CLI, a second server) reaches
//   those cached pages within `remember`, and every other request at once.
//
// Thread safety: every method is safe to call from several threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <vector>

#include "auth/roles.h"
#include "common/clock.h"
#include "common/status.h"
#include "store/auth_store.h"

namespace sp::auth {

struct AuthOptions {
  Millis session_lifetime = Millis(12LL * 3600 * 1000);
  int max_concurrent_hashes = 2;
  // Failed logins allowed within `failure_window` per username and per client address.
  int max_failures_per_user = 5;
  int max_failures_per_address = 20;
  Millis failure_window = Millis(15LL * 60 * 1000);
  Millis remember = Millis(1000);  // 0: every check reads the store
};

// Who made a request.
struct Principal {
  std::string username;
  Role role = Role::kViewer;
  std::string csrf_token;  // set for sessions; empty for API tokens
  bool via_session = false;
};

struct NewSession {
  std::string cookie_value;  // the only copy of the secret
  Principal principal;
  Time expires_at{};
};

struct NewToken {
  std::string id;
  std::string token;  // "spk_<id>_<secret>", shown once
};

class AuthService {
 public:
  AuthService(store::AuthStore* store, const Clock* clock, AuthOptions options = {});

  // Unauthenticated for an unknown user or a wrong password (one message for both);
  // ResourceExhausted while the user or the address is rate-limited.
  Result<NewSession> Login(const std::string& username, const std::string& password,
                           const std::string& address);
  Status Logout(const std::string& cookie_value);
  // Unauthenticated when the session is unknown, expired or its user is gone.
  Result<Principal> FromSession(const std::string& cookie_value);
  Result<Principal> FromToken(const std::string& token);
  // The principal of a session cookie ("session") or an API token ("token") that FromSession or
  // FromToken verified less than `remember` ago; nullopt otherwise. Never reads the store.
  std::optional<Principal> Remembered(const std::string& kind, const std::string& secret);

  // Usernames: 1–64 of [A-Za-z0-9._@-]; passwords: at least 8 characters.
  Status CreateUser(const std::string& username, Role role, const std::string& password);
  Status SetPassword(const std::string& username, const std::string& password);
  Result<std::vector<store::UserRecord>> ListUsers();
  Status DeleteUser(const std::string& username);

  // A token for `username` with `role` (default: the user's own; more than the user's is
  // PermissionDenied).
  Result<NewToken> CreateToken(const std::string& username, const std::string& name,
                               std::optional<Role> role);
  Result<std::vector<store::ApiTokenRecord>> ListTokens(const std::optional<std::string>& user);
  // NotFound when no unrevoked token has `id`, or when `by` (if set) is neither its owner nor
  // an admin (whose tokens exist is not told to others).
  Status RevokeToken(const std::string& id, const std::optional<Principal>& by);

  // With no users at all, creates `admin` with `password` (a random one when empty) and returns
  // the password used; nullopt when users already exist.
  Result<std::optional<std::string>> EnsureAdmin(const std::string& password);

 private:
  bool Limited(const std::string& key, int max, Time now);
  void NoteFailure(const std::string& key, Time now);

  store::AuthStore* store_;
  const Clock* clock_;
  AuthOptions options_;
  std::counting_semaphore<64> hashing_;

  // Remembered verifications, by "session:"/"token:" + the secret's hash.
  struct Verified {
    Principal principal;
    Time until{};
  };
  // Remember() keeps nothing when ForgetAll() ran since Generation() was read (before the store
  // was): a revocation racing a check never leaves the revoked credential remembered.
  uint64_t Generation();
  void Remember(const std::string& key, const Principal& p, Time until, uint64_t generation);
  void ForgetAll();

  std::mutex mu_;
  std::map<std::string, std::deque<Time>> failures_;  // "user:NAME" / "addr:IP"; guarded by mu_
  std::mutex verified_mu_;
  std::map<std::string, Verified> verified_;  // verified_mu_; at most kMaxRemembered
  uint64_t generation_ = 0;                   // verified_mu_; ForgetAll() calls
  static constexpr size_t kMaxRemembered = 10000;
};

}  // namespace sp::auth
