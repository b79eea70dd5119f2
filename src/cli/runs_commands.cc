// `sparkplane runs ...` and `sparkplane tasks ...`
#include <cstdio>
#include <fstream>
#include <iostream>

#include "api/views.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "dag/dag_folder.h"
#include "scheduler/decide.h"
#include "spark/history.h"

namespace sp::cli {
namespace {

int PrintCommandResult(const GlobalOptions& g, const Result<nlohmann::json>& r,
                       const std::string& what) {
  if (!r.ok()) return Fail(r.status());
  if (!r->value("ok", false)) return Fail(r->value("error", std::string("command failed")));
  if (g.json) {
    std::printf("%s\n", r->dump(2).c_str());
  } else {
    std::printf("%s\n", what.c_str());
  }
  return 0;
}

// Splits "DAG RUN TASK..." / "KEY TASK..." into the run part and the rest.
std::pair<std::vector<std::string>, std::vector<std::string>> SplitRunArgs(
    const std::vector<std::string>& args) {
  bool numeric = !args.empty() && !args[0].empty() &&
                 args[0].find_first_not_of("0123456789") == std::string::npos;
  size_t n = numeric ? 1 : 2;
  if (args.size() < n) return {args, {}};
  return {std::vector<std::string>(args.begin(), args.begin() + static_cast<long>(n)),
          std::vector<std::string>(args.begin() + static_cast<long>(n), args.end())};
}

void PrintTaskTable(const std::vector<store::TaskInstance>& tis) {
  Table table({"TASK", "STATE", "TRY", "STARTED", "DURATION", "EXIT", "OUTPUTS", "REASON"});
  for (const auto& ti : tis) {
    std::string outputs = ti.outputs.empty() ? "-" : ti.outputs.dump();
    if (outputs.size() > 60) outputs = outputs.substr(0, 57) + "...";
    table.Add({ti.task_id, store::TaskStateName(ti.state),
               std::to_string(ti.try_number) + "/" + std::to_string(ti.max_tries),
               FormatOptionalTime(ti.started_at), FormatDurationBetween(ti.started_at, ti.ended_at),
               ti.exit_code ? std::to_string(*ti.exit_code) : "-", outputs, ti.reason});
  }
  table.Print();
}

}  // namespace

int RunsList(const GlobalOptions& g, const std::string& dag_id, const std::string& state,
             int limit) {
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  store::RunFilter f;
  if (!dag_id.empty()) f.dag_id = dag_id;
  if (!state.empty()) {
    f.state = store::ParseRunState(state);
    if (!f.state) {
      return Fail("--state: expected queued, running, success, failed or cancelled; got '" + state +
                  "'");
    }
  }
  f.limit = limit;
  Result<std::vector<store::DagRun>> runs = (*rt)->store->ListRuns(f);
  if (!runs.ok()) return Fail(runs.status());
  if (g.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : *runs) out.push_back(api::RunToJson(r));
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  Table table({"KEY", "DAG_ID", "RUN_ID", "TYPE", "STATE", "STARTED", "DURATION", "NOTE"});
  for (const auto& r : *runs) {
    table.Add({std::to_string(r.id), r.dag_id, r.run_id, store::RunTypeName(r.type),
               store::RunStateName(r.state), FormatOptionalTime(r.started_at),
               FormatDurationBetween(r.started_at, r.ended_at), r.note});
  }
  if (table.empty()) {
    std::printf("no runs\n");
  } else {
    table.Print();
  }
  return 0;
}

int RunsShow(const GlobalOptions& g, const std::vector<std::string>& args) {
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  Result<store::DagRun> run = ResolveRun(*(*rt)->store, args);
  if (!run.ok()) return Fail(run.status());
  Result<std::vector<store::TaskInstance>> tis = (*rt)->store->ListTaskInstances(run->id);
  if (!tis.ok()) return Fail(tis.status());
  if (g.json) {
    nlohmann::json j = api::RunToJson(*run);
    j["tasks"] = nlohmann::json::array();
    for (const auto& ti : *tis) j["tasks"].push_back(api::TaskInstanceToJson(ti));
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  const store::DagRun& r = *run;
  std::printf("run %s of %s (key %lld): %s\n", r.run_id.c_str(), r.dag_id.c_str(),
              static_cast<long long>(r.id), store::RunStateName(r.state));
  std::printf("  type %s, logical date %s, data interval %s .. %s\n", store::RunTypeName(r.type),
              FormatTime(r.logical_date).c_str(), FormatTime(r.data_interval_start).c_str(),
              FormatTime(r.data_interval_end).c_str());
  std::printf("  started %s, ended %s, duration %s\n", FormatOptionalTime(r.started_at).c_str(),
              FormatOptionalTime(r.ended_at).c_str(),
              FormatDurationBetween(r.started_at, r.ended_at).c_str());
  if (!r.conf.empty()) std::printf("  conf %s\n", r.conf.dump().c_str());
  if (!r.note.empty()) std::printf("  note: %s\n", r.note.c_str());
  std::printf("\n");
  PrintTaskTable(*tis);
  // Spark tasks link to their application's summary.
  for (const auto& ti : *tis) {
    if (!ti.outputs.is_object() || !ti.outputs.contains("app_id")) continue;
    std::string app =
        ti.outputs["app_id"].is_string() ? ti.outputs["app_id"].get<std::string>() : "";
    Result<spark::AppSummary> sum =
        spark::SummarizeApplication((*rt)->config.data_dir + "/history/spark", app);
    if (sum.ok()) {
      std::printf(
          "\n%s: Spark application %s %s in %.1fs, jobs %d ok / %d failed, tasks %lld "
          "(sparkplane history show %s)",
          ti.task_id.c_str(), app.c_str(), spark::AppStatusName(sum->status),
          static_cast<double>(sum->duration_ms) / 1000.0, sum->jobs_succeeded, sum->jobs_failed,
          static_cast<long long>(sum->tasks_succeeded), app.c_str());
    } else {
      std::printf("\n%s: Spark application %s (%s)", ti.task_id.c_str(), app.c_str(),
                  sum.status().message().c_str());
    }
  }
  std::printf("\n");
  return 0;
}

int RunsCancel(const GlobalOptions& g, const std::vector<std::string>& args) {
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  Result<store::DagRun> run = ResolveRun(*(*rt)->store, args);
  if (!run.ok()) return Fail(run.status());
  Result<nlohmann::json> r = RunCommand(**rt, {{"op", "cancel"}, {"run", run->id}});
  return PrintCommandResult(
      g, r, "cancelling run " + run->run_id + " (teardown tasks still run; see `runs show`)");
}

int TasksList(const GlobalOptions& g, const std::vector<std::string>& args) {
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  Result<store::DagRun> run = ResolveRun(*(*rt)->store, args);
  if (!run.ok()) return Fail(run.status());
  Result<std::vector<store::TaskInstance>> tis = (*rt)->store->ListTaskInstances(run->id);
  if (!tis.ok()) return Fail(tis.status());
  // Why each waiting task waits: the scheduler's deps, evaluated on the stored state.
  dag::DagFolder folder((*rt)->config.dags_folder, (*rt)->registry->Checker());
  folder.Rescan();
  scheduler::Snapshot snap;
  scheduler::RunView view{*run, folder.Find(run->dag_id), {}};
  for (const auto& ti : *tis) {
    view.tis[ti.task_id] = ti;
    if (store::IsActive(ti.state)) ++snap.active_tries;
  }
  snap.runs[run->id] = view;
  snap.parallelism = (*rt)->config.parallelism;
  nlohmann::json out = nlohmann::json::array();
  Table table({"TASK", "STATE", "TRY", "DURATION", "EXIT", "WHY / REASON"});
  for (const auto& ti : *tis) {
    std::string why = ti.reason;
    nlohmann::json deps = nlohmann::json::array();
    bool waiting = ti.state == store::TaskState::kNone ||
                   ti.state == store::TaskState::kScheduled ||
                   ti.state == store::TaskState::kUpForRetry;
    if (waiting && !store::IsTerminal(run->state)) {
      why.clear();
      for (const auto& d : scheduler::ExplainTask(snap, run->id, ti.task_id, (*rt)->clock.Now())) {
        deps.push_back({{"dep", d.name}, {"passed", d.passed}, {"reason", d.reason}});
        if (!d.passed) why += (why.empty() ? "" : "; ") + d.reason;
      }
      if (why.empty()) why = "ready; waiting for the scheduler";
    }
    nlohmann::json j = api::TaskInstanceToJson(ti);
    j["deps"] = deps;
    out.push_back(j);
    table.Add({ti.task_id, store::TaskStateName(ti.state),
               std::to_string(ti.try_number) + "/" + std::to_string(ti.max_tries),
               FormatDurationBetween(ti.started_at, ti.ended_at),
               ti.exit_code ? std::to_string(*ti.exit_code) : "-", why});
  }
  if (g.json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    table.Print();
  }
  return 0;
}

int TasksLogs(const GlobalOptions& g, const std::vector<std::string>& args, int try_number) {
  auto [run_args, rest] = SplitRunArgs(args);
  if (rest.size() != 1) return Fail("expected DAG_ID RUN_ID TASK_ID (or KEY TASK_ID)");
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  Result<store::DagRun> run = ResolveRun(*(*rt)->store, run_args);
  if (!run.ok()) return Fail(run.status());
  Result<std::vector<store::TaskInstance>> tis = (*rt)->store->ListTaskInstances(run->id);
  if (!tis.ok()) return Fail(tis.status());
  for (const auto& ti : *tis) {
    if (ti.task_id != rest[0]) continue;
    int t = try_number > 0 ? try_number : ti.try_number;
    if (t == 0) return Fail("task '" + ti.task_id + "' has not run yet");
    std::string path =
        (*rt)->config.SchedulerDir() + "/" + scheduler::TryLogPath(*run, ti.task_id, t);
    std::ifstream in(path, std::ios::binary);
    if (!in) return Fail("no log for try " + std::to_string(t) + " at " + path);
    std::cout << in.rdbuf();
    std::cout.flush();
    return 0;
  }
  return Fail("run " + run->run_id + " has no task '" + rest[0] + "'");
}

int TasksClear(const GlobalOptions& g, const std::vector<std::string>& args, bool downstream) {
  auto [run_args, tasks] = SplitRunArgs(args);
  if (tasks.empty()) return Fail("expected DAG_ID RUN_ID TASK_ID... (or KEY TASK_ID...)");
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  Result<store::DagRun> run = ResolveRun(*(*rt)->store, run_args);
  if (!run.ok()) return Fail(run.status());
  Result<nlohmann::json> r = RunCommand(
      **rt, {{"op", "clear"}, {"run", run->id}, {"tasks", tasks}, {"downstream", downstream}});
  return PrintCommandResult(g, r, "cleared; run " + run->run_id + " will run them again");
}

int TasksMark(const GlobalOptions& g, const std::vector<std::string>& args,
              const std::string& state) {
  auto [run_args, rest] = SplitRunArgs(args);
  if (rest.size() != 1) return Fail("expected DAG_ID RUN_ID TASK_ID (or KEY TASK_ID)");
  if (state != "success" && state != "failed" && state != "skipped") {
    return Fail("--state must be success, failed or skipped; got '" + state + "'");
  }
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(g.config);
  if (!rt.ok()) return Fail(rt.status());
  Result<store::DagRun> run = ResolveRun(*(*rt)->store, run_args);
  if (!run.ok()) return Fail(run.status());
  Result<nlohmann::json> r =
      RunCommand(**rt, {{"op", "mark"}, {"run", run->id}, {"task", rest[0]}, {"state", state}});
  return PrintCommandResult(g, r, "marked " + rest[0] + " " + state);
}

}  // namespace sp::cli
