// The subcommands of `sparkplane`, one function each. Each returns the process exit code and
// prints user errors to stderr as "sparkplane: error: ..." (no stack traces).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/config.h"
#include "cli/runtime.h"

namespace sp::cli {

struct GlobalOptions {
  ConfigFlags config;
  bool json = false;
};

// Prints "sparkplane: error: <message>" and returns 1.
int Fail(const Status& s);
int Fail(const std::string& message);

// How long a server start and a command wait for each other around the server lock: a command
// applied without a server holds it for a moment, and a starting server holds it before its
// socket answers.
inline constexpr std::chrono::seconds kLockWait{10};

// Sends a command to the running server, or applies it offline when no server runs
// (no task is launched offline; the server does that when it starts).
Result<nlohmann::json> RunCommand(Runtime& rt, const nlohmann::json& request);

// Finds a run from "KEY" or "DAG RUN_ID" (RUN_ID may be "latest").
Result<store::DagRun> ResolveRun(store::Store& store, const std::vector<std::string>& args);

// The first line of standard input, as `docker login --password-stdin` reads it (a trailing
// CR LF dropped); InvalidArgument when it is empty.
Result<std::string> ReadPasswordLine();

// `http_address` overrides the config's http_address when not empty.
int ServerCommand(const GlobalOptions& g, const std::string& http_address);

// `users create|list|delete|password` and `tokens create|list|revoke` (the HTTP API's users).
int UsersCreate(const GlobalOptions& g, const std::string& name, const std::string& role,
                bool password_stdin);
int UsersList(const GlobalOptions& g);
int UsersDelete(const GlobalOptions& g, const std::string& name);
int UsersPassword(const GlobalOptions& g, const std::string& name, bool password_stdin);
int TokensCreate(const GlobalOptions& g, const std::string& user, const std::string& name,
                 const std::string& role);
int TokensList(const GlobalOptions& g, const std::string& user);
int TokensRevoke(const GlobalOptions& g, const std::string& id);

int DagsList(const GlobalOptions& g);
int DagsShow(const GlobalOptions& g, const std::string& dag_id, bool dot);
int DagsValidate(const GlobalOptions& g, const std::string& dir);
int DagsTrigger(const GlobalOptions& g, const std::string& dag_id, const std::string& conf,
                const std::string& logical_date, const std::string& run_id);
int DagsPause(const GlobalOptions& g, const std::string& dag_id, bool paused);
// `dags test` (all tasks) and `tasks test` (the given tasks, without their upstreams).
int DagsTest(const GlobalOptions& g, const std::string& dag_id, const std::string& conf,
             const std::string& logical_date, const std::vector<std::string>& only_tasks = {});
int DagsBackfill(const GlobalOptions& g, const std::string& dag_id, const std::string& start,
                 const std::string& end, const std::string& conf, bool dry_run);
int DagsNextExecution(const GlobalOptions& g, const std::string& dag_id, int n);

int RunsList(const GlobalOptions& g, const std::string& dag_id, const std::string& state,
             int limit);
int RunsShow(const GlobalOptions& g, const std::vector<std::string>& run);
int RunsCancel(const GlobalOptions& g, const std::vector<std::string>& run);

int TasksList(const GlobalOptions& g, const std::vector<std::string>& run);
int TasksLogs(const GlobalOptions& g, const std::vector<std::string>& args, int try_number);
int TasksClear(const GlobalOptions& g, const std::vector<std::string>& args, bool downstream);
int TasksMark(const GlobalOptions& g, const std::vector<std::string>& args,
              const std::string& state);

struct ConnectionArgs {
  std::string conn_id, uri, conn_type, host, schema, login, password, extras;
  bool password_stdin = false;  // read the password from stdin instead of argv
  int port = 0;
  std::vector<std::string> secret_extras;
};
int ConnectionsAdd(const GlobalOptions& g, const ConnectionArgs& a);
int ConnectionsList(const GlobalOptions& g);
int ConnectionsGet(const GlobalOptions& g, const std::string& conn_id, bool reveal);
int ConnectionsDelete(const GlobalOptions& g, const std::string& conn_id);
int ConnectionsKeygen(const GlobalOptions& g);
int ClusterList(const GlobalOptions& g, bool all);
// `pool list`: the configured warm pools and their idle clusters (from the records).
int PoolList(const GlobalOptions& g);

// `db clean --older-than 30d [--dry-run]`: finished runs with their task logs, and Spark event
// logs, older than the cutoff.
int DbClean(const GlobalOptions& g, const std::string& older_than, bool dry_run);
// `db check`: where the state lives and whether its schema is this version's (exit 1 if not).
int DbCheck(const GlobalOptions& g);
// `db migrate`: brings the store's schema to this version.
int DbMigrate(const GlobalOptions& g);
// `db copy --from LOCATION --to LOCATION`: the whole history into an empty store (store/copy.h).
int DbCopy(const GlobalOptions& g, const std::string& from, const std::string& to);
// `schedulers list [--all]`: the instances on a PostgreSQL store and which one is active (--all:
// stopped and gone ones too).
int SchedulersList(const GlobalOptions& g, bool all);

int HistoryList(const GlobalOptions& g);
int HistoryShow(const GlobalOptions& g, const std::string& app_id);
int HistoryServer(const GlobalOptions& g, int port, const std::string& host);

// Shared formatting.
std::string FormatOptionalTime(const std::optional<Time>& t);
std::string FormatDurationBetween(const std::optional<Time>& a, const std::optional<Time>& b);
Result<nlohmann::json> ParseConf(const std::string& conf);

}  // namespace sp::cli
