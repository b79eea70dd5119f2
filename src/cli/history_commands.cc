// `sparkplane history list|show` (summaries read from history/spark/ without a History Server,
// with the driver exit codes spark_submit recorded there merged: spark/history.h) and
// `sparkplane history-server` (Spark's own History Server on that directory).
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "api/views.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "spark/history.h"

namespace sp::cli {
namespace {

std::string Bytes(int64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(b);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string Seconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::string HistoryDir(const Config& c) {
  return c.data_dir + "/history/spark";
}

}  // namespace

int HistoryList(const GlobalOptions& g) {
  Result<Config> cfg = ResolveConfig(g.config);
  if (!cfg.ok()) return Fail(cfg.status());
  Result<std::vector<spark::AppSummary>> apps = spark::ListApplications(HistoryDir(*cfg));
  if (!apps.ok() && apps.status().code() == StatusCode::kNotFound)
    apps = std::vector<spark::AppSummary>{};
  if (!apps.ok()) return Fail(apps.status());
  if (g.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : *apps) out.push_back(api::SparkSummaryToJson(s));
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (apps->empty()) {
    std::printf("no Spark applications in %s\n", HistoryDir(*cfg).c_str());
    return 0;
  }
  Table table({"APP_ID", "NAME", "STATUS", "EXIT", "START", "DURATION", "JOBS OK/FAIL",
               "STAGES OK/FAIL", "TASKS", "EXECUTORS", "INPUT", "SHUFFLE R/W"});
  for (const auto& s : *apps) {
    table.Add({s.app_id, s.name, spark::AppStatusName(s.status),
               s.exit_code ? std::to_string(*s.exit_code) : "-",
               s.start_ms ? FormatTime(FromUnixMillis(s.start_ms)) : "-", Seconds(s.duration_ms),
               std::to_string(s.jobs_succeeded) + "/" + std::to_string(s.jobs_failed),
               std::to_string(s.stages_completed) + "/" + std::to_string(s.stages_failed),
               std::to_string(s.tasks_succeeded + s.tasks_failed + s.tasks_killed),
               std::to_string(s.executors_added), Bytes(s.input_bytes),
               Bytes(s.shuffle_read_bytes) + " / " + Bytes(s.shuffle_write_bytes)});
  }
  table.Print();
  return 0;
}

int HistoryShow(const GlobalOptions& g, const std::string& app_id) {
  Result<Config> cfg = ResolveConfig(g.config);
  if (!cfg.ok()) return Fail(cfg.status());
  Result<spark::AppSummary> s = spark::SummarizeApplication(HistoryDir(*cfg), app_id);
  if (!s.ok()) return Fail(s.status());
  if (g.json) {
    std::printf("%s\n", api::SparkSummaryToJson(*s).dump(2).c_str());
    return 0;
  }
  std::printf("application %s  \"%s\"\n", s->app_id.c_str(), s->name.c_str());
  std::printf("  status     %s%s\n", spark::AppStatusName(s->status),
              s->status_reason.empty() ? "" : (" (" + s->status_reason + ")").c_str());
  if (s->exit_code) {
    std::printf("  exit code  %d (%s)\n", *s->exit_code,
                s->exit_code_from_driver ? "the driver's" : "from the event log");
  }
  std::printf("  spark      %s, user %s\n", s->spark_version.c_str(), s->user.c_str());
  std::printf("  start      %s\n",
              s->start_ms ? FormatTime(FromUnixMillis(s->start_ms)).c_str() : "-");
  std::printf("  end        %s\n", s->end_ms ? FormatTime(FromUnixMillis(s->end_ms)).c_str() : "-");
  std::printf("  duration   %s\n", Seconds(s->duration_ms).c_str());
  std::printf("  jobs       %d succeeded, %d failed, %d running\n", s->jobs_succeeded,
              s->jobs_failed, s->jobs_running);
  std::printf("  stages     %d completed, %d failed\n", s->stages_completed, s->stages_failed);
  std::printf("  tasks      %lld succeeded, %lld failed, %lld killed\n",
              static_cast<long long>(s->tasks_succeeded), static_cast<long long>(s->tasks_failed),
              static_cast<long long>(s->tasks_killed));
  std::printf("  executors  %d added, %d removed\n", s->executors_added, s->executors_removed);
  std::printf("  input      %s (%lld records)\n", Bytes(s->input_bytes).c_str(),
              static_cast<long long>(s->input_records));
  std::printf("  output     %s\n", Bytes(s->output_bytes).c_str());
  std::printf("  shuffle    read %s, write %s\n", Bytes(s->shuffle_read_bytes).c_str(),
              Bytes(s->shuffle_write_bytes).c_str());
  std::printf("  event log  %s%s\n", s->log_path.c_str(),
              s->log_in_progress ? " (in progress)" : "");
  return 0;
}

int HistoryServer(const GlobalOptions& g, int port, const std::string& host) {
  Result<Config> cfg = ResolveConfig(g.config);
  if (!cfg.ok()) return Fail(cfg.status());
  if (cfg->spark_home.empty())
    return Fail("Spark not found: set SPARK_HOME or run scripts/setup.sh");
  Status s = EnsureDataDirs(*cfg);
  if (!s.ok()) return Fail(s);
  std::string spark_class = cfg->spark_home + "/bin/spark-class";
  if (::access(spark_class.c_str(), X_OK) != 0) return Fail(spark_class + " is not executable");
  std::string opts = "-Dspark.history.fs.logDirectory=file:" + HistoryDir(*cfg) +
                     " -Dspark.history.ui.port=" + std::to_string(port) +
                     " -Dspark.history.fs.update.interval=2s";
  ::setenv("SPARK_HISTORY_OPTS", opts.c_str(), 1);
  ::setenv("SPARK_LOCAL_IP", host.c_str(), 1);
  ::setenv("SPARK_HOME", cfg->spark_home.c_str(), 1);
  std::fprintf(stderr, "sparkplane: Spark History Server on http://%s:%d reading %s\n",
               host.c_str(), port, HistoryDir(*cfg).c_str());
  const char* argv[] = {spark_class.c_str(), "org.apache.spark.deploy.history.HistoryServer",
                        nullptr};
  std::signal(SIGPIPE, SIG_DFL);  // main ignores it; an ignored signal survives execv
  ::execv(argv[0], const_cast<char* const*>(argv));
  return Fail("cannot start " + spark_class);
}

}  // namespace sp::cli
