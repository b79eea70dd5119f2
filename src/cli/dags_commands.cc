// `sparkplane dags ...`
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "api/control_socket.h"
#include "api/views.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "common/nearest_name.h"
#include "dag/dag_folder.h"
#include "scheduler/decide.h"
#include "scheduler/scheduler.h"

namespace sp::cli {
namespace fs = std::filesystem;
namespace {

// The DAG folder as `dags` commands see it, without opening the store.
struct FolderView {
  operators::Services services;  // unused by validation; task types only keep the pointer
  std::unique_ptr<operators::TaskTypeRegistry> registry;
  std::unique_ptr<dag::DagFolder> folder;
};

FolderView LoadFolder(const std::string& dir) {
  FolderView v;
  v.registry = operators::BuildRegistry(&v.services);
  v.folder = std::make_unique<dag::DagFolder>(dir, v.registry->Checker());
  v.folder->Rescan();
  return v;
}

Result<dag::DagPtr> FindDag(const dag::DagFolder& folder, const std::string& dag_id) {
  dag::DagPtr d = folder.Find(dag_id);
  if (d) return d;
  std::vector<std::string> ids;
  for (const auto& [id, x] : folder.dags()) ids.push_back(id);
  for (const dag::LoadedFile& f : folder.Files()) {
    if (!f.errors.empty() && fs::path(f.path).stem() == dag_id) {
      return FailedPreconditionError("DAG file " + f.path + " has errors:\n  " +
                                     f.errors[0].ToString());
    }
  }
  if (ids.empty())
    return NotFoundError("no DAG '" + dag_id + "': the dags folder has no valid DAG");
  std::string near = NearestName(dag_id, ids);
  return NotFoundError("no DAG '" + dag_id + "'" +
                       (near.empty() ? "" : "; did you mean '" + near + "'?"));
}

std::string RoleName(dag::TaskRole r) {
  return r == dag::TaskRole::kSetup ? "setup" : r == dag::TaskRole::kTeardown ? "teardown" : "";
}

int PrintCommandResult(const GlobalOptions& g, const Result<nlohmann::json>& r,
                       const std::string& what) {
  if (!r.ok()) return Fail(r.status());
  const nlohmann::json& j = *r;
  if (!j.value("ok", false)) return Fail(j.value("error", std::string("command failed")));
  if (g.json) {
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s\n", what.c_str());
  }
  return 0;
}

}  // namespace

int DagsList(const GlobalOptions& g) {
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  FolderView v = LoadFolder((*rt)->config.dags_folder);
  std::map<std::string, bool> paused;
  if (auto records = (*rt)->store->ListDags(); records.ok()) {
    for (const auto& r : *records) paused[r.dag_id] = r.paused;
  }
  nlohmann::json out = nlohmann::json::array();
  Table table({"DAG_ID", "SCHEDULE", "PAUSED", "TASKS", "TAGS", "FILE"});
  for (const auto& [id, d] : v.folder->dags()) {
    std::string tags;
    for (const auto& t : d->tags) tags += (tags.empty() ? "" : ",") + t;
    std::string sched = d->schedule ? d->schedule->text() : "manual";
    table.Add(
        {id, sched, paused[id] ? "yes" : "no", std::to_string(d->tasks.size()), tags, d->file});
    out.push_back({{"dag_id", id},
                   {"schedule", d->schedule ? nlohmann::json(sched) : nlohmann::json()},
                   {"paused", paused[id]},
                   {"tasks", d->tasks.size()},
                   {"tags", d->tags},
                   {"file", d->file},
                   {"description", d->description}});
  }
  int broken = 0;
  for (const dag::LoadedFile& f : v.folder->Files()) {
    if (f.errors.empty()) continue;
    ++broken;
    std::fprintf(stderr, "sparkplane: warning: %s has %zu error(s); first: %s\n", f.path.c_str(),
                 f.errors.size(), f.errors[0].ToString().c_str());
  }
  if (g.json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else if (table.empty()) {
    std::printf("no DAGs in %s\n", (*rt)->config.dags_folder.c_str());
  } else {
    table.Print();
  }
  return 0;
}

int DagsShow(const GlobalOptions& g, const std::string& dag_id, bool dot) {
  Result<Config> cfg = ResolveConfig(g.config);
  if (!cfg.ok()) return Fail(cfg.status());
  FolderView v = LoadFolder(cfg->dags_folder);
  Result<dag::DagPtr> found = FindDag(*v.folder, dag_id);
  if (!found.ok()) return Fail(found.status());
  const dag::Dag& d = **found;
  if (dot) {
    std::printf("digraph \"%s\" {\n  rankdir=LR;\n", d.id.c_str());
    for (const auto& t : d.tasks) {
      std::string shape = t.role == dag::TaskRole::kSetup      ? "house"
                          : t.role == dag::TaskRole::kTeardown ? "invhouse"
                                                               : "box";
      std::printf("  \"%s\" [shape=%s, label=\"%s\\n(%s)\"];\n", t.id.c_str(), shape.c_str(),
                  t.id.c_str(), t.type.c_str());
      for (const auto& up : t.depends_on) {
        std::printf("  \"%s\" -> \"%s\";\n", up.c_str(), t.id.c_str());
      }
    }
    std::printf("}\n");
    return 0;
  }
  if (g.json) {
    nlohmann::json j = api::DagToJson(d);
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("DAG %s  (%s)\n", d.id.c_str(), d.file.c_str());
  if (!d.description.empty()) std::printf("  %s\n", d.description.c_str());
  std::printf("  schedule: %s   catchup: %s   max_active_runs: %d\n",
              d.schedule ? d.schedule->text().c_str() : "manual", d.catchup ? "yes" : "no",
              d.max_active_runs);
  if (d.start_date) std::printf("  start_date: %s\n", FormatTime(*d.start_date).c_str());
  if (d.end_date) std::printf("  end_date: %s\n", FormatTime(*d.end_date).c_str());
  if (!d.params.empty()) {
    nlohmann::json params = nlohmann::json::object();
    for (const auto& [k, p] : d.params) params[k] = p.default_value;
    std::printf("  params: %s\n", params.dump().c_str());
  }
  std::printf("\n");
  Table table({"TASK", "TYPE", "ROLE", "DEPENDS_ON", "TRIGGER_RULE", "RETRIES", "TIMEOUT"});
  for (const auto& t : d.tasks) {
    std::string deps;
    for (const auto& u : t.depends_on) deps += (deps.empty() ? "" : ",") + u;
    table.Add({t.id, t.type, RoleName(t.role), deps.empty() ? "-" : deps,
               dag::TriggerRuleName(t.trigger_rule), std::to_string(t.retry.retries),
               t.execution_timeout ? dag::FormatDuration(*t.execution_timeout) : "-"});
  }
  table.Print();
  return 0;
}

int DagsValidate(const GlobalOptions& g, const std::string& dir) {
  std::string folder = dir;
  if (folder.empty()) {
    Result<Config> cfg = ResolveConfig(g.config);
    if (!cfg.ok()) return Fail(cfg.status());
    folder = cfg->dags_folder;
  }
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return Fail("no such folder: " + folder);
  FolderView v = LoadFolder(folder);
  std::vector<dag::LoadedFile> files = v.folder->Files();
  size_t errors = 0;
  nlohmann::json out = nlohmann::json::array();
  for (const dag::LoadedFile& f : files) {
    nlohmann::json errs = nlohmann::json::array();
    for (const dag::DagError& e : f.errors) {
      ++errors;
      if (!g.json) std::fprintf(stderr, "%s\n", e.ToString().c_str());
      errs.push_back({{"file", e.location.file},
                      {"line", e.location.line},
                      {"column", e.location.column},
                      {"field", e.field},
                      {"message", e.message}});
    }
    out.push_back({{"file", f.path},
                   {"dag_id", f.dag ? nlohmann::json(f.dag->id) : nlohmann::json()},
                   {"errors", errs}});
  }
  if (g.json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("%zu file(s), %zu valid DAG(s), %zu error(s)\n", files.size(),
                v.folder->dags().size(), errors);
  }
  return errors == 0 ? 0 : 1;
}

int DagsTrigger(const GlobalOptions& g, const std::string& dag_id, const std::string& conf,
                const std::string& logical_date, const std::string& run_id) {
  Result<nlohmann::json> c = ParseConf(conf);
  if (!c.ok()) return Fail(c.status());
  nlohmann::json req = {{"op", "trigger"}, {"dag_id", dag_id}, {"conf", *c}, {"run_id", run_id}};
  if (!logical_date.empty()) {
    Result<Time> t = api::ParseUtcTime(logical_date, "--logical-date");
    if (!t.ok()) return Fail(t.status());
    req["logical_date"] = FormatTime(*t);
  }
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  Result<nlohmann::json> r = RunCommand(**rt, req);
  if (r.ok() && r->value("ok", false) && !(*r)["created_runs"].empty()) {
    int64_t key = (*r)["created_runs"][0];
    auto run = (*rt)->store->GetRun(key);
    std::string name = run.ok() && *run ? (*run)->run_id : std::to_string(key);
    return PrintCommandResult(g, r, "created run " + name + " (key " + std::to_string(key) + ")");
  }
  return PrintCommandResult(g, r, "");
}

int DagsPause(const GlobalOptions& g, const std::string& dag_id, bool paused) {
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  Result<nlohmann::json> r =
      RunCommand(**rt, {{"op", paused ? "pause" : "unpause"}, {"dag_id", dag_id}});
  return PrintCommandResult(g, r, std::string(paused ? "paused " : "unpaused ") + dag_id);
}

int DagsBackfill(const GlobalOptions& g, const std::string& dag_id, const std::string& start,
                 const std::string& end, const std::string& conf, bool dry_run) {
  Result<Time> from = api::ParseUtcTime(start, "--start-date");
  if (!from.ok()) return Fail(from.status());
  Result<Time> to = api::ParseUtcTime(end, "--end-date");
  if (!to.ok()) return Fail(to.status());
  // A date without a time means the whole day, as users expect from "-E 2026-11-03".
  if (end.find('T') == std::string::npos) to = *to + Millis(24 * 3600 * 1000 - 1);
  Result<nlohmann::json> c = ParseConf(conf);
  if (!c.ok()) return Fail(c.status());
  if (dry_run) {
    Result<Config> cfg = ResolveConfig(g.config);
    if (!cfg.ok()) return Fail(cfg.status());
    FolderView v = LoadFolder(cfg->dags_folder);
    Result<dag::DagPtr> d = FindDag(*v.folder, dag_id);
    if (!d.ok()) return Fail(d.status());
    if (!(*d)->schedule || (*d)->schedule->is_once()) {
      return Fail("DAG '" + dag_id + "' has no cron schedule to backfill");
    }
    auto runs = scheduler::BackfillRuns(**d, *from, *to, 10001);
    nlohmann::json out = nlohmann::json::array();
    Table table({"RUN_ID", "DATA_INTERVAL_START", "DATA_INTERVAL_END"});
    for (const auto& r : runs) {
      std::string id = scheduler::MakeRunId(store::RunType::kBackfill, r.logical_date);
      table.Add({id, FormatTime(r.interval.start), FormatTime(r.interval.end)});
      out.push_back({{"run_id", id},
                     {"data_interval_start", FormatTime(r.interval.start)},
                     {"data_interval_end", FormatTime(r.interval.end)}});
    }
    if (g.json) {
      std::printf("%s\n", out.dump(2).c_str());
    } else {
      table.Print();
      std::printf("dry run: %zu run(s) would be created\n", runs.size());
    }
    return 0;
  }
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  Result<nlohmann::json> r = RunCommand(**rt, {{"op", "backfill"},
                                               {"dag_id", dag_id},
                                               {"from", FormatTime(*from)},
                                               {"to", FormatTime(*to)},
                                               {"conf", *c}});
  size_t n = r.ok() && r->contains("created_runs") ? (*r)["created_runs"].size() : 0;
  return PrintCommandResult(g, r, "created " + std::to_string(n) + " backfill run(s)");
}

int DagsNextExecution(const GlobalOptions& g, const std::string& dag_id, int n) {
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  FolderView v = LoadFolder((*rt)->config.dags_folder);
  Result<dag::DagPtr> d = FindDag(*v.folder, dag_id);
  if (!d.ok()) return Fail(d.status());
  std::optional<Time> last;
  if (auto rec = (*rt)->store->GetDag(dag_id); rec.ok() && *rec) {
    last = (*rec)->last_scheduled_logical_date;
  }
  if (!(*d)->schedule) return Fail("DAG '" + dag_id + "' has no schedule (manual runs only)");
  // The scheduler's own decision (catchup, end_date, the runs made), from now on.
  auto runs = scheduler::NextScheduledRuns(**d, last, (*rt)->clock.Now(),
                                           static_cast<size_t>(std::max(n, 1)));
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : runs) {
    if (!g.json) std::printf("%s\n", FormatTime(r.logical_date).c_str());
    out.push_back({{"logical_date", FormatTime(r.logical_date)},
                   {"data_interval_start", FormatTime(r.interval.start)},
                   {"data_interval_end", FormatTime(r.interval.end)},
                   {"runs_at", FormatTime(r.run_after)}});
  }
  if (g.json) std::printf("%s\n", out.dump(2).c_str());
  if (runs.empty() && !g.json) {
    std::printf("no further runs (end_date passed, @once done, or the schedule never fires)\n");
  }
  return 0;
}

// ---- dags test -----------------------------------------------------------------------------

namespace {

// Follows every log file under a run's log folder and prints new lines as "[task#try] line".
class LogFollower {
 public:
  LogFollower(std::string dir, std::FILE* out) : dir_(std::move(dir)), out_(out) {}
  void Poll() {
    std::error_code ec;
    if (!fs::is_directory(dir_, ec)) return;
    for (const auto& e : fs::recursive_directory_iterator(dir_, ec)) {
      if (!e.is_regular_file()) continue;
      std::string path = e.path().string();
      // Open a file only when it grew: most logs are quiet most of the time.
      std::error_code size_ec;
      uintmax_t size = e.file_size(size_ec);
      if (size_ec || size <= offsets_[path]) continue;
      std::ifstream in(path, std::ios::binary);
      in.seekg(static_cast<std::streamoff>(offsets_[path]));
      std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      size_t last_nl = chunk.rfind('\n');
      if (last_nl == std::string::npos) continue;
      chunk.resize(last_nl + 1);
      offsets_[path] += chunk.size();
      fs::path rel = fs::relative(e.path(), dir_, ec);
      std::string task = rel.parent_path().string();
      std::string tr = rel.stem().string();
      size_t start = 0;
      while (start < chunk.size()) {
        size_t nl = chunk.find('\n', start);
        std::fprintf(out_, "[%s#%s] %s\n", task.c_str(), tr.c_str(),
                     chunk.substr(start, nl - start).c_str());
        start = nl + 1;
      }
      std::fflush(out_);
    }
  }

 private:
  std::string dir_;
  std::FILE* out_;
  std::map<std::string, size_t> offsets_;
};

}  // namespace

int DagsTest(const GlobalOptions& g, const std::string& dag_id, const std::string& conf,
             const std::string& logical_date, const std::vector<std::string>& only_tasks) {
  Result<nlohmann::json> c = ParseConf(conf);
  if (!c.ok()) return Fail(c.status());
  scheduler::TriggerRun trigger;
  trigger.dag_id = dag_id;
  trigger.conf = *c;
  trigger.type = store::RunType::kTest;
  trigger.only_tasks = only_tasks;
  if (!logical_date.empty()) {
    Result<Time> t = api::ParseUtcTime(logical_date, "--logical-date");
    if (!t.ok()) return Fail(t.status());
    trigger.logical_date = *t;
  }
  Result<std::unique_ptr<Runtime>> opened = OpenRuntime(g.config);
  if (!opened.ok()) return Fail(opened.status());
  Runtime& rt = **opened;
  rt.logger = std::make_unique<Logger>(rt.clock, LogLevel::kWarn);
  rt.services.logger = rt.logger.get();

  scheduler::SchedulerOptions opts;
  opts.dags_folder = rt.config.dags_folder;
  opts.parallelism = rt.config.parallelism;
  opts.create_scheduled_runs = false;
  opts.recover_tries = false;
  opts.load_active_runs = false;
  scheduler::Scheduler sched(&rt.services, rt.registry.get(), opts);
  Status s = sched.Start();
  if (!s.ok()) return Fail(s);
  if (!sched.dag_folder().Find(dag_id)) {
    for (const dag::LoadedFile& f : sched.dag_folder().Files()) {
      for (const dag::DagError& e : f.errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    }
  }
  std::optional<store::DagRun> finished;
  int64_t run_key = 0;
  sched.SetRunFinishedObserver([&](const store::DagRun& r) {
    if (r.id == run_key) {
      finished = r;
      sched.Stop();
    }
  });
  Result<scheduler::CommandResult> created = sched.Execute(trigger);
  if (!created.ok()) return Fail(created.status());
  run_key = created->created_runs.at(0);
  Result<std::optional<store::DagRun>> run = rt.store->GetRun(run_key);
  if (!run.ok() || !*run) return Fail("the test run vanished");
  // With --json, stdout carries only the final JSON; progress and logs go to stderr.
  std::FILE* progress = g.json ? stderr : stdout;
  std::fprintf(progress, "running %s %s (key %lld)\n", dag_id.c_str(), (*run)->run_id.c_str(),
               static_cast<long long>(run_key));
  std::fflush(progress);

  LogFollower follower(rt.config.SchedulerDir() + "/logs/" + dag_id + "/" + (*run)->run_id,
                       progress);
  std::atomic<bool> done{false};
  std::thread tail([&] {
    while (!done.load()) {
      follower.Poll();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    follower.Poll();
  });
  if (!finished) sched.Run();
  done = true;
  tail.join();

  Result<std::vector<store::TaskInstance>> tis = rt.store->ListTaskInstances(run_key);
  if (!tis.ok()) return Fail(tis.status());
  Result<std::optional<store::DagRun>> final_run = rt.store->GetRun(run_key);
  const store::DagRun& fr = **final_run;
  if (g.json) {
    nlohmann::json j = api::RunToJson(fr);
    j["tasks"] = nlohmann::json::array();
    for (const auto& ti : *tis) j["tasks"].push_back(api::TaskInstanceToJson(ti));
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("\n");
    Table table({"TASK", "STATE", "TRY", "DURATION", "EXIT", "REASON"});
    for (const auto& ti : *tis) {
      table.Add({ti.task_id, store::TaskStateName(ti.state), std::to_string(ti.try_number),
                 FormatDurationBetween(ti.started_at, ti.ended_at),
                 ti.exit_code ? std::to_string(*ti.exit_code) : "-", ti.reason});
    }
    table.Print();
    std::printf("\nrun %s: %s (%s)\n", fr.run_id.c_str(), store::RunStateName(fr.state),
                FormatDurationBetween(fr.started_at, fr.ended_at).c_str());
  }
  return fr.state == store::RunState::kSuccess ? 0 : 1;
}

}  // namespace sp::cli
