// `sparkplane db clean`: retention on demand (the server's `retention` setting does the same
// hourly). Finished runs go through the scheduler's one write path (PruneRuns: the running
// server's, or an offline one holding the server lock); Spark event logs are files, removed
// here afterwards.
#include <cstdio>

#include "cli/commands.h"
#include "dag/cron.h"
#include "spark/history.h"

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

}  // namespace sp::cli
