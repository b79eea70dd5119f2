// `sparkplane users ...` and `sparkplane tokens ...`: the people and scripts that may use the
// HTTP API. They write the auth tables directly (not scheduler state), so they work whether or
// not a server runs.
#include <cstdio>

#include "auth/auth_service.h"
#include "auth/secrets.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "store/auth_store.h"
#include "store/open.h"

namespace sp::cli {
namespace {

struct AuthRuntime {
  Config config;
  RealClock clock;
  std::unique_ptr<store::AuthStore> store;
  std::unique_ptr<auth::AuthService> service;
};

Result<std::unique_ptr<AuthRuntime>> OpenAuth(const GlobalOptions& g) {
  auto rt = std::make_unique<AuthRuntime>();
  ASSIGN_OR_RETURN(rt->config, ResolveConfig(g.config));
  RETURN_IF_ERROR(EnsureDataDirs(rt->config));
  ASSIGN_OR_RETURN(rt->store, store::OpenAuthStore(rt->config.StoreLocation()));
  rt->service = std::make_unique<auth::AuthService>(rt->store.get(), &rt->clock);
  return rt;
}

Result<auth::Role> RoleArg(const std::string& role) {
  std::optional<auth::Role> r = auth::ParseRole(role);
  if (!r)
    return InvalidArgumentError("--role must be viewer, operator or admin, got '" + role + "'");
  return *r;
}

}  // namespace

int UsersCreate(const GlobalOptions& g, const std::string& name, const std::string& role,
                bool password_stdin) {
  Result<auth::Role> r = RoleArg(role);
  if (!r.ok()) return Fail(r.status());
  Result<std::unique_ptr<AuthRuntime>> rt = OpenAuth(g);
  if (!rt.ok()) return Fail(rt.status());
  std::string password;
  if (password_stdin) {
    Result<std::string> line = ReadPasswordLine();
    if (!line.ok()) return Fail(line.status());
    password = *line;
  } else {
    password = auth::RandomSecret(18);
  }
  Status s = (*rt)->service->CreateUser(name, *r, password);
  if (!s.ok()) return Fail(s);
  if (g.json) {
    nlohmann::json j = {{"username", name}, {"role", auth::RoleName(*r)}};
    if (!password_stdin) j["password"] = password;
    std::printf("%s\n", j.dump(2).c_str());
  } else if (password_stdin) {
    std::printf("created user %s (%s)\n", name.c_str(), auth::RoleName(*r));
  } else {
    std::printf(
        "created user %s (%s) with password %s\n(shown once: keep it; change it with "
        "`sparkplane users password %s --password-stdin`)\n",
        name.c_str(), auth::RoleName(*r), password.c_str(), name.c_str());
  }
  return 0;
}

int UsersList(const GlobalOptions& g) {
  Result<std::unique_ptr<AuthRuntime>> rt = OpenAuth(g);
  if (!rt.ok()) return Fail(rt.status());
  Result<std::vector<store::UserRecord>> all = (*rt)->service->ListUsers();
  if (!all.ok()) return Fail(all.status());
  nlohmann::json out = nlohmann::json::array();
  Table table({"USERNAME", "ROLE", "CREATED"});
  for (const auto& u : *all) {
    table.Add({u.username, u.role, FormatTime(u.created_at)});
    out.push_back(
        {{"username", u.username}, {"role", u.role}, {"created_at", FormatTime(u.created_at)}});
  }
  if (g.json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else if (table.empty()) {
    std::printf("no users (the server creates `admin` at its first start)\n");
  } else {
    table.Print();
  }
  return 0;
}

int UsersDelete(const GlobalOptions& g, const std::string& name) {
  Result<std::unique_ptr<AuthRuntime>> rt = OpenAuth(g);
  if (!rt.ok()) return Fail(rt.status());
  Status s = (*rt)->service->DeleteUser(name);
  if (!s.ok()) return Fail(s);
  std::printf("deleted user %s with its sessions and API tokens\n", name.c_str());
  return 0;
}

int UsersPassword(const GlobalOptions& g, const std::string& name, bool password_stdin) {
  Result<std::unique_ptr<AuthRuntime>> rt = OpenAuth(g);
  if (!rt.ok()) return Fail(rt.status());
  std::string password = auth::RandomSecret(18);
  if (password_stdin) {
    Result<std::string> line = ReadPasswordLine();
    if (!line.ok()) return Fail(line.status());
    password = *line;
  }
  Status s = (*rt)->service->SetPassword(name, password);
  if (!s.ok()) return Fail(s);
  if (password_stdin) {
    std::printf("password of %s changed\n", name.c_str());
  } else {
    std::printf("password of %s changed to %s (shown once)\n", name.c_str(), password.c_str());
  }
  return 0;
}

int TokensCreate(const GlobalOptions& g, const std::string& user, const std::string& name,
                 const std::string& role) {
  std::optional<auth::Role> r;
  if (!role.empty()) {
    Result<auth::Role> parsed = RoleArg(role);
    if (!parsed.ok()) return Fail(parsed.status());
    r = *parsed;
  }
  Result<std::unique_ptr<AuthRuntime>> rt = OpenAuth(g);
  if (!rt.ok()) return Fail(rt.status());
  Result<auth::NewToken> t = (*rt)->service->CreateToken(user, name, r);
  if (!t.ok()) return Fail(t.status());
  if (g.json) {
    std::printf("%s\n", nlohmann::json{{"id", t->id}, {"token", t->token}}.dump(2).c_str());
  } else {
    std::printf("%s\n", t->token.c_str());
    std::fprintf(stderr, "token %s for %s (shown once; send it as `Authorization: Bearer ...`)\n",
                 t->id.c_str(), user.c_str());
  }
  return 0;
}

int TokensList(const GlobalOptions& g, const std::string& user) {
  Result<std::unique_ptr<AuthRuntime>> rt = OpenAuth(g);
  if (!rt.ok()) return Fail(rt.status());
  Result<std::vector<store::ApiTokenRecord>> all =
      (*rt)->service->ListTokens(user.empty() ? std::nullopt : std::optional<std::string>(user));
  if (!all.ok()) return Fail(all.status());
  nlohmann::json out = nlohmann::json::array();
  Table table({"ID", "USER", "NAME", "ROLE", "CREATED", "REVOKED"});
  for (const auto& t : *all) {
    std::string revoked = t.revoked_at ? FormatTime(*t.revoked_at) : "-";
    table.Add({t.id, t.username, t.name, t.role, FormatTime(t.created_at), revoked});
    out.push_back({{"id", t.id},
                   {"username", t.username},
                   {"name", t.name},
                   {"role", t.role},
                   {"created_at", FormatTime(t.created_at)},
                   {"revoked_at", t.revoked_at ? nlohmann::json(revoked) : nlohmann::json()}});
  }
  if (g.json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else if (table.empty()) {
    std::printf("no API tokens\n");
  } else {
    table.Print();
  }
  return 0;
}

int TokensRevoke(const GlobalOptions& g, const std::string& id) {
  Result<std::unique_ptr<AuthRuntime>> rt = OpenAuth(g);
  if (!rt.ok()) return Fail(rt.status());
  Status s = (*rt)->service->RevokeToken(id, std::nullopt);
  if (!s.ok()) return Fail(s);
  std::printf("revoked %s\n", id.c_str());
  return 0;
}

}  // namespace sp::cli
