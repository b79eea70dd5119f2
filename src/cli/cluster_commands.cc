// `sparkplane cluster create|scale|delete`; see cluster_commands.h.
#include "cli/cluster_commands.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <tuple>

#include "cli/stop_signals.h"
#include "clusters/lifetime.h"
#include "dag/cron.h"
#include "operators/ad_hoc_try.h"
#include "operators/task_type.h"

namespace sp::cli {

namespace {

using nlohmann::json;

// KEY=VALUE items of a repeated flag into a mapping.
Result<json> Pairs(const std::vector<std::string>& items, const char* flag) {
  json out = json::object();
  for (const std::string& item : items) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgumentError(std::string(flag) + " expects KEY=VALUE; got '" + item + "'");
    }
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

// A lifetime flag of `cluster create` (--max-age, --idle-timeout): a positive duration, or "none"
// (no limit) for --max-age. Checked at the edge so that the message names the flag a user typed,
// and before anything starts; the spark_cluster type checks its fields again as it does for a DAG.
enum class NoneMeans { kRefused, kNoLimit };
Status CheckLifetimeFlag(const std::string& flag, const std::string& text, NoneMeans none) {
  const bool none_allowed = none == NoneMeans::kNoLimit;
  if (text.empty() || (none_allowed && text == "none")) return OkStatus();
  Result<Millis> d = dag::ParseDuration(text);
  if (d.ok() && d->count() > 0) return OkStatus();
  return InvalidArgumentError(flag + ": expected a positive duration such as 30m or 2h" +
                              (none_allowed ? ", or none" : "") + "; got '" + text + "'");
}

// Runs one try of the spark_cluster type to its end.
Result<operators::TaskResult> RunClusterTry(Runtime& rt, json fields, const StopSignals* signals) {
  operators::TaskType* type = rt.registry->Find("spark_cluster");
  if (type == nullptr) return InternalError("the spark_cluster task type is not registered");
  // Progress lines to the inherited standard error (never reopened by path: with `> f 2>&1` a
  // second open file description would write over stdout's lines).
  auto ctx = std::make_shared<operators::AdHocTaskContext>(
      &rt.services, "spark_cluster", std::move(fields),
      [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); });
  type->Start(ctx);
  if (signals != nullptr) {
    // Ctrl-C while the try runs cancels it (a create then deletes what it made).
    bool cancelled = false;
    while (!ctx->done()) {
      if (!cancelled && signals->Wait(200)) {
        std::fprintf(stderr, "sparkplane: cancelling...\n");
        type->Cancel(ctx, json::object(), Millis(10000));
        cancelled = true;
      }
    }
  }
  return ctx->Wait();
}

void PrintResult(const GlobalOptions& g, const operators::TaskResult& r) {
  if (g.json) {
    std::printf("%s\n", r.outputs.dump(2).c_str());
    return;
  }
  std::printf("%s\n", r.message.c_str());
  if (r.outputs.contains("master_url")) {
    std::printf("  master  %s\n  web UI  %s\n  workers %s\n",
                r.outputs.value("master_url", "").c_str(),
                r.outputs.value("master_ui_url", "").c_str(), r.outputs["workers"].dump().c_str());
  }
  if (r.outputs.contains("namespace")) {
    std::printf("  namespace %s\n", r.outputs.value("namespace", "").c_str());
  }
  if (r.outputs.contains("ui_node_port")) {
    std::printf("  UI node port %s\n", r.outputs["ui_node_port"].dump().c_str());
  }
}

}  // namespace

int ClusterCreate(const GlobalOptions& g, const ClusterCreateArgs& a) {
  if (a.name.empty()) return Fail("cluster create needs a NAME");
  for (const Status& s :
       {CheckLifetimeFlag("--max-age", a.max_age, NoneMeans::kNoLimit),
        CheckLifetimeFlag("--idle-timeout", a.idle_timeout, NoneMeans::kRefused)}) {
    if (!s.ok()) return Fail(s);
  }
  StopSignals signals;  // before any thread starts, so every thread inherits the mask
  Result<std::unique_ptr<Runtime>> opened = OpenRuntime(g.config);
  if (!opened.ok()) return Fail(opened.status());
  Runtime& rt = **opened;
  std::string backend = a.backend.empty() ? rt.config.default_cluster_backend : a.backend;

  json fields = {{"action", "create"}, {"name", a.name}, {"backend", backend}};
  if (a.workers >= 0) fields["workers"] = a.workers;
  if (a.worker_cores > 0) fields["worker_cores"] = a.worker_cores;
  if (!a.worker_memory.empty()) fields["worker_memory"] = a.worker_memory;
  if (a.master_cores > 0) fields["master_cores"] = a.master_cores;
  if (!a.master_memory.empty()) fields["master_memory"] = a.master_memory;
  if (!a.image.empty()) fields["image"] = a.image;
  if (!a.worker_scratch.empty()) fields["worker_scratch"] = a.worker_scratch;
  if (!a.ready_timeout.empty()) fields["ready_timeout"] = a.ready_timeout;
  if (!a.max_age.empty()) fields["max_age"] = a.max_age;
  if (!a.idle_timeout.empty()) fields["idle_timeout"] = a.idle_timeout;
  if (a.authenticate) fields["authenticate"] = true;
  if (a.master_rest) fields["master_rest"] = true;
  if (a.ui_node_port == 0) fields["ui_node_port"] = true;
  if (a.ui_node_port > 0) fields["ui_node_port"] = a.ui_node_port;
  for (const auto& [flag, key, items] :
       {std::tuple<const char*, const char*, const std::vector<std::string>*>{
            "--node-selector", "node_selector", &a.node_selector},
        {"--master-conf", "master_conf", &a.master_conf},
        {"--worker-conf", "worker_conf", &a.worker_conf}}) {
    if (items->empty()) continue;
    Result<json> pairs = Pairs(*items, flag);
    if (!pairs.ok()) return Fail(pairs.status());
    fields[key] = *pairs;
  }

  Result<operators::TaskResult> created = RunClusterTry(rt, fields, &signals);
  if (!created.ok()) return Fail(created.status());
  if (!created->success) return Fail(created->message);
  PrintResult(g, *created);
  if (backend != "local") return 0;

  // A local cluster lives as long as this process: wait for a stop signal, then delete it.
  std::fflush(stdout);
  std::fprintf(stderr,
               "sparkplane: the local cluster's daemons are children of this command; press "
               "Ctrl-C to delete it\n");
  while (!signals.Wait(1000)) {
  }
  Result<operators::TaskResult> deleted =
      RunClusterTry(rt, {{"action", "delete"}, {"name", a.name}, {"backend", backend}}, nullptr);
  if (!deleted.ok()) return Fail(deleted.status());
  if (!deleted->success) return Fail(deleted->message);
  if (!g.json) std::printf("%s\n", deleted->message.c_str());
  return 0;
}

int ClusterScale(const GlobalOptions& g, const std::string& name, int workers,
                 const std::string& ready_timeout) {
  if (name.empty()) return Fail("cluster scale needs a NAME");
  if (workers < 0) return Fail("cluster scale needs --workers N (N >= 0)");
  StopSignals signals;
  Result<std::unique_ptr<Runtime>> opened = OpenRuntime(g.config);
  if (!opened.ok()) return Fail(opened.status());
  json fields = {{"action", "scale"}, {"name", name}, {"workers", workers}};
  if (!ready_timeout.empty()) fields["ready_timeout"] = ready_timeout;
  // The record says which backend the cluster has; the field only has to be valid.
  Result<std::vector<store::ClusterRecord>> records = (*opened)->store->ListClusters(false);
  if (records.ok()) {
    for (const store::ClusterRecord& r : *records) {
      if (r.name == name) fields["backend"] = r.backend;
    }
  }
  Result<operators::TaskResult> scaled = RunClusterTry(**opened, fields, &signals);
  if (!scaled.ok()) return Fail(scaled.status());
  if (!scaled->success) return Fail(scaled->message);
  PrintResult(g, *scaled);
  return 0;
}

int ClusterDelete(const GlobalOptions& g, const std::string& name, const std::string& backend) {
  if (name.empty()) return Fail("cluster delete needs a NAME");
  Result<std::unique_ptr<Runtime>> opened = OpenRuntime(g.config);
  if (!opened.ok()) return Fail(opened.status());
  json fields = {{"action", "delete"}, {"name", name}};
  if (!backend.empty()) fields["backend"] = backend;
  Result<operators::TaskResult> deleted = RunClusterTry(**opened, fields, nullptr);
  if (!deleted.ok()) return Fail(deleted.status());
  if (!deleted->success) return Fail(deleted->message);
  PrintResult(g, *deleted);
  return 0;
}

int ClusterGuard(const std::vector<std::string>& args) {
  std::vector<std::string> rest;
  std::string log;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") continue;
    if (args[i] == "--log" && i + 1 < args.size()) {
      log = args[++i];
    } else {
      rest.push_back(args[i]);
    }
  }
  if (log.empty()) return Fail("cluster guard needs --log FILE");
  Result<clusters::GuardOptions> options = clusters::ParseGuardArgs(rest);
  if (!options.ok()) return Fail(options.status());
  if (Status s = clusters::DetachGuard(log); !s.ok()) return Fail(s);
  RealClock clock;
  std::printf("guarding %s (pid %d)\n", options->handle_file.c_str(), static_cast<int>(::getpid()));
  std::fflush(stdout);
  Result<std::string> ended = clusters::RunGuard(*options, clock);
  if (!ended.ok()) return Fail(ended.status());
  std::printf("%s\n", ended->empty() ? "the cluster was deleted; guard done" : ended->c_str());
  return 0;
}

}  // namespace sp::cli
