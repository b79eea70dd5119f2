// `sparkplane db`: the store's maintenance.
// `db clean`: retention on demand (the server's `retention` setting does the same hourly).
// Finished runs go through the scheduler's one write path (PruneRuns: the running server's, or
// an offline one holding the server lock); Spark event logs are files, removed here afterwards.
// `db check`, `db migrate`, `db copy`: the schema and moving between stores (store/open.h,
// store/copy.h).
#include <cstdio>

#include "cli/commands.h"
#include "dag/cron.h"
#include "spark/history.h"
#include "store/copy.h"
#include "store/open.h"

namespace sp::cli {

int DbClean(const GlobalOptions& g, const std::string& older_than, bool dry_run) {
  Result<Millis> age = dag::ParseDuration(older_than);
  if (!age.ok() || age->count() <= 0) {
    return Fail("--older-than: expected a duration such as 30d or 12h; got '" + older_than + "'");
  }
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  const Time before = (*rt)->clock.Now() - *age;
  Result<nlohmann::json> r =
      RunCommand(**rt, {{"op", "clean"}, {"before", ToUnixMillis(before)}, {"dry_run", dry_run}});
  if (!r.ok()) return Fail(r.status());
  if (!r->value("ok", false)) return Fail(r->value("error", std::string("command failed")));
  Result<std::vector<std::string>> apps = spark::PruneEventLogs(
      (*rt)->services.config.SparkHistoryDir(), ToUnixMillis(before), dry_run);
  if (!apps.ok() && apps.status().code() == StatusCode::kNotFound) {
    apps = std::vector<std::string>{};
  }
  if (!apps.ok()) return Fail(apps.status());
  nlohmann::json out = {{"before", FormatTime(before)},
                        {"dry_run", dry_run},
                        {"runs", r->value("pruned_count", 0)},
                        {"runs_listed", r->value("pruned_runs", nlohmann::json::array())},
                        {"spark_apps", *apps}};
  if (g.json) {
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  const char* verb = dry_run ? "would delete" : "deleted";
  for (const nlohmann::json& run : out["runs_listed"]) {
    std::printf("%s run %s %s (key %lld)\n", verb, run.value("dag_id", "").c_str(),
                run.value("run_id", "").c_str(),
                static_cast<long long>(run.value("key", int64_t{0})));
  }
  for (const std::string& app : *apps) std::printf("%s Spark event log %s\n", verb, app.c_str());
  std::printf(
      "%s %lld finished runs (with their task logs) and %zu Spark event logs older than %s\n", verb,
      static_cast<long long>(out["runs"].get<int64_t>()), apps->size(), FormatTime(before).c_str());
  return 0;
}

namespace {

// The store location the configuration names (flags, environment, config file).
Result<std::string> ConfiguredStore(const GlobalOptions& g) {
  ASSIGN_OR_RETURN(Config config, ResolveConfig(g.config));
  return config.StoreLocation();
}

const char* KindName(const std::string& location) {
  Result<store::StoreLocation> where = store::ParseStoreLocation(location);
  return where.ok() && where->kind == store::StoreLocation::Kind::kPostgres ? "postgresql"
                                                                            : "sqlite";
}

}  // namespace

int DbCheck(const GlobalOptions& g) {
  Result<std::string> location = ConfiguredStore(g);
  if (!location.ok()) return Fail(location.status());
  Result<int> version = store::ReadStoreSchemaVersion(*location);
  if (!version.ok()) return Fail(version.status());
  const int latest = store::LatestSchemaVersion();
  std::string verdict = *version == latest  ? "current"
                        : *version == 0     ? "empty: the server or `db migrate` creates it"
                        : *version < latest ? "older: run `sparkplane db migrate`"
                                            : "newer than this sparkplane: upgrade sparkplane";
  if (g.json) {
    nlohmann::json out = {{"store", store::DescribeStoreLocation(*location)},
                          {"kind", KindName(*location)},
                          {"schema_version", *version},
                          {"latest_schema_version", latest},
                          {"current", *version == latest}};
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("store %s (%s): schema version %d of %d, %s\n",
                store::DescribeStoreLocation(*location).c_str(), KindName(*location), *version,
                latest, verdict.c_str());
  }
  return *version == latest ? 0 : 1;
}

int DbMigrate(const GlobalOptions& g) {
  Result<std::string> location = ConfiguredStore(g);
  if (!location.ok()) return Fail(location.status());
  Result<int> before = store::ReadStoreSchemaVersion(*location);
  if (!before.ok()) return Fail(before.status());
  Result<std::unique_ptr<store::Store>> opened = store::OpenStore(*location);  // migrates
  if (!opened.ok()) return Fail(opened.status());
  std::printf("store %s: schema version %d -> %d\n",
              store::DescribeStoreLocation(*location).c_str(), *before,
              store::LatestSchemaVersion());
  return 0;
}

int DbCopy(const GlobalOptions& g, const std::string& from, const std::string& to) {
  Result<store::StoreLocation> a = store::ParseStoreLocation(from);
  Result<store::StoreLocation> b = store::ParseStoreLocation(to);
  if (a.ok() && b.ok() && a->kind == b->kind && a->target == b->target) {
    return Fail("--from and --to name the same store");
  }
  Result<int> source_version = store::ReadStoreSchemaVersion(from);
  if (!source_version.ok()) return Fail(source_version.status().With("--from"));
  if (*source_version == 0) {
    return Fail("--from " + store::DescribeStoreLocation(from) + " holds no sparkplane store");
  }
  Result<std::unique_ptr<store::Store>> src = store::OpenStore(from);
  if (!src.ok()) return Fail(src.status().With("--from"));
  Result<std::unique_ptr<store::AuthStore>> src_auth = store::OpenAuthStore(from);
  if (!src_auth.ok()) return Fail(src_auth.status().With("--from"));
  Result<std::unique_ptr<store::Store>> dst = store::OpenStore(to);
  if (!dst.ok()) return Fail(dst.status().With("--to"));
  Result<std::unique_ptr<store::AuthStore>> dst_auth = store::OpenAuthStore(to);
  if (!dst_auth.ok()) return Fail(dst_auth.status().With("--to"));
  Result<store::CopyCounts> n = store::CopyStore(**src, **src_auth, **dst, **dst_auth);
  if (!n.ok()) return Fail(n.status());
  if (g.json) {
    nlohmann::json out = {{"dags", n->dags},
                          {"runs", n->runs},
                          {"task_instances", n->task_instances},
                          {"events", n->events},
                          {"clusters", n->clusters},
                          {"connections", n->connections},
                          {"users", n->users},
                          {"api_tokens", n->api_tokens}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf(
      "copied %lld DAGs, %lld runs, %lld task instances, %lld state events, %lld clusters, "
      "%lld connections, %lld users and %lld API tokens from %s to %s\n",
      static_cast<long long>(n->dags), static_cast<long long>(n->runs),
      static_cast<long long>(n->task_instances), static_cast<long long>(n->events),
      static_cast<long long>(n->clusters), static_cast<long long>(n->connections),
      static_cast<long long>(n->users), static_cast<long long>(n->api_tokens),
      store::DescribeStoreLocation(from).c_str(), store::DescribeStoreLocation(to).c_str());
  return 0;
}

}  // namespace sp::cli
