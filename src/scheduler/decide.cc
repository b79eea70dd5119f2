// Decide: see decide.h. Everything here is a pure computation over the Snapshot; changes are
// collected in an overlay (Working) so an event costs time proportional to what it touches, not
// to the size of the snapshot.
#include "scheduler/decide.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "common/nearest_name.h"
#include "dag/ids.h"
#include "dag/loader.h"
#include "dag/template.h"
#include "scheduler/deps/max_active_runs_dep.h"
#include "scheduler/deps/not_in_retry_period_dep.h"
#include "scheduler/deps/parallelism_slot_dep.h"
#include "scheduler/deps/trigger_rule_dep.h"

namespace sp::scheduler {
namespace {

using store::DagRun;
using store::RunState;
using store::TaskInstance;
using store::TaskState;

constexpr size_t kMaxRunsPerPass = 100;  // schedule catch-up is spread over several passes
constexpr size_t kMaxBackfillRuns = 10000;

// The overlay: reads fall through to the snapshot, writes are copied in on first touch.
class Working {
 public:
  Working(const Snapshot& s, Time now, Plan& plan)
      : snap_(s), now_(now), plan_(plan), active_(s.active_tries) {}

  Time now() const { return now_; }
  Plan& plan() { return plan_; }
  int& active() { return active_; }

  bool HasRun(int64_t key) const { return snap_.runs.count(key) || new_runs_.count(key); }
  const RunView& View(int64_t key) const {
    auto it = new_runs_.find(key);
    return it != new_runs_.end() ? it->second : snap_.runs.at(key);
  }
  const DagRun& Run(int64_t key) const {
    auto it = runs_.find(key);
    return it != runs_.end() ? it->second : View(key).run;
  }
  DagRun& MutableRun(int64_t key) {
    if (auto it = new_runs_.find(key); it != new_runs_.end()) return it->second.run;
    auto [it, inserted] = runs_.try_emplace(key, snap_.runs.at(key).run);
    return it->second;
  }
  // A run made by `tasks test` has instances for some tasks only.
  bool HasTi(int64_t run, const std::string& task) const {
    return View(run).tis.count(task) > 0 || tis_.count({run, task}) > 0;
  }
  const TaskInstance& Ti(int64_t run, const std::string& task) const {
    if (auto it = tis_.find({run, task}); it != tis_.end()) return it->second;
    return View(run).tis.at(task);
  }
  TaskInstance& MutableTi(int64_t run, const std::string& task) {
    if (auto it = new_runs_.find(run); it != new_runs_.end()) return it->second.tis.at(task);
    if (auto it = tis_.find({run, task}); it != tis_.end()) return it->second;
    return tis_.emplace(std::make_pair(run, task), snap_.runs.at(run).tis.at(task)).first->second;
  }
  // A task instance for a task added to the DAG of a run the snapshot holds.
  void AddTi(TaskInstance ti) {
    tis_.emplace(std::make_pair(ti.run_id, ti.task_id), std::move(ti));
  }
  // All run keys, snapshot and new, ascending.
  std::vector<int64_t> RunKeys() const {
    std::vector<int64_t> keys;
    for (const auto& [k, v] : snap_.runs) keys.push_back(k);
    for (const auto& [k, v] : new_runs_) keys.push_back(k);
    std::sort(keys.begin(), keys.end());
    return keys;
  }
  void AddRun(RunView view) {
    plan_.created_runs.push_back(view.run.id);
    new_runs_.emplace(view.run.id, std::move(view));
  }

  const DagEntry* Dag(const std::string& id) const {
    if (auto it = dags_.find(id); it != dags_.end()) return &it->second;
    auto it = snap_.dags.find(id);
    return it == snap_.dags.end() ? nullptr : &it->second;
  }
  // A new DAG (not in the snapshot) starts from an empty entry.
  DagEntry& MutableDag(const std::string& id) {
    auto sit = snap_.dags.find(id);
    auto [it, inserted] = dags_.try_emplace(id, sit != snap_.dags.end() ? sit->second : DagEntry{});
    return it->second;
  }
  store::DagRecord& MutableDagRecord(const std::string& id) { return MutableDag(id).record; }
  const std::map<std::string, DagEntry>& snapshot_dags() const { return snap_.dags; }
  const Snapshot& snapshot() const { return snap_; }

  bool Cancelling(const TryKey& k) const {
    return snap_.cancelling.count(k) > 0 || stopping_.count(k) > 0;
  }
  void Stop(int64_t run, const std::string& task, int try_number, const std::string& reason) {
    TryKey k{run, task, try_number};
    if (Cancelling(k)) return;
    stopping_.insert(k);
    plan_.stops.push_back({run, task, try_number, reason});
  }

  void Transition(int64_t run, const std::string& task, TaskState to, const std::string& reason) {
    TaskInstance& ti = MutableTi(run, task);
    if (ti.state == to && ti.reason == reason) return;
    bool was_active = store::IsActive(ti.state);
    plan_.events.push_back({run, task, ti.try_number, store::TaskStateName(ti.state),
                            store::TaskStateName(to), reason, now_});
    const bool changed = ti.state != to;
    ti.state = to;
    ti.reason = reason;
    if (was_active && !store::IsActive(to)) --active_;
    if (!was_active && store::IsActive(to)) ++active_;
    if (!changed) return;
    // Its downstream tasks may move now: the incremental pass evaluates them.
    const RunView& v = View(run);
    if (!v.dag) return;
    for (const std::string& down : v.dag->Downstream(task)) {
      if (int pos = TaskPosition(v, down); pos >= 0) dirty_[run].insert(pos);
    }
    // A setup's end decides the tasks in its scope too (TriggerRuleDep); a setup that is not
    // done yet changes nothing for them, so they are visited once per setup and run.
    if (!store::IsTerminal(to)) return;
    for (const std::string& dependent : v.dag->IndirectSetupDependents(task)) {
      if (int pos = TaskPosition(v, dependent); pos >= 0) dirty_[run].insert(pos);
    }
  }
  void RunTransition(int64_t run, RunState to, const std::string& reason) {
    DagRun& r = MutableRun(run);
    plan_.events.push_back(
        {run, "", 0, store::RunStateName(r.state), store::RunStateName(to), reason, now_});
    r.state = to;
    if (to == RunState::kRunning) full_.insert(run);  // a run that starts: every task counts
  }

  // ---- the incremental pass: what changed in this call, over the snapshot's RunIndex ----

  // Runs whose every task instance must be evaluated: new, just started, or being cancelled.
  bool NeedsFullPass(int64_t run) const {
    return new_runs_.count(run) > 0 || full_.count(run) > 0 || Run(run).cancel_requested;
  }
  // Moves the positions marked since the last call into `out`.
  void TakeDirty(int64_t run, std::set<int>* out) {
    auto it = dirty_.find(run);
    if (it == dirty_.end()) return;
    out->merge(it->second);
    dirty_.erase(it);
  }
  // Task positions of a snapshot run with the given property, as of this call's changes.
  template <typename Pred>
  std::set<int> Positions(int64_t run, const std::set<int>& in_snapshot, Pred has) const {
    std::set<int> out = in_snapshot;
    ForOverlay(run, [&](int pos, const TaskInstance* before, const TaskInstance& now) {
      if (has(now.state)) {
        out.insert(pos);
      } else {
        out.erase(pos);
      }
    });
    return out;
  }
  // The first `limit` scheduled task positions of a snapshot run, in DAG order.
  std::vector<int> Scheduled(int64_t run, size_t limit) const {
    std::map<int, bool> changed;  // position -> scheduled now
    ForOverlay(run, [&](int pos, const TaskInstance* before, const TaskInstance& now) {
      changed[pos] = now.state == TaskState::kScheduled;
    });
    std::vector<int> out;
    const std::set<int>& snap = snap_.runs.at(run).index.scheduled;
    auto a = snap.begin();
    auto b = changed.begin();
    while (out.size() < limit && (a != snap.end() || b != changed.end())) {
      if (b == changed.end() || (a != snap.end() && *a < b->first)) {
        out.push_back(*a++);
      } else {
        if (a != snap.end() && *a == b->first) ++a;  // the overlay decides
        if (b->second) out.push_back(b->first);
        ++b;
      }
    }
    return out;
  }
  // Task instances of a snapshot run not in a terminal state, as of this call's changes.
  int Unfinished(int64_t run) const {
    int n = snap_.runs.at(run).index.unfinished;
    ForOverlay(run, [&](int pos, const TaskInstance* before, const TaskInstance& now) {
      n += (store::IsTerminal(now.state) ? 0 : 1) -
           (before && !store::IsTerminal(before->state) ? 1 : 0);
    });
    return n;
  }
  void Wake(Time t) {
    if (!plan_.next_wakeup || t < *plan_.next_wakeup) plan_.next_wakeup = t;
  }

  // Moves the overlay into the plan, in a deterministic order.
  void Flush() {
    for (auto& [k, r] : runs_) plan_.runs.push_back(r);
    for (auto& [k, ti] : tis_) plan_.task_instances.push_back(ti);
    for (auto& [k, view] : new_runs_) {
      plan_.runs.push_back(view.run);
      for (auto& [id, ti] : view.tis) plan_.task_instances.push_back(ti);
    }
    for (auto& [id, e] : dags_) plan_.dags.push_back(e.record);
  }

 private:
  const Snapshot& snap_;
  Time now_;
  Plan& plan_;
  int active_;
  std::map<int64_t, DagRun> runs_;
  std::map<std::pair<int64_t, std::string>, TaskInstance> tis_;
  std::map<int64_t, RunView> new_runs_;
  std::map<std::string, DagEntry> dags_;
  std::set<TryKey> stopping_;
  std::map<int64_t, std::set<int>> dirty_;  // by run: task positions to evaluate
  std::set<int64_t> full_;

  // Calls f(position, snapshot instance or null, current instance) for each instance of a
  // snapshot run this call changed whose task the run's DAG has.
  template <typename F>
  void ForOverlay(int64_t run, F f) const {
    const RunView& v = snap_.runs.at(run);
    for (auto it = tis_.lower_bound({run, std::string()});
         it != tis_.end() && it->first.first == run; ++it) {
      int pos = TaskPosition(v, it->first.second);
      if (pos < 0) continue;
      auto before = v.tis.find(it->first.second);
      f(pos, before == v.tis.end() ? nullptr : &before->second, it->second);
    }
  }
};

Plan Refuse(Status s) {
  Plan p;
  p.refused = std::move(s);
  return p;
}

std::vector<std::string> Keys(const std::map<std::string, DagEntry>& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}

std::string DidYouMean(const std::string& name, const std::vector<std::string>& candidates) {
  std::string near = NearestName(name, candidates);
  return near.empty() ? "" : "; did you mean '" + near + "'?";
}

// Checks a trigger's conf against the DAG's params.
Status CheckConf(const dag::Dag& d, const nlohmann::json& conf) {
  if (conf.is_null()) return CheckConf(d, nlohmann::json::object());
  if (!conf.is_object()) return InvalidArgumentError("conf must be a JSON object");
  std::vector<std::string> names;
  for (const auto& [k, v] : d.params) names.push_back(k);
  for (const auto& [k, v] : conf.items()) {
    if (!d.params.count(k)) {
      std::string declared;
      for (const auto& n : names) declared += (declared.empty() ? "" : ", ") + n;
      return InvalidArgumentError(
          "conf key '" + k + "' is not a param of DAG '" + d.id + "'" + DidYouMean(k, names) +
          " (declared params: " + (declared.empty() ? "none" : declared) + ")");
    }
  }
  for (const auto& [k, p] : d.params) {
    if (p.default_value.is_null() && !conf.contains(k)) {
      return InvalidArgumentError("param '" + k + "' of DAG '" + d.id +
                                  "' has no default; pass it in conf");
    }
  }
  return OkStatus();
}

RunView NewRun(const dag::DagPtr& d, int64_t key, store::RunType type, const std::string& run_id,
               Time logical, dag::DataInterval interval, const nlohmann::json& conf, Time now,
               const std::vector<std::string>& only_tasks = {}) {
  RunView v;
  v.dag = d;
  v.run.id = key;
  v.run.dag_id = d->id;
  v.run.run_id = run_id;
  v.run.type = type;
  v.run.logical_date = logical;
  v.run.data_interval_start = interval.start;
  v.run.data_interval_end = interval.end;
  v.run.conf = conf;
  v.run.state = RunState::kQueued;
  v.run.created_at = now;
  for (const dag::TaskSpec& t : d->tasks) {
    if (!only_tasks.empty() &&
        std::find(only_tasks.begin(), only_tasks.end(), t.id) == only_tasks.end()) {
      continue;
    }
    TaskInstance ti;
    ti.run_id = key;
    ti.task_id = t.id;
    ti.max_tries = t.retry.retries + 1;
    v.tis.emplace(t.id, std::move(ti));
  }
  return v;
}

bool RunIdTaken(const Working& w, const std::string& dag_id, const std::string& run_id) {
  if (w.snapshot().taken_run_ids.count({dag_id, run_id})) return true;
  for (int64_t k : w.RunKeys()) {
    const DagRun& r = w.Run(k);
    if (r.dag_id == dag_id && r.run_id == run_id) return true;
  }
  return false;
}

// The id of the run of `dag_id` already named for (type, logical date): the Airflow-3 id, or the
// 'Z' id a store written before may hold (LegacyRunId); "" when neither is taken.
std::string TakenGeneratedRunId(const Working& w, const std::string& dag_id, store::RunType type,
                                Time logical) {
  for (std::string id : {MakeRunId(type, logical), LegacyRunId(type, logical)}) {
    if (RunIdTaken(w, dag_id, id)) return id;
  }
  return "";
}

int ActiveRunsOf(const Working& w, const std::string& dag_id, bool running_only) {
  int n = 0;
  for (int64_t k : w.RunKeys()) {
    const DagRun& r = w.Run(k);
    if (r.dag_id != dag_id || store::IsTerminal(r.state)) continue;
    if (!running_only || r.state == RunState::kRunning) ++n;
  }
  return n;
}

// ---- event handlers ------------------------------------------------------------------------

Status OnTrigger(Working& w, const TriggerRun& e, RunKeySource& keys) {
  const DagEntry* entry = w.Dag(e.dag_id);
  if (!entry || !entry->dag) {
    return NotFoundError("unknown DAG '" + e.dag_id + "'" +
                         DidYouMean(e.dag_id, Keys(w.snapshot_dags())));
  }
  RETURN_IF_ERROR(CheckConf(*entry->dag, e.conf));
  for (const std::string& id : e.only_tasks) {
    if (!entry->dag->FindTask(id)) {
      std::vector<std::string> ids;
      for (const auto& t : entry->dag->tasks) ids.push_back(t.id);
      return NotFoundError("DAG '" + e.dag_id + "' has no task '" + id + "'" + DidYouMean(id, ids));
    }
  }
  if (!e.run_id.empty()) RETURN_IF_ERROR(dag::CheckRunId(e.run_id));
  Time logical = e.logical_date.value_or(w.now());
  std::string run_id = e.run_id.empty() ? MakeRunId(e.type, logical) : e.run_id;
  const std::string taken = e.run_id.empty() ? TakenGeneratedRunId(w, e.dag_id, e.type, logical)
                            : RunIdTaken(w, e.dag_id, run_id) ? run_id
                                                              : "";
  if (!taken.empty()) {
    return AlreadyExistsError("DAG '" + e.dag_id + "' already has a run '" + taken +
                              "' (choose another --run-id or --logical-date)");
  }
  w.AddRun(NewRun(entry->dag, keys.Next(), e.type, run_id, logical,
                  dag::ManualDataInterval(*entry->dag, logical),
                  e.conf.is_null() ? nlohmann::json::object() : e.conf, w.now(), e.only_tasks));
  return OkStatus();
}

Status OnBackfill(Working& w, const Backfill& e, RunKeySource& keys) {
  const DagEntry* entry = w.Dag(e.dag_id);
  if (!entry || !entry->dag) {
    return NotFoundError("unknown DAG '" + e.dag_id + "'" +
                         DidYouMean(e.dag_id, Keys(w.snapshot_dags())));
  }
  const dag::Dag& d = *entry->dag;
  if (!d.schedule || d.schedule->is_once()) {
    return FailedPreconditionError("DAG '" + d.id + "' has no cron schedule to backfill");
  }
  if (e.to < e.from) return InvalidArgumentError("backfill end is before its start");
  RETURN_IF_ERROR(CheckConf(d, e.conf));
  std::vector<dag::ScheduledRun> runs = BackfillRuns(d, e.from, e.to, kMaxBackfillRuns + 1);
  if (runs.size() > kMaxBackfillRuns) {
    return InvalidArgumentError("backfill would create more than " +
                                std::to_string(kMaxBackfillRuns) + " runs; narrow the range");
  }
  if (runs.empty()) {
    return InvalidArgumentError("no scheduled run of DAG '" + d.id +
                                "' has a logical date between " + FormatTime(e.from) + " and " +
                                FormatTime(e.to));
  }
  for (const dag::ScheduledRun& r : runs) {
    if (!TakenGeneratedRunId(w, d.id, store::RunType::kBackfill, r.logical_date).empty()) continue;
    std::string run_id = MakeRunId(store::RunType::kBackfill, r.logical_date);
    w.AddRun(NewRun(entry->dag, keys.Next(), store::RunType::kBackfill, run_id, r.logical_date,
                    r.interval, e.conf, w.now()));
  }
  return OkStatus();
}

Status RequireRun(const Working& w, int64_t run) {
  if (!w.HasRun(run)) return NotFoundError("run " + std::to_string(run) + " is not loaded");
  if (!w.View(run).dag) {
    return FailedPreconditionError("the DAG of run " + std::to_string(run) +
                                   " is not loaded (its file is missing or broken)");
  }
  return OkStatus();
}

Status OnCancel(Working& w, const CancelRun& e) {
  if (!w.HasRun(e.run) || store::IsTerminal(w.Run(e.run).state)) {
    return FailedPreconditionError("run " + std::to_string(e.run) + " is not active");
  }
  DagRun& r = w.MutableRun(e.run);
  if (r.cancel_requested) return OkStatus();
  r.cancel_requested = true;
  r.note = e.reason;
  w.plan().events.push_back(
      {e.run, "", 0, store::RunStateName(r.state), "cancelling", e.reason, w.now()});
  const RunView& v = w.View(e.run);
  if (!v.dag) return OkStatus();
  for (const dag::TaskSpec& t : v.dag->tasks) {
    if (t.role == dag::TaskRole::kTeardown || !w.HasTi(e.run, t.id)) continue;
    const TaskInstance& ti = w.Ti(e.run, t.id);
    if (store::IsActive(ti.state)) {
      w.Stop(e.run, t.id, ti.try_number, "run cancelled");
    } else if (!store::IsTerminal(ti.state)) {
      w.Transition(e.run, t.id, TaskState::kSkipped, "run cancelled");
    }
  }
  return OkStatus();
}

void CollectClosure(const dag::Dag& d, const std::string& id, bool downstream,
                    std::set<std::string>* out) {
  if (!out->insert(id).second) return;
  if (downstream) {
    for (const std::string& down : d.Downstream(id)) CollectClosure(d, down, true, out);
  }
}

// Setup tasks upstream of `id` (transitively) and teardowns downstream of those setups: clearing
// a task inside a setup/teardown span re-runs the span, as a user expects (the cluster the task
// needs is created again and deleted again).
void AddSetupTeardownSpan(const dag::Dag& d, const std::string& id, std::set<std::string>* out) {
  std::vector<std::string> stack{id};
  std::set<std::string> seen;
  while (!stack.empty()) {
    std::string cur = stack.back();
    stack.pop_back();
    if (!seen.insert(cur).second) continue;
    const dag::TaskSpec* t = d.FindTask(cur);
    if (!t) continue;
    for (const std::string& up : t->depends_on) {
      const dag::TaskSpec* ut = d.FindTask(up);
      if (ut && ut->role == dag::TaskRole::kSetup) {
        out->insert(up);
        for (const std::string& down : d.Downstream(up)) {
          const dag::TaskSpec* dt = d.FindTask(down);
          if (dt && dt->role == dag::TaskRole::kTeardown) out->insert(down);
        }
      }
      stack.push_back(up);
    }
  }
}

Status OnClear(Working& w, const ClearTasks& e) {
  RETURN_IF_ERROR(RequireRun(w, e.run));
  const dag::Dag& d = *w.View(e.run).dag;
  std::set<std::string> targets;
  for (const std::string& id : e.tasks) {
    if (!d.FindTask(id)) {
      std::vector<std::string> ids;
      for (const auto& t : d.tasks) ids.push_back(t.id);
      return NotFoundError("DAG '" + d.id + "' has no task '" + id + "'" + DidYouMean(id, ids));
    }
    CollectClosure(d, id, e.include_downstream, &targets);
  }
  std::set<std::string> spans;
  for (const std::string& id : targets) AddSetupTeardownSpan(d, id, &spans);
  targets.insert(spans.begin(), spans.end());
  for (auto it = targets.begin(); it != targets.end();) {
    it = w.HasTi(e.run, *it) ? std::next(it) : targets.erase(it);
  }
  for (const std::string& id : targets) {
    if (store::IsActive(w.Ti(e.run, id).state)) {
      return FailedPreconditionError("task '" + id + "' is running; wait for it or cancel the run");
    }
  }
  for (const std::string& id : targets) {
    const dag::TaskSpec* t = d.FindTask(id);
    w.Transition(e.run, id, TaskState::kNone, "cleared by user");
    TaskInstance& ti = w.MutableTi(e.run, id);
    ti.max_tries = ti.try_number + t->retry.retries + 1;
    ti.exit_code.reset();
    ti.outputs = nlohmann::json::object();
    ti.handle = nullptr;
    ti.next_try_at.reset();
    ti.started_at.reset();
    ti.ended_at.reset();
  }
  DagRun& r = w.MutableRun(e.run);
  if (store::IsTerminal(r.state)) {
    w.RunTransition(e.run, RunState::kQueued, "tasks cleared by user");
    r.ended_at.reset();
    r.cancel_requested = false;
    r.note.clear();
  }
  return OkStatus();
}

Status OnMark(Working& w, const MarkTask& e) {
  RETURN_IF_ERROR(RequireRun(w, e.run));
  if (e.state != TaskState::kSuccess && e.state != TaskState::kFailed &&
      e.state != TaskState::kSkipped) {
    return InvalidArgumentError("a task can only be marked success, failed or skipped");
  }
  const dag::Dag& d = *w.View(e.run).dag;
  if (!d.FindTask(e.task) || !w.HasTi(e.run, e.task)) {
    return NotFoundError("run " + std::to_string(e.run) + " has no task '" + e.task + "'");
  }
  const TaskInstance& ti = w.Ti(e.run, e.task);
  std::string reason = std::string("marked ") + store::TaskStateName(e.state) + " by user";
  if (store::IsActive(ti.state)) w.Stop(e.run, e.task, ti.try_number, reason);
  w.Transition(e.run, e.task, e.state, reason);
  w.MutableTi(e.run, e.task).ended_at = w.now();
  if (store::IsTerminal(w.Run(e.run).state)) {
    w.RunTransition(e.run, RunState::kRunning, "task marked by user");  // final state recomputed
  }
  return OkStatus();
}

void OnStarted(Working& w, const TaskStarted& e) {
  if (!w.HasRun(e.run)) return;
  const RunView& v = w.View(e.run);
  if (!v.tis.count(e.task)) return;
  const TaskInstance& ti = w.Ti(e.run, e.task);
  if (ti.try_number != e.try_number || ti.state != TaskState::kQueued) return;  // stale
  w.Transition(e.run, e.task, TaskState::kRunning, "started");
  TaskInstance& m = w.MutableTi(e.run, e.task);
  m.handle = e.handle;
  m.started_at = w.now();
}

// A try whose program never ran is scheduled again without spending a try, under the next try
// number (with one more allowed, as a clear does): a try number is launched once. So nothing of
// the try that never started applies to the new one: not a stop asked for it (a timeout counted
// from its launch), nor its log and exit record, which a gated supervisor of it that outlived
// its frozen server may still write.
void ScheduleAgainUnspent(Working& w, int64_t run, const std::string& task,
                          const std::string& reason) {
  w.Transition(run, task, TaskState::kScheduled, reason);
  TaskInstance& m = w.MutableTi(run, task);
  m.max_tries += 1;
  m.handle = nullptr;
  m.started_at.reset();
}

void OnFinished(Working& w, const TaskFinished& e) {
  if (!w.HasRun(e.run)) return;
  const RunView& v = w.View(e.run);
  if (!v.tis.count(e.task)) return;
  const TaskInstance& ti = w.Ti(e.run, e.task);
  if (ti.try_number != e.try_number || !store::IsActive(ti.state)) return;  // stale or marked
  const DagRun& run = w.Run(e.run);
  const operators::TaskResult& res = e.result;
  if (res.never_started && !run.cancel_requested) {
    ScheduleAgainUnspent(w, e.run, e.task, res.message);
    return;
  }
  std::string reason = res.message;
  if (reason.empty()) {
    reason = res.success ? "succeeded" : "exit code " + std::to_string(res.exit_code);
  }
  if (res.skipped) {
    w.Transition(e.run, e.task, TaskState::kSkipped, reason);
  } else if (res.success) {
    w.Transition(e.run, e.task, TaskState::kSuccess, reason);
  } else {
    const dag::TaskSpec* spec = v.dag ? v.dag->FindTask(e.task) : nullptr;
    bool user_stop = run.cancel_requested;
    bool can_retry = spec && res.retryable && !user_stop && ti.try_number < ti.max_tries;
    if (can_retry) {
      // The backoff jitter is fixed per (DAG, task, logical date, try), as in Airflow.
      const std::string jitter_key = run.dag_id + "#" + e.task + "#" +
                                     FormatTime(run.logical_date) + "#" +
                                     std::to_string(ti.try_number);
      Time next = w.now() + spec->retry.DelayAfter(ti.try_number, jitter_key);
      w.Transition(e.run, e.task, TaskState::kUpForRetry,
                   reason + "; retry " + std::to_string(ti.try_number + 1) + " of " +
                       std::to_string(ti.max_tries) + " at " + FormatTime(next));
      w.MutableTi(e.run, e.task).next_try_at = next;
    } else {
      w.Transition(e.run, e.task, TaskState::kFailed, reason);
    }
  }
  TaskInstance& m = w.MutableTi(e.run, e.task);
  m.exit_code = res.exit_code >= 0 ? std::optional<int>(res.exit_code) : std::nullopt;
  m.outputs = res.outputs.is_object() ? res.outputs : nlohmann::json::object();
  m.ended_at = w.now();
  m.handle = nullptr;
}

Status OnSetPaused(Working& w, const SetPaused& e) {
  if (!w.Dag(e.dag_id)) {
    return NotFoundError("unknown DAG '" + e.dag_id + "'" +
                         DidYouMean(e.dag_id, Keys(w.snapshot_dags())));
  }
  w.MutableDagRecord(e.dag_id).paused = e.paused;
  return OkStatus();
}

Status OnRecover(Working& w, const RecoverRuns& e) {
  for (const auto& [key, view] : w.snapshot().runs) {
    if (!e.only.empty() && !e.only.count(key)) continue;
    if (view.dag && view.run.type != store::RunType::kTest) {
      // Tasks added to the DAG since the run was created join it.
      for (const dag::TaskSpec& t : view.dag->tasks) {
        if (w.HasTi(key, t.id)) continue;
        TaskInstance ti;
        ti.run_id = key;
        ti.task_id = t.id;
        ti.max_tries = t.retry.retries + 1;
        w.AddTi(std::move(ti));
      }
    }
    for (const auto& [task_id, ti] : view.tis) {
      if (!store::IsActive(ti.state) || !ti.handle.is_null()) continue;
      ScheduleAgainUnspent(w, key, task_id, "server restarted before the try started");
    }
  }
  return OkStatus();
}

// Only what the store says is finished and ended before the cutoff, and never a run the
// snapshot holds (active, or loaded for a clear or mark command a moment ago).
Status OnPrune(Working& w, const PruneRuns& e) {
  for (const DagRun& r : w.snapshot().prune_candidates) {
    if (w.HasRun(r.id) || !store::IsTerminal(r.state) || !r.ended_at || *r.ended_at >= e.before)
      continue;
    w.plan().deleted_runs.push_back(r);
  }
  return OkStatus();
}

Status OnDagsChanged(Working& w, const DagsChanged& e) {
  for (const dag::DagPtr& d : e.loaded) {
    DagEntry& entry = w.MutableDag(d->id);
    entry.dag = d;
    store::DagRecord& r = entry.record;
    r.dag_id = d->id;
    r.file = d->file;
    r.fingerprint = d->fingerprint;
    w.plan().definitions.emplace_back(d->id, d);
  }
  for (const std::string& id : e.missing) {
    if (!w.Dag(id)) continue;
    w.MutableDag(id).dag = nullptr;
    w.plan().definitions.emplace_back(id, nullptr);
  }
  return OkStatus();
}

// ---- the scheduling pass -------------------------------------------------------------------

void CreateScheduledRuns(Working& w, RunKeySource& keys) {
  for (const auto& [id, snap_entry] : w.snapshot_dags()) {
    const DagEntry& entry = *w.Dag(id);
    const dag::DagPtr& d = entry.dag;
    if (!d || entry.record.paused || !d->schedule || !entry.scheduling_blocked.empty()) continue;
    std::optional<Time> last = w.Dag(id)->record.last_scheduled_logical_date;
    for (size_t created = 0; created < kMaxRunsPerPass; ++created) {
      // The timetable decides (catchup, end_date, the last run made); `dags next-execution`
      // asks the same function.
      std::optional<dag::ScheduledRun> next = dag::NextScheduledRun(*d, last, w.now());
      if (!next) break;
      if (next->run_after > w.now()) {
        w.Wake(next->run_after);
        break;
      }
      if (ActiveRunsOf(w, id, /*running_only=*/false) >= d->max_active_runs) break;
      std::string run_id = MakeRunId(store::RunType::kScheduled, next->logical_date);
      w.MutableDagRecord(id).last_scheduled_logical_date = next->logical_date;
      last = next->logical_date;
      if (!TakenGeneratedRunId(w, id, store::RunType::kScheduled, next->logical_date).empty()) {
        continue;
      }
      w.AddRun(NewRun(d, keys.Next(), store::RunType::kScheduled, run_id, next->logical_date,
                      next->interval, nlohmann::json::object(), w.now()));
    }
  }
}

void StartQueuedRuns(Working& w) {
  std::map<std::string, std::vector<int64_t>> queued;  // dag -> run keys
  for (int64_t k : w.RunKeys()) {
    if (w.Run(k).state == RunState::kQueued) queued[w.Run(k).dag_id].push_back(k);
  }
  for (auto& [dag_id, runs] : queued) {
    std::sort(runs.begin(), runs.end(), [&](int64_t a, int64_t b) {
      return std::make_pair(w.Run(a).logical_date, a) < std::make_pair(w.Run(b).logical_date, b);
    });
    const dag::DagPtr& d = w.View(runs.front()).dag;
    int limit = d ? d->max_active_runs : 1;
    int running = ActiveRunsOf(w, dag_id, /*running_only=*/true);
    for (int64_t k : runs) {
      if (!MaxActiveRunsDep::Evaluate(running, limit).passed) break;
      w.RunTransition(k, RunState::kRunning, "started");
      DagRun& r = w.MutableRun(k);
      if (!r.started_at) r.started_at = w.now();
      ++running;
    }
  }
}

std::vector<UpstreamState> Upstreams(const Working& w, int64_t run, const dag::Dag& d,
                                     const dag::TaskSpec& t) {
  std::vector<UpstreamState> ups;
  ups.reserve(t.depends_on.size());
  for (const std::string& up : t.depends_on) {
    if (!w.HasTi(run, up)) continue;  // `tasks test` runs a task without its upstreams
    const dag::TaskSpec* ut = d.FindTask(up);
    ups.push_back({up, w.Ti(run, up).state, ut && ut->role == dag::TaskRole::kSetup});
  }
  return ups;
}

// The states of the task's indirect setups (dag::Dag::IndirectSetups) that the run has.
std::vector<UpstreamState> IndirectSetupStates(const Working& w, int64_t run, const dag::Dag& d,
                                               const dag::TaskSpec& t) {
  std::vector<UpstreamState> setups;
  for (const std::string& id : d.IndirectSetups(t.id)) {
    if (w.HasTi(run, id)) setups.push_back({id, w.Ti(run, id).state, /*is_setup=*/true});
  }
  return setups;
}

}  // namespace

std::string TryLogPath(const DagRun& r, const std::string& task, int try_number) {
  return "logs/" + r.dag_id + "/" + r.run_id + "/" + task + "/" + std::to_string(try_number) +
         ".log";
}

namespace {

// Moves one task instance forward where it can (trigger rule, retry period, timeout, a
// cancelled run).
void EvaluateTask(Working& w, int64_t run, const dag::Dag& d, const dag::TaskSpec& t,
                  bool cancelling) {
  const TaskInstance& ti = w.Ti(run, t.id);
  switch (ti.state) {
    case TaskState::kNone: {
      if (cancelling && t.role != dag::TaskRole::kTeardown) {
        w.Transition(run, t.id, TaskState::kSkipped, "run cancelled");
        break;
      }
      TriggerDecision dec = TriggerRuleDep::Evaluate(
          t.trigger_rule, t.role, Upstreams(w, run, d, t), IndirectSetupStates(w, run, d, t));
      if (dec.verdict == TriggerVerdict::kRun) {
        w.Transition(run, t.id, TaskState::kScheduled, dec.status.reason);
      } else if (dec.verdict == TriggerVerdict::kSkip) {
        w.Transition(run, t.id, TaskState::kSkipped, dec.status.reason);
      } else if (dec.verdict == TriggerVerdict::kUpstreamFailed) {
        w.Transition(run, t.id, TaskState::kUpstreamFailed, dec.status.reason);
      }
      break;
    }
    case TaskState::kUpForRetry: {
      if (cancelling) {
        w.Transition(run, t.id, TaskState::kFailed, "run cancelled");
        break;
      }
      DepStatus retry = NotInRetryPeriodDep::Evaluate(ti, w.now());
      if (retry.passed) {
        w.Transition(run, t.id, TaskState::kScheduled, "retry period over");
      } else {
        w.Wake(*ti.next_try_at);
      }
      break;
    }
    case TaskState::kRunning: {
      if (t.execution_timeout && ti.started_at) {
        Time deadline = *ti.started_at + *t.execution_timeout;
        if (w.now() >= deadline) {
          w.Stop(run, t.id, ti.try_number,
                 "timed out after " + dag::FormatDuration(*t.execution_timeout));
        } else {
          w.Wake(deadline);
        }
      }
      break;
    }
    default:
      break;
  }
  if (cancelling && t.role != dag::TaskRole::kTeardown &&
      w.Ti(run, t.id).state == TaskState::kScheduled) {
    w.Transition(run, t.id, TaskState::kSkipped, "run cancelled");
  }
}

using ReadyList = std::vector<std::pair<int64_t, std::string>>;

// Evaluates every task instance of a running run; appends the scheduled ones to `ready`.
void AdvanceRun(Working& w, int64_t run, ReadyList* ready) {
  const dag::Dag& d = *w.View(run).dag;
  const bool cancelling = w.Run(run).cancel_requested;
  for (const dag::TaskSpec& t : d.tasks) {
    if (!w.HasTi(run, t.id)) continue;
    EvaluateTask(w, run, d, t, cancelling);
    if (w.Ti(run, t.id).state == TaskState::kScheduled) ready->push_back({run, t.id});
  }
}

// The same for a run the snapshot indexes, visiting only what this call can have changed: the
// downstream of instances that moved, the instances with timers (queued, running,
// up_for_retry), and the first `slots` scheduled ones. A tick or a task's start or end costs
// O(fan-out + running tries), not O(tasks in the run).
void AdvanceRunIncremental(Working& w, int64_t run, size_t slots, ReadyList* ready) {
  const dag::Dag& d = *w.View(run).dag;
  std::set<int> pending =
      w.Positions(run, w.snapshot().runs.at(run).index.waiting, [](TaskState s) {
        return s == TaskState::kQueued || s == TaskState::kRunning || s == TaskState::kUpForRetry;
      });
  w.TakeDirty(run, &pending);
  while (!pending.empty()) {
    const dag::TaskSpec& t = d.tasks[*pending.begin()];
    pending.erase(pending.begin());
    if (w.HasTi(run, t.id)) EvaluateTask(w, run, d, t, /*cancelling=*/false);
    w.TakeDirty(run, &pending);
  }
  for (int pos : w.Scheduled(run, slots)) ready->push_back({run, d.tasks[pos].id});
}

void FinishRunIfDone(Working& w, int64_t run) {
  const RunView& v = w.View(run);
  const dag::Dag& d = *v.dag;
  for (const dag::TaskSpec& t : d.tasks) {
    if (w.HasTi(run, t.id) && !store::IsTerminal(w.Ti(run, t.id).state)) return;
  }
  // Leaves decide the run's state; teardowns are ignored unless on_failure_fail_dagrun. Unlike
  // Airflow, such a teardown does not hide the failure of the tasks upstream of it.
  std::string failed_leaf;
  for (const dag::TaskSpec& t : d.tasks) {
    if (!w.HasTi(run, t.id)) continue;
    if (t.role == dag::TaskRole::kTeardown) {
      TaskState s = w.Ti(run, t.id).state;
      if (t.on_failure_fail_dagrun &&
          (s == TaskState::kFailed || s == TaskState::kUpstreamFailed)) {
        failed_leaf = t.id;
        break;
      }
      continue;
    }
    bool leaf = true;
    for (const std::string& down : d.Downstream(t.id)) {
      const dag::TaskSpec* dt = d.FindTask(down);
      if (dt && dt->role != dag::TaskRole::kTeardown && w.HasTi(run, down)) leaf = false;
    }
    TaskState s = w.Ti(run, t.id).state;
    if (leaf && (s == TaskState::kFailed || s == TaskState::kUpstreamFailed)) {
      failed_leaf = t.id;
      break;
    }
  }
  DagRun& r = w.MutableRun(run);
  if (r.cancel_requested) {
    w.RunTransition(run, RunState::kCancelled, r.note.empty() ? "cancelled" : r.note);
  } else if (!failed_leaf.empty()) {
    r.note = "task '" + failed_leaf + "' " + store::TaskStateName(w.Ti(run, failed_leaf).state);
    w.RunTransition(run, RunState::kFailed, r.note);
  } else {
    r.note.clear();
    w.RunTransition(run, RunState::kSuccess, "all tasks done");
  }
  w.MutableRun(run).ended_at = w.now();
}

// A run whose DAG definition is gone cannot go on: stop what it can and fail it.
void FailOrphanRun(Working& w, int64_t run) {
  bool active = false;
  for (const auto& [id, ti0] : w.View(run).tis) {
    const TaskInstance& ti = w.Ti(run, id);
    if (store::IsActive(ti.state)) {
      active = true;
      w.Stop(run, id, ti.try_number, "DAG definition missing");
    } else if (!store::IsTerminal(ti.state)) {
      w.Transition(run, id, TaskState::kSkipped, "DAG definition missing");
    }
  }
  if (active) return;
  w.MutableRun(run).note = "DAG definition missing (file removed or broken)";
  w.RunTransition(run, RunState::kFailed, "DAG definition missing");
  w.MutableRun(run).ended_at = w.now();
}

// `incremental`: the event was a tick or a try's start or end, which change only what
// AdvanceRunIncremental visits; other events (rare: commands, DAG changes, recovery) evaluate
// every task instance. Both give the same plan.
void SchedulingPass(Working& w, RunKeySource& keys, int parallelism, bool create_runs,
                    bool schedules_skipped, bool incremental) {
  if (create_runs) CreateScheduledRuns(w, keys);
  // A run that finishes frees a max_active_runs slot for a queued one: repeat until stable.
  for (int round = 0; round < 8; ++round) {
    StartQueuedRuns(w);
    ReadyList ready;
    for (int64_t k : w.RunKeys()) {
      if (w.Run(k).state != RunState::kRunning) continue;
      if (!w.View(k).dag) {
        FailOrphanRun(w, k);
      } else if (!incremental || w.NeedsFullPass(k)) {
        AdvanceRun(w, k, &ready);
      } else {
        int free = parallelism - w.active() - static_cast<int>(ready.size());
        AdvanceRunIncremental(w, k, static_cast<size_t>(std::max(free, 0)), &ready);
      }
    }
    for (const auto& [run, task] : ready) {
      if (!ParallelismSlotDep::Evaluate(w.active(), parallelism).passed) break;
      TaskInstance& ti = w.MutableTi(run, task);
      ti.try_number += 1;
      ti.log_path = TryLogPath(w.Run(run), task, ti.try_number);
      ti.started_at.reset();
      ti.ended_at.reset();
      ti.exit_code.reset();
      ti.next_try_at.reset();
      ti.handle = nullptr;
      w.Transition(
          run, task, TaskState::kQueued,
          "launching try " + std::to_string(ti.try_number) + " of " + std::to_string(ti.max_tries));
      w.plan().launches.push_back({run, task, ti.try_number});
    }
    bool finished_any = false;
    for (int64_t k : w.RunKeys()) {
      if (w.Run(k).state != RunState::kRunning || !w.View(k).dag) continue;
      if (incremental && !w.NeedsFullPass(k) && w.Unfinished(k) > 0) continue;
      FinishRunIfDone(w, k);
      finished_any |= store::IsTerminal(w.Run(k).state);
    }
    if (!finished_any) break;
    // A finished run may let the schedule create the next one: a tick does that at once.
    if (schedules_skipped) w.Wake(w.now());
  }
}

}  // namespace

Plan Decide(const Snapshot& snapshot, const Event& event, Time now, RunKeySource& keys) {
  Plan plan;
  Working w(snapshot, now, plan);
  Status st = std::visit(
      [&](const auto& e) -> Status {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, Tick>) return OkStatus();
        if constexpr (std::is_same_v<E, TaskStarted>) return OnStarted(w, e), OkStatus();
        if constexpr (std::is_same_v<E, TaskFinished>) return OnFinished(w, e), OkStatus();
        if constexpr (std::is_same_v<E, TriggerRun>) return OnTrigger(w, e, keys);
        if constexpr (std::is_same_v<E, Backfill>) return OnBackfill(w, e, keys);
        if constexpr (std::is_same_v<E, CancelRun>) return OnCancel(w, e);
        if constexpr (std::is_same_v<E, ClearTasks>) return OnClear(w, e);
        if constexpr (std::is_same_v<E, MarkTask>) return OnMark(w, e);
        if constexpr (std::is_same_v<E, SetPaused>) return OnSetPaused(w, e);
        if constexpr (std::is_same_v<E, DagsChanged>) return OnDagsChanged(w, e);
        if constexpr (std::is_same_v<E, PruneRuns>) return OnPrune(w, e);
        if constexpr (std::is_same_v<E, RecoverRuns>) return OnRecover(w, e);
        return OkStatus();
      },
      event);
  if (!st.ok()) return Refuse(st);
  const bool try_event =
      std::holds_alternative<TaskStarted>(event) || std::holds_alternative<TaskFinished>(event);
  const bool incremental =
      snapshot.incremental && (try_event || std::holds_alternative<Tick>(event));
  // Only a tick, a command or a DAG change can make a scheduled run due (a run that ends asks
  // for a tick), so the per-try events skip the pass over every DAG's schedule.
  SchedulingPass(w, keys, snapshot.parallelism, snapshot.create_scheduled_runs && !try_event,
                 snapshot.create_scheduled_runs && try_event, incremental);
  w.Flush();
  return plan;
}

std::vector<store::DagRun> FoldPlan(const Plan& plan, Snapshot* snapshot) {
  for (const store::DagRecord& r : plan.dags) snapshot->dags[r.dag_id].record = r;
  for (const auto& [id, d] : plan.definitions) {
    DagEntry& e = snapshot->dags[id];
    e.dag = d;
    e.scheduling_blocked.clear();  // a reloaded (or vanished) DAG gets a fresh chance
  }
  for (int64_t key : plan.created_runs) snapshot->runs.emplace(key, RunView{});
  for (const DagRun& r : plan.deleted_runs) snapshot->taken_run_ids.erase({r.dag_id, r.run_id});
  for (const DagRun& r : plan.runs) {
    RunView& view = snapshot->runs[r.id];
    if (!view.dag) {
      auto dit = snapshot->dags.find(r.dag_id);
      if (dit != snapshot->dags.end() && dit->second.dag) {
        view.dag = dit->second.dag;
        IndexRun(&view);
      }
    }
    view.run = r;
  }
  for (const TaskInstance& ti : plan.task_instances) {
    auto rit = snapshot->runs.find(ti.run_id);
    if (rit == snapshot->runs.end()) continue;
    auto [it, inserted] = rit->second.tis.try_emplace(ti.task_id, ti);
    bool was_active = !inserted && store::IsActive(it->second.state);
    IndexTransition(&rit->second, ti.task_id,
                    inserted ? std::nullopt : std::optional<TaskState>(it->second.state), ti.state);
    if (!inserted) it->second = ti;
    if (was_active && !store::IsActive(ti.state)) --snapshot->active_tries;
    if (!was_active && store::IsActive(ti.state)) ++snapshot->active_tries;
    if (!store::IsActive(ti.state)) {
      snapshot->cancelling.erase(TryKey{ti.run_id, ti.task_id, ti.try_number});
    }
  }
  for (const StopTry& s : plan.stops) snapshot->cancelling.insert({s.run, s.task, s.try_number});
  std::vector<DagRun> finished;
  for (const DagRun& r : plan.runs) {
    if (!store::IsTerminal(r.state)) continue;
    auto it = snapshot->runs.find(r.id);
    if (it == snapshot->runs.end()) continue;
    for (const auto& [task, ti] : it->second.tis) {
      if (store::IsActive(ti.state)) --snapshot->active_tries;
    }
    snapshot->runs.erase(it);
    finished.push_back(r);
  }
  return finished;
}

std::string MakeManualRunId(Time triggered_at, const std::string& suffix) {
  return std::string(store::RunTypeName(store::RunType::kManual)) + "__" +
         dag::FormatPythonIsoTime(triggered_at) + "_" + suffix;
}

std::string MakeRunId(store::RunType type, Time logical_date) {
  return std::string(store::RunTypeName(type)) + "__" + dag::FormatPythonIsoTime(logical_date);
}

std::string LegacyRunId(store::RunType type, Time logical_date) {
  return std::string(store::RunTypeName(type)) + "__" + FormatTime(logical_date);
}

std::vector<dag::ScheduledRun> BackfillRuns(const dag::Dag& d, Time from, Time to, size_t limit) {
  std::vector<dag::ScheduledRun> out;
  const dag::Schedule& s = *d.schedule;
  if (d.timetable == dag::TimetableKind::kCronTrigger) {
    const Millis before = d.trigger_interval;
    for (std::optional<Time> fire = s.NextOrEqual(from + before);
         fire && *fire - before <= to && out.size() < limit; fire = s.Next(*fire)) {
      out.push_back({*fire - before, {*fire - before, *fire}, *fire});
    }
    return out;
  }
  std::optional<dag::DataInterval> iv = s.IntervalStartingAtOrAfter(from);
  while (iv && iv->start <= to && out.size() < limit) {
    out.push_back({iv->start, *iv, iv->end});
    std::optional<Time> next = s.Next(iv->start);
    if (!next) break;
    iv = s.IntervalStartingAtOrAfter(*next);
  }
  return out;
}

std::vector<dag::ScheduledRun> NextScheduledRuns(const dag::Dag& d,
                                                 std::optional<Time> last_logical, Time now,
                                                 size_t n) {
  // What CreateScheduledRuns will do from here, assuming each run is made when it is due: a run
  // already due is made now, a later one at its time (which is then the time of the decision).
  std::vector<dag::ScheduledRun> out;
  while (out.size() < n) {
    std::optional<dag::ScheduledRun> next = dag::NextScheduledRun(d, last_logical, now);
    if (!next || (last_logical && next->logical_date <= *last_logical)) break;
    out.push_back(*next);
    last_logical = next->logical_date;
    now = std::max(now, next->run_after);
  }
  return out;
}

std::vector<DepStatus> ExplainTask(const Snapshot& snapshot, int64_t run, const std::string& task,
                                   Time now) {
  std::vector<DepStatus> out;
  auto rit = snapshot.runs.find(run);
  if (rit == snapshot.runs.end() || !rit->second.dag) return out;
  const RunView& v = rit->second;
  const dag::TaskSpec* t = v.dag->FindTask(task);
  auto tit = v.tis.find(task);
  if (!t || tit == v.tis.end()) return out;
  const TaskInstance& ti = tit->second;
  if (v.run.state == RunState::kQueued) {
    int running = 0;
    for (const auto& [k, other] : snapshot.runs) {
      if (other.run.dag_id == v.run.dag_id && other.run.state == RunState::kRunning) ++running;
    }
    out.push_back(MaxActiveRunsDep::Evaluate(running, v.dag->max_active_runs));
  }
  std::vector<UpstreamState> ups;
  for (const std::string& up : t->depends_on) {
    const dag::TaskSpec* ut = v.dag->FindTask(up);
    auto uit = v.tis.find(up);
    ups.push_back({up, uit == v.tis.end() ? TaskState::kNone : uit->second.state,
                   ut && ut->role == dag::TaskRole::kSetup});
  }
  std::vector<UpstreamState> setups;
  for (const std::string& id : v.dag->IndirectSetups(task)) {
    if (auto sit = v.tis.find(id); sit != v.tis.end())
      setups.push_back({id, sit->second.state, true});
  }
  out.push_back(TriggerRuleDep::Evaluate(t->trigger_rule, t->role, ups, setups).status);
  out.push_back(NotInRetryPeriodDep::Evaluate(ti, now));
  out.push_back(ParallelismSlotDep::Evaluate(snapshot.active_tries, snapshot.parallelism));
  return out;
}

}  // namespace sp::scheduler
