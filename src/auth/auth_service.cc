// AuthService (see auth_service.h).
#include "auth/auth_service.h"

#include <algorithm>
#include <cctype>

#include "auth/secrets.h"

namespace sp::auth {
namespace {

constexpr char kTokenPrefix[] = "spk_";
constexpr size_t kMaxTrackedKeys = 100000;

Status CheckUsername(const std::string& name) {
  if (name.empty() || name.size() > 64) {
    return InvalidArgumentError("a username has 1 to 64 characters, got " +
                                std::to_string(name.size()));
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '@' &&
        c != '-') {
      return InvalidArgumentError("username '" + name +
                                  "' may only contain letters, digits and . _ @ -");
    }
  }
  return OkStatus();
}

// Characters as JSON Schema's minLength counts them: Unicode code points (UTF-8 lead bytes),
// not bytes, so "½½½½" is 4 characters, not 8.
size_t CodePoints(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

Status CheckPassword(const std::string& password) {
  if (CodePoints(password) < 8) {
    return InvalidArgumentError("a password has at least 8 characters");
  }
  if (password.size() > 1024) return InvalidArgumentError("a password has at most 1024 bytes");
  return OkStatus();
}

Status BadCredentials() {
  return UnauthenticatedError("wrong username or password");
}

}  // namespace

AuthService::AuthService(store::AuthStore* store, const Clock* clock, AuthOptions options)
    : store_(store),
      clock_(clock),
      options_(options),
      hashing_(std::clamp(options.max_concurrent_hashes, 1, 64)) {}

bool AuthService::Limited(const std::string& key, int max, Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(key);
  if (it == failures_.end()) return false;
  while (!it->second.empty() && it->second.front() + options_.failure_window <= now) {
    it->second.pop_front();
  }
  if (it->second.empty()) {
    failures_.erase(it);
    return false;
  }
  return static_cast<int>(it->second.size()) >= max;
}

void AuthService::NoteFailure(const std::string& key, Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failures_.size() >= kMaxTrackedKeys) {
    // Bounded memory: forget keys whose failures have all left the window, and if a flood of
    // distinct keys remains, start over (the limit then bites again after a few tries).
    for (auto it = failures_.begin(); it != failures_.end();) {
      it = it->second.empty() || it->second.back() + options_.failure_window <= now
               ? failures_.erase(it)
               : std::next(it);
    }
    if (failures_.size() >= kMaxTrackedKeys) failures_.clear();
  }
  std::deque<Time>& times = failures_[key];
  times.push_back(now);
  // Bounded memory: only the window's worth of failures matters.
  while (times.size() > 1000) times.pop_front();
}

Result<NewSession> AuthService::Login(const std::string& username, const std::string& password,
                                      const std::string& address) {
  Time now = clock_->Now();
  // A name that cannot exist is refused before it is remembered (keys stay short).
  if (!CheckUsername(username).ok() || password.size() > 1024) {
    if (Limited("addr:" + address, options_.max_failures_per_address, now)) {
      return ResourceExhaustedError("too many failed logins; try again in a few minutes");
    }
    NoteFailure("addr:" + address, now);
    return BadCredentials();
  }
  const std::string user_key = "user:" + username;
  const std::string addr_key = "addr:" + address;
  if (Limited(user_key, options_.max_failures_per_user, now) ||
      Limited(addr_key, options_.max_failures_per_address, now)) {
    return ResourceExhaustedError("too many failed logins; try again in a few minutes");
  }
  ASSIGN_OR_RETURN(std::optional<store::UserRecord> user, store_->GetUser(username));
  bool ok = false;
  {
    hashing_.acquire();
    // Verify against a real hash even for an unknown user would cost 64 MiB for nothing; the
    // timing difference only tells a guesser that a name is unknown, which the rate limit bounds.
    if (user) ok = VerifyPassword(user->password_hash, password);
    hashing_.release();
  }
  if (!ok) {
    NoteFailure(user_key, now);
    NoteFailure(addr_key, now);
    return BadCredentials();
  }
  std::optional<Role> role = ParseRole(user->role);
  if (!role)
    return InternalError("user '" + username + "' has an unknown role '" + user->role + "'");
  NewSession s;
  s.cookie_value = RandomSecret();
  s.principal = Principal{username, *role, RandomSecret(24), true};
  s.expires_at = now + options_.session_lifetime;
  RETURN_IF_ERROR(store_->PutSession(store::SessionRecord{
      HashSecret(s.cookie_value), username, s.principal.csrf_token, now, s.expires_at}));
  store_->DeleteExpiredSessions(now).IgnoreError();
  return s;
}

Status AuthService::Logout(const std::string& cookie_value) {
  Status deleted = store_->DeleteSession(HashSecret(cookie_value));
  ForgetAll();
  return deleted;
}

uint64_t AuthService::Generation() {
  std::lock_guard<std::mutex> lock(verified_mu_);
  return generation_;
}

void AuthService::Remember(const std::string& key, const Principal& p, Time until,
                           uint64_t generation) {
  if (options_.remember.count() <= 0) return;
  std::lock_guard<std::mutex> lock(verified_mu_);
  // A revocation since the store was read: what was read may be what it revoked.
  if (generation != generation_) return;
  if (verified_.size() >= kMaxRemembered) verified_.clear();
  verified_[key] = Verified{p, until};
}

void AuthService::ForgetAll() {
  std::lock_guard<std::mutex> lock(verified_mu_);
  verified_.clear();
  ++generation_;
}

std::optional<Principal> AuthService::Remembered(const std::string& kind,
                                                 const std::string& secret) {
  if (secret.empty() || options_.remember.count() <= 0) return std::nullopt;
  const std::string key = kind + ":" + HashSecret(secret);
  std::lock_guard<std::mutex> lock(verified_mu_);
  auto it = verified_.find(key);
  if (it == verified_.end()) return std::nullopt;
  if (it->second.until <= clock_->Now()) {
    verified_.erase(it);
    return std::nullopt;
  }
  return it->second.principal;
}

Result<Principal> AuthService::FromSession(const std::string& cookie_value) {
  if (cookie_value.empty()) return UnauthenticatedError("not logged in");
  const std::string hash = HashSecret(cookie_value);
  const uint64_t generation = Generation();
  ASSIGN_OR_RETURN(std::optional<store::SessionRecord> s, store_->GetSession(hash));
  const Time now = clock_->Now();
  if (!s || s->expires_at <= now)
    return UnauthenticatedError("the session has ended; log in again");
  ASSIGN_OR_RETURN(std::optional<store::UserRecord> user, store_->GetUser(s->username));
  std::optional<Role> role = user ? ParseRole(user->role) : std::nullopt;
  if (!role) return UnauthenticatedError("the session's user no longer exists");
  Principal p{s->username, *role, s->csrf_token, true};
  Remember("session:" + hash, p, std::min(s->expires_at, now + options_.remember), generation);
  return p;
}

Result<Principal> AuthService::FromToken(const std::string& token) {
  if (token.rfind(kTokenPrefix, 0) != 0) return UnauthenticatedError("not a sparkplane API token");
  const std::string hash = HashSecret(token);
  const uint64_t generation = Generation();
  ASSIGN_OR_RETURN(std::optional<store::ApiTokenRecord> t, store_->FindApiToken(hash));
  if (!t || t->revoked_at) return UnauthenticatedError("unknown or revoked API token");
  ASSIGN_OR_RETURN(std::optional<store::UserRecord> user, store_->GetUser(t->username));
  if (!user) return UnauthenticatedError("the token's user no longer exists");
  Role user_role = ParseRole(user->role).value_or(Role::kViewer);
  Role token_role = ParseRole(t->role).value_or(Role::kViewer);
  // A user demoted after the token was made keeps only the lower role.
  Role role = AtLeast(user_role, token_role) ? token_role : user_role;
  Principal p{t->username, role, "", false};
  Remember("token:" + hash, p, clock_->Now() + options_.remember, generation);
  return p;
}

Status AuthService::CreateUser(const std::string& username, Role role,
                               const std::string& password) {
  RETURN_IF_ERROR(CheckUsername(username));
  RETURN_IF_ERROR(CheckPassword(password));
  hashing_.acquire();
  Result<std::string> hash = HashPassword(password);
  hashing_.release();
  if (!hash.ok()) return hash.status();
  return store_->CreateUser(store::UserRecord{username, *hash, RoleName(role), clock_->Now()});
}

Status AuthService::SetPassword(const std::string& username, const std::string& password) {
  RETURN_IF_ERROR(CheckPassword(password));
  ASSIGN_OR_RETURN(std::optional<store::UserRecord> user, store_->GetUser(username));
  if (!user) return NotFoundError("no user '" + username + "'");
  hashing_.acquire();
  Result<std::string> hash = HashPassword(password);
  hashing_.release();
  if (!hash.ok()) return hash.status();
  user->password_hash = *hash;
  RETURN_IF_ERROR(store_->UpdateUser(*user));
  // Whoever knew the old password is logged out; API tokens stay (revoke them with tokens).
  Status deleted = store_->DeleteSessionsOf(username);
  ForgetAll();
  return deleted;
}

Result<std::vector<store::UserRecord>> AuthService::ListUsers() {
  return store_->ListUsers();
}

Status AuthService::DeleteUser(const std::string& username) {
  ASSIGN_OR_RETURN(bool deleted, store_->DeleteUser(username));
  ForgetAll();
  if (!deleted) return NotFoundError("no user '" + username + "'");
  return OkStatus();
}

Result<NewToken> AuthService::CreateToken(const std::string& username, const std::string& name,
                                          std::optional<Role> role) {
  ASSIGN_OR_RETURN(std::optional<store::UserRecord> user, store_->GetUser(username));
  if (!user) return NotFoundError("no user '" + username + "'");
  std::optional<Role> user_role = ParseRole(user->role);
  if (!user_role) return InternalError("user '" + username + "' has an unknown role");
  Role token_role = role.value_or(*user_role);
  if (!AtLeast(*user_role, token_role)) {
    return PermissionDeniedError(std::string("a token cannot have more than its user's role (") +
                                 RoleName(*user_role) + ")");
  }
  if (name.size() > 200) return InvalidArgumentError("a token name has at most 200 characters");
  NewToken t;
  t.id = "tok_" + HashSecret(RandomSecret(16)).substr(0, 12);
  t.token = kTokenPrefix + t.id.substr(4) + "_" + RandomSecret();
  RETURN_IF_ERROR(store_->PutApiToken(store::ApiTokenRecord{
      t.id, HashSecret(t.token), username, name, RoleName(token_role), clock_->Now(), {}}));
  return t;
}

Result<std::vector<store::ApiTokenRecord>> AuthService::ListTokens(
    const std::optional<std::string>& user) {
  return store_->ListApiTokens(user);
}

Status AuthService::RevokeToken(const std::string& id, const std::optional<Principal>& by) {
  if (by && by->role != Role::kAdmin) {
    ASSIGN_OR_RETURN(std::vector<store::ApiTokenRecord> own, store_->ListApiTokens(by->username));
    bool mine = std::any_of(own.begin(), own.end(), [&](const auto& t) { return t.id == id; });
    if (!mine) return NotFoundError("no API token '" + id + "' of yours");
  }
  ASSIGN_OR_RETURN(bool revoked, store_->RevokeApiToken(id, clock_->Now()));
  ForgetAll();
  if (!revoked) return NotFoundError("no unrevoked API token '" + id + "'");
  return OkStatus();
}

Result<std::optional<std::string>> AuthService::EnsureAdmin(const std::string& password) {
  ASSIGN_OR_RETURN(std::vector<store::UserRecord> users, store_->ListUsers());
  if (!users.empty()) return std::optional<std::string>();
  std::string pw = password.empty() ? RandomSecret(18) : password;
  RETURN_IF_ERROR(CreateUser("admin", Role::kAdmin, pw));
  return std::optional<std::string>(pw);
}

}  // namespace sp::auth
