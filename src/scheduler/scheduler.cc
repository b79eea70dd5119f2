// Scheduler loop, Apply and effects: see scheduler.h.
#include "scheduler/scheduler.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "common/join.h"
#include "dag/ids.h"
#include "dag/template.h"

namespace sp::scheduler {
namespace {

// The run an event is about, when it names one.
std::optional<int64_t> EventRun(const Event& event) {
  return std::visit(
      [](const auto& e) -> std::optional<int64_t> {
        if constexpr (requires { e.run; }) {
          return e.run;
        } else {
          return std::nullopt;
        }
      },
      event);
}

// "1,3,4", or "none": partitions for the log.
template <typename Partitions>
std::string JoinPartitions(const Partitions& partitions) {
  return partitions.empty() ? "none" : JoinNumbers(partitions);
}

}  // namespace

Result<std::optional<std::string>> CommandDag(const Event& event, store::Store& store) {
  int64_t run = 0;
  std::optional<std::string> dag = std::visit(
      [&run](const auto& e) -> std::optional<std::string> {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, TriggerRun> || std::is_same_v<E, Backfill> ||
                      std::is_same_v<E, SetPaused>) {
          return e.dag_id;
        } else if constexpr (std::is_same_v<E, CancelRun> || std::is_same_v<E, ClearTasks> ||
                             std::is_same_v<E, MarkTask>) {
          run = e.run;
        }
        return std::nullopt;
      },
      event);
  if (run == 0) return dag;
  ASSIGN_OR_RETURN(std::optional<store::DagRun> r, store.GetRun(run));
  if (!r) return std::optional<std::string>();
  return std::optional<std::string>(r->dag_id);
}

Result<std::map<int, PartitionHoldings>> HoldingsByPartition(store::Store& store, int partitions) {
  store::RunFilter filter;
  filter.only_active = true;
  filter.limit = 1000000;
  ASSIGN_OR_RETURN(std::vector<store::DagRun> runs, store.ListRuns(filter));
  std::map<int64_t, int> partition_of_run;
  std::vector<int64_t> keys;
  std::map<int, PartitionHoldings> out;
  for (const store::DagRun& r : runs) {
    const int p = dag::PartitionOf(r.dag_id, partitions);
    partition_of_run[r.id] = p;
    keys.push_back(r.id);
    ++out[p].runs;
  }
  ASSIGN_OR_RETURN(std::vector<store::TaskInstance> tis, store.ListTaskInstancesOfRuns(keys));
  for (const store::TaskInstance& ti : tis) {
    if (store::IsActive(ti.state)) ++out[partition_of_run[ti.run_id]].tries;
  }
  ASSIGN_OR_RETURN(std::vector<store::ClusterRecord> clusters, store.ListClusters(false));
  for (const store::ClusterRecord& c : clusters) {
    auto it = partition_of_run.find(c.run_id);
    if (it != partition_of_run.end()) ++out[it->second].clusters;
  }
  return out;
}

using store::TaskInstance;
using store::TaskState;

// One try's context handed to its TaskType. Complete() may come from any thread.
class Scheduler::TryContext : public operators::TaskContext {
 public:
  TryContext(std::shared_ptr<Link> link, TryKey key, dag::DagPtr dag)
      : link_(std::move(link)), key_(std::move(key)), dag_(std::move(dag)) {}

  void Init(const store::DagRun& run, const dag::TaskSpec* spec, nlohmann::json fields,
            std::map<std::string, std::string> env, std::string log_path,
            const operators::Services* services) {
    dag_id_ = run.dag_id;
    run_id_ = run.run_id;
    run_key_ = run.id;
    task_id_ = spec->id;
    try_number_ = key_.try_number;
    spec_ = spec;
    fields_ = std::move(fields);
    env_ = std::move(env);
    log_path_ = std::move(log_path);
    services_ = services;
  }

  Status SaveHandle(const nlohmann::json& handle) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      handle_ = handle;
    }
    std::future<Status> f;
    Scheduler* on_loop = nullptr;
    {
      std::lock_guard<std::mutex> link_lock(link_->mu);
      Scheduler* owner = link_->owner;
      if (owner == nullptr) return UnavailableError("the scheduler is gone");
      if (owner->OnLoopThread()) {
        on_loop = owner;  // alive while its loop runs; saved below, outside the link's lock
      } else {
        auto done = std::make_shared<std::promise<Status>>();
        f = done->get_future();
        std::lock_guard<std::mutex> lock(owner->mu_);
        if (owner->stopping_) return UnavailableError("the scheduler is stopping");
        owner->queue_.push_back({std::nullopt, [owner, key = key_, done, handle] {
                                   done->set_value(owner->SaveHandleOnLoop(key, handle));
                                 }});
        owner->cv_.notify_one();
      }
    }
    // The save may wait out a store outage (CommitOnce): other threads' Complete must not wait
    // on the link meanwhile.
    if (on_loop != nullptr) return on_loop->SaveHandleOnLoop(key_, handle);
    // The loop runs queued closures even while stopping, so this wait ends.
    return f.get();
  }

  void SaveHandleThen(const nlohmann::json& handle, std::function<void()> start,
                      std::function<void(const Status&)> abandon) override {
    {
      std::lock_guard<std::mutex> link_lock(link_->mu);
      Scheduler* owner = link_->owner;
      if (owner != nullptr && owner->OnLoopThread() && owner->launch_batch_ != nullptr) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          handle_ = handle;
        }
        owner->launch_batch_->push_back({key_, handle, std::move(start), std::move(abandon)});
        return;
      }
    }
    TaskContext::SaveHandleThen(handle, std::move(start), std::move(abandon));
  }

  void Complete(operators::TaskResult result) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (completed_) return;
      completed_ = true;
    }
    std::lock_guard<std::mutex> link_lock(link_->mu);
    // A try that ends after its scheduler is gone is recovered by the next server's start.
    if (link_->owner != nullptr) {
      link_->owner->Post(TaskFinished{key_.run, key_.task, key_.try_number, std::move(result)});
    }
  }

  nlohmann::json handle() const {
    std::lock_guard<std::mutex> lock(mu_);
    return handle_;
  }
  const TryKey& key() const { return key_; }

 private:
  std::shared_ptr<Link> link_;
  TryKey key_;
  dag::DagPtr dag_;  // keeps spec_ alive
  mutable std::mutex mu_;
  bool completed_ = false;
  nlohmann::json handle_;
};

Scheduler::Scheduler(operators::Services* services, const operators::TaskTypeRegistry* registry,
                     SchedulerOptions options)
    : services_(services),
      registry_(registry),
      options_(std::move(options)),
      folder_(options_.dags_folder, registry->Checker()) {
  snapshot_.parallelism = options_.parallelism;
  snapshot_.create_scheduled_runs = options_.create_scheduled_runs;
}

Scheduler::~Scheduler() {
  Stop();
  Join();
  std::lock_guard<std::mutex> lock(link_->mu);
  link_->owner = nullptr;  // tries still running on task-type threads now post nowhere
}

bool Scheduler::OnLoopThread() const {
  return std::this_thread::get_id() == loop_thread_;
}

void Scheduler::SetRunFinishedObserver(std::function<void(const store::DagRun&)> fn) {
  run_finished_ = std::move(fn);
}
void Scheduler::SetPassObserver(std::function<void(std::chrono::microseconds)> fn) {
  pass_observer_ = std::move(fn);
}

void Scheduler::SetDagsLoadedObserver(std::function<void(const std::vector<dag::LoadedFile>&)> fn) {
  dags_loaded_ = std::move(fn);
}

// ---- start and recovery --------------------------------------------------------------------

Status Scheduler::Start() {
  loop_thread_ = std::this_thread::get_id();
  ASSIGN_OR_RETURN(int64_t max_key, services_->store->MaxRunId());
  keys_ = RunKeySource(max_key);
  ASSIGN_OR_RETURN(std::vector<store::DagRecord> records, services_->store->ListDags());
  for (store::DagRecord& r : records) {
    if (Owns(r.dag_id)) snapshot_.dags[r.dag_id].record = std::move(r);
  }
  // A large folder says how far it got (files parse on several threads; commands wait).
  dag::FolderChanges changes =
      Owned(folder_.Rescan([this](const dag::LoadedFile&, int loaded, int to_load) {
        if (to_load >= 1000 && (loaded % 500 == 0 || loaded == to_load)) {
          services_->logger->Info("dags", "parsed " + std::to_string(loaded) + " of " +
                                              std::to_string(to_load) + " DAG files");
        }
      }));
  next_rescan_ = services_->clock->Now() + options_.dag_rescan_interval;
  // Active runs are recovered against the definitions on disk before the first scheduling
  // pass; the DAG records themselves are written by that pass's plan (DagsChanged).
  std::map<std::string, dag::DagPtr> previous;
  for (const dag::DagPtr& d : changes.added_or_changed) {
    previous[d->id] = snapshot_.dags[d->id].dag;
    snapshot_.dags[d->id].dag = d;
  }
  if (options_.load_active_runs) {
    RETURN_IF_ERROR(LoadActiveRuns([this](const std::string& dag_id) { return Owns(dag_id); }));
  }
  for (const auto& [id, d] : previous) snapshot_.dags[id].dag = d;
  RETURN_IF_ERROR(ApplyDagChanges(changes));
  next_wakeup_ = services_->clock->Now();
  return OkStatus();
}

// ---- partitions (several active schedulers) -----------------------------------------------

bool Scheduler::Owns(const std::string& dag_id) const {
  if (options_.partitions <= 0) return true;
  const int p = dag::PartitionOf(dag_id, options_.partitions);
  return owned_.count(p) > 0 && pending_takeup_.count(p) == 0;
}

dag::FolderChanges Scheduler::Owned(dag::FolderChanges changes) const {
  if (options_.partitions <= 0) return changes;
  std::erase_if(changes.added_or_changed, [this](const dag::DagPtr& d) { return !Owns(d->id); });
  std::erase_if(changes.removed_dag_ids, [this](const std::string& id) { return !Owns(id); });
  return changes;
}

void Scheduler::SetPartitions(std::map<int, int64_t> held) {
  std::lock_guard<std::mutex> lock(owned_mu_);
  owned_ = std::move(held);
  services_->store->FencePartitions(owned_);
}

int Scheduler::PartitionElsewhere(const std::string& dag_id) const {
  if (options_.partitions <= 0) return 0;
  const int p = dag::PartitionOf(dag_id, options_.partitions);
  std::lock_guard<std::mutex> lock(owned_mu_);
  return owned_.count(p) ? 0 : p;
}

std::set<int> Scheduler::Partitions() const {
  if (options_.partitions <= 0) return {1};
  std::lock_guard<std::mutex> lock(owned_mu_);
  std::set<int> out;
  for (const auto& [p, epoch] : owned_) out.insert(p);
  return out;
}

void Scheduler::ChangePartitions(std::map<int, int64_t> gained, std::set<int> dropped,
                                 std::function<void()> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_) {
      queue_.push_back(
          {std::nullopt, [this, gained = std::move(gained), dropped = std::move(dropped),
                          done = std::move(done)] { TakePartitions(gained, dropped, done); }});
      done = nullptr;
    }
  }
  if (done) {
    done();  // a stopping scheduler acts on nothing any more
  } else {
    cv_.notify_one();
  }
}

void Scheduler::TakePartitions(const std::map<int, int64_t>& gained, const std::set<int>& dropped,
                               const std::function<void()>& done) {
  // Given up first: forgotten, and out of the fence, before the lease lets go of them.
  Forget(dropped);
  for (int p : dropped) pending_takeup_.erase(p);
  std::map<int, int64_t> held;
  {
    std::lock_guard<std::mutex> lock(owned_mu_);
    for (int p : dropped) owned_.erase(p);
    for (const auto& [p, epoch] : gained) owned_[p] = epoch;
    held = owned_;
  }
  services_->store->FencePartitions(held);
  done();
  if (!dropped.empty()) {
    services_->logger->Info("scheduler", "gave up partitions " + JoinPartitions(dropped) +
                                             " to other schedulers; holds " + JoinPartitions(held));
  }
  pending_takeup_.insert(gained.begin(), gained.end());
  {
    // A scheduler that is stopping (this ran in its last batch) launches nothing new.
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
  }
  TakeUpPending();
}

void Scheduler::Forget(const std::set<int>& partitions) {
  if (partitions.empty()) return;
  // Not stopped: the next holder adopts the tries, as after a crash. A try of theirs that saves
  // its handle from now on is refused (SaveHandleOnLoop), so it never starts here.
  auto gone = [&](const std::string& dag_id) {
    return partitions.count(dag::PartitionOf(dag_id, options_.partitions)) > 0;
  };
  std::set<int64_t> runs;
  for (auto it = snapshot_.runs.begin(); it != snapshot_.runs.end();) {
    if (!gone(it->second.run.dag_id)) {
      ++it;
      continue;
    }
    runs.insert(it->first);
    it = snapshot_.runs.erase(it);
  }
  std::erase_if(snapshot_.dags, [&](const auto& entry) { return gone(entry.first); });
  std::erase_if(live_, [&](const auto& entry) { return runs.count(entry.first.run) > 0; });
  std::erase_if(snapshot_.cancelling, [&](const TryKey& k) { return runs.count(k.run) > 0; });
  std::erase_if(stale_runs_, [&](int64_t run) { return runs.count(run) > 0; });
  std::erase_if(snapshot_.taken_run_ids, [&](const auto& ids) { return gone(ids.first); });
  std::erase_if(retry_events_, [&](Event& e) {
    if (auto* changed = std::get_if<DagsChanged>(&e)) {
      // A folder change waiting for its retry: only this scheduler's DAGs stay in it.
      std::erase_if(changed->loaded, [&](const dag::DagPtr& d) { return gone(d->id); });
      std::erase_if(changed->missing, [&](const std::string& id) { return gone(id); });
      return changed->loaded.empty() && changed->missing.empty();
    }
    std::optional<int64_t> about = EventRun(e);
    return about && runs.count(*about) > 0;
  });
  snapshot_.active_tries = 0;
  for (const auto& [key, view] : snapshot_.runs) {
    for (const auto& [task_id, ti] : view.tis) {
      if (store::IsActive(ti.state)) ++snapshot_.active_tries;
    }
  }
}

void Scheduler::TakeUpPending() {
  if (pending_takeup_.empty()) return;
  std::map<int, int64_t> taking;
  taking.swap(pending_takeup_);  // owned from here on (Owns)
  auto taken = [&](const std::string& dag_id) {
    return taking.count(dag::PartitionOf(dag_id, options_.partitions)) > 0;
  };
  // Taken up as at a start: records, definitions, active runs and their tries.
  Status s = [&]() -> Status {
    ASSIGN_OR_RETURN(std::vector<store::DagRecord> records, services_->store->ListDags());
    for (store::DagRecord& r : records) {
      if (taken(r.dag_id)) snapshot_.dags[r.dag_id].record = std::move(r);
    }
    dag::FolderChanges changes;
    for (const auto& [id, d] : folder_.dags()) {
      if (taken(id)) changes.added_or_changed.push_back(d);
    }
    for (const dag::DagPtr& d : changes.added_or_changed) snapshot_.dags[d->id].dag = d;
    Status loaded = options_.load_active_runs ? LoadActiveRuns(taken) : OkStatus();
    for (const dag::DagPtr& d : changes.added_or_changed) snapshot_.dags[d->id].dag = nullptr;
    RETURN_IF_ERROR(loaded);
    return ApplyDagChanges(changes);
  }();
  const Time now = services_->clock->Now();
  next_wakeup_ = now;
  std::set<int> ids;
  for (const auto& [p, epoch] : taking) ids.insert(p);
  if (s.ok()) {
    services_->logger->Info("scheduler", "took up partitions " + JoinPartitions(ids));
    return;
  }
  // Half loaded (the store away for a moment): forgotten again and taken up anew in a second;
  // meanwhile their commands are turned away as not yet taken up.
  Forget(ids);
  pending_takeup_ = std::move(taking);
  takeup_retry_at_ = now + Millis(1000);
  services_->logger->Error("scheduler", "taking up partitions " + JoinPartitions(ids) + ": " +
                                            s.ToString() + "; trying again in a second");
}

Status Scheduler::RescanDags() {
  dag::FolderChanges changes = Owned(folder_.Rescan());
  next_rescan_ = services_->clock->Now() + options_.dag_rescan_interval;
  return ApplyDagChanges(changes);
}

Status Scheduler::ApplyDagChanges(const dag::FolderChanges& changes) {
  if (!changes.any()) return OkStatus();
  DagsChanged event{changes.added_or_changed, changes.removed_dag_ids};
  for (const dag::DagPtr& d : changes.added_or_changed) {
    auto it = snapshot_.dags.find(d->id);
    bool is_new = it == snapshot_.dags.end() || !it->second.dag;
    services_->logger->Info("dags", std::string(is_new ? "loaded" : "reloaded") + " DAG '" + d->id +
                                        "' from " + d->file);
  }
  for (const std::string& id : changes.removed_dag_ids) {
    services_->logger->Warn("dags", "DAG '" + id +
                                        "' is missing (its file is gone or broken): no new runs "
                                        "until it loads again; its settings and runs are kept");
  }
  std::vector<dag::LoadedFile> files = folder_.Files();
  for (const dag::LoadedFile& f : files) {
    for (const dag::DagError& e : f.errors) services_->logger->Warn("dags", e.ToString());
  }
  if (dags_loaded_) dags_loaded_(files);
  Status s = Process(event, nullptr);
  // A new DAG's schedule may be due: decide again with it in the snapshot.
  next_wakeup_ = services_->clock->Now();
  return s;
}

Result<RunView> Scheduler::ReadRunView(store::DagRun run, dag::DagPtr dag) {
  RunView view;
  view.dag = std::move(dag);
  ASSIGN_OR_RETURN(std::vector<TaskInstance> tis, services_->store->ListTaskInstances(run.id));
  for (TaskInstance& ti : tis) view.tis[ti.task_id] = std::move(ti);
  if (view.dag && run.type != store::RunType::kTest && !store::IsTerminal(run.state)) {
    // Tasks removed from the DAG since the run was created are ignored (added ones join it
    // through RecoverRuns).
    for (auto it = view.tis.begin(); it != view.tis.end();) {
      it = view.dag->FindTask(it->first) ? std::next(it) : view.tis.erase(it);
    }
  }
  view.run = std::move(run);
  IndexRun(&view);
  return view;
}

void Scheduler::ReloadRuns(const std::set<int64_t>& runs) {
  for (int64_t id : runs) {
    dag::DagPtr dag;
    if (auto it = snapshot_.runs.find(id); it != snapshot_.runs.end()) {
      dag = it->second.dag;
      snapshot_.runs.erase(it);
    }
    stale_runs_.insert(id);
    Result<std::optional<store::DagRun>> run = services_->store->GetRun(id);
    if (!run.ok()) continue;
    if (!*run || store::IsTerminal((*run)->state)) {  // not active: not in the snapshot
      stale_runs_.erase(id);
      continue;
    }
    if (!dag) {
      auto dit = snapshot_.dags.find((*run)->dag_id);
      if (dit != snapshot_.dags.end()) dag = dit->second.dag;
    }
    Result<RunView> view = ReadRunView(std::move(**run), dag);
    if (!view.ok()) continue;
    snapshot_.runs.emplace(id, std::move(*view));
    stale_runs_.erase(id);
  }
  snapshot_.active_tries = 0;
  for (const auto& [key, view] : snapshot_.runs) {
    for (const auto& [task_id, ti] : view.tis) {
      if (store::IsActive(ti.state)) ++snapshot_.active_tries;
    }
  }
}

Status Scheduler::LoadActiveRuns(const std::function<bool(const std::string&)>& take) {
  store::RunFilter filter;
  filter.only_active = true;
  filter.limit = 1000000;
  ASSIGN_OR_RETURN(std::vector<store::DagRun> runs, services_->store->ListRuns(filter));
  std::set<int64_t> loaded;
  int in_flight = 0;
  for (store::DagRun& run : runs) {
    if (!take(run.dag_id) || snapshot_.runs.count(run.id)) continue;
    auto dit = snapshot_.dags.find(run.dag_id);
    ASSIGN_OR_RETURN(
        RunView view,
        ReadRunView(std::move(run), dit != snapshot_.dags.end() ? dit->second.dag : nullptr));
    int64_t key = view.run.id;
    for (const auto& [task_id, ti] : view.tis) {
      if (store::IsActive(ti.state)) ++in_flight;
    }
    snapshot_.runs.emplace(key, std::move(view));
    loaded.insert(key);
  }
  if (loaded.empty()) return OkStatus();
  snapshot_.active_tries += in_flight;
  // Tries that started (they saved a handle) are taken over before anything new is launched.
  if (options_.recover_tries) {
    for (int64_t key : loaded) {
      RunView& view = snapshot_.runs.at(key);
      for (auto& [task_id, ti] : view.tis) {
        if (store::IsActive(ti.state) && !ti.handle.is_null()) RecoverTry(view, ti);
      }
    }
  }
  // The fixes go through Decide like every other change. Scheduled runs are not created in
  // this pass: the first one comes with the DAG records (DagsChanged).
  const bool create = snapshot_.create_scheduled_runs;
  snapshot_.create_scheduled_runs = false;
  Status fixed = Process(RecoverRuns{loaded}, nullptr);
  snapshot_.create_scheduled_runs = create;
  RETURN_IF_ERROR(fixed);
  services_->logger->Info("scheduler", "recovered " + std::to_string(loaded.size()) +
                                           " active runs, " + std::to_string(in_flight) +
                                           " tries in flight");
  return OkStatus();
}

void Scheduler::RecoverTry(RunView& view, TaskInstance& ti) {
  TryKey key{view.run.id, ti.task_id, ti.try_number};
  const dag::TaskSpec* spec = view.dag ? view.dag->FindTask(ti.task_id) : nullptr;
  operators::TaskType* type = spec ? registry_->Find(spec->type) : nullptr;
  if (!type) {
    Post(TaskFinished{key.run,
                      key.task,
                      key.try_number,
                      {false, -1, nlohmann::json::object(),
                       "lost on restart: the task's definition is gone", true}});
    return;
  }
  auto ctx = MakeContext(view, *spec, ti, spec->fields, {});
  live_[key] = ctx;
  services_->logger->Info("scheduler", "recovering " + view.run.dag_id + "/" + view.run.run_id +
                                           "/" + ti.task_id + " try " +
                                           std::to_string(ti.try_number));
  type->Recover(ctx, ti.handle);
}

// ---- the loop ------------------------------------------------------------------------------

void Scheduler::Post(Event event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back({std::move(event), nullptr});
  }
  cv_.notify_one();
}

Result<CommandResult> Scheduler::Submit(Event event) {
  return SubmitRelayed(std::move(event), 0, nullptr);
}

Result<CommandResult> Scheduler::SubmitRelayed(Event event, int64_t relayed_id,
                                               RelayAnswer answer) {
  auto done = std::make_shared<std::promise<Result<CommandResult>>>();
  std::future<Result<CommandResult>> f = done->get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return UnavailableError("the scheduler is stopping");
    queue_.push_back({std::nullopt, [this, done, event = std::move(event), relayed_id,
                                     answer = std::move(answer)] {
                        CommandResult result;
                        const Relayed relayed{relayed_id, &answer};
                        Status s;
                        try {
                          s = Process(event, &result, answer ? &relayed : nullptr);
                        } catch (...) {
                          // The waiting caller gets an answer; the loop logs the bug.
                          done->set_value(InternalError("the command failed unexpectedly"));
                          throw;
                        }
                        if (s.ok()) {
                          done->set_value(std::move(result));
                        } else {
                          done->set_value(s);
                        }
                      }});
  }
  cv_.notify_one();
  return f.get();
}

Result<CommandResult> Scheduler::Execute(const Event& event) {
  CommandResult result;
  RETURN_IF_ERROR(Process(event, &result));
  return result;
}

void Scheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
}

void Scheduler::Join() {
  if (thread_.joinable()) thread_.join();
}

void Scheduler::RunInBackground() {
  std::promise<void> started;
  std::future<void> f = started.get_future();
  thread_ = std::thread([this, &started] {
    loop_thread_ = std::this_thread::get_id();
    started.set_value();
    RunLoop();
  });
  f.wait();
}

void Scheduler::Run() {
  loop_thread_ = std::this_thread::get_id();
  RunLoop();
}

void Scheduler::RunLoop() {
  for (;;) {
    std::deque<Queued> batch;
    {
      std::unique_lock<std::mutex> lock(mu_);
      Time now = services_->clock->Now();
      Time wake = std::min(next_wakeup_.value_or(now + Millis(60000)), next_rescan_);
      if (queue_.empty() && !stopping_ && wake > now) {
        cv_.wait_for(lock, std::chrono::milliseconds((wake - now).count()),
                     [&] { return !queue_.empty() || stopping_; });
      }
      batch.swap(queue_);
      if (stopping_) {
        lock.unlock();
        // Commands and handle saves waiting on a future must not hang: run them (unlocked, as
        // they may post). Whatever they post now is dropped; a restart recovers it.
        for (Queued& q : batch) {
          if (q.closure) q.closure();
        }
        return;
      }
    }
    auto finished_try = [&batch](size_t k) {
      return !batch[k].closure && batch[k].event &&
             std::holds_alternative<TaskFinished>(*batch[k].event);
    };
    for (size_t k = 0; k < batch.size();) {
      // Tries that ended together are committed together (group commit).
      size_t end = k;
      while (end < batch.size() && finished_try(end)) ++end;
      // A library exception here is a bug: it is logged and counted, and the server goes on
      // (the event's run is recovered by the next events or at restart).
      try {
        if (end - k >= 2) {
          std::vector<Event> group;
          for (size_t j = k; j < end; ++j) group.push_back(std::move(*batch[j].event));
          k = end;
          ProcessFinishedGroup(std::move(group));
          continue;
        }
        Queued& q = batch[k++];
        if (q.closure) {
          q.closure();
        } else if (q.event) {
          Status s = Process(*q.event, nullptr);
          if (!s.ok() && s.code() != StatusCode::kNotFound) {
            services_->logger->Error("scheduler", s.ToString());
          }
        }
      } catch (const std::exception& e) {
        SP_BUG(std::string("exception in the scheduler loop: ") + e.what());
      }
    }
    Time now = services_->clock->Now();
    if (now >= next_rescan_) {
      Status s = RescanDags();
      if (!s.ok()) services_->logger->Error("dags", s.ToString());
    }
    if (!pending_takeup_.empty() && now >= takeup_retry_at_) TakeUpPending();
    if (next_wakeup_ && now >= *next_wakeup_) {
      next_wakeup_.reset();
      if (!stale_runs_.empty()) ReloadRuns(std::set<int64_t>(stale_runs_));
      std::vector<Event> retry;
      retry.swap(retry_events_);
      for (Event& e : retry) Process(e, nullptr).IgnoreError();
      Status s = Process(Tick{}, nullptr);
      if (!s.ok()) services_->logger->Error("scheduler", s.ToString());
    }
  }
}

namespace {

// Airflow 3's get_random_string: eight letters and digits.
std::string RandomRunIdSuffix() {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<size_t> pick(0, sizeof(kChars) - 2);
  std::string out(8, 'x');
  for (char& c : out) c = kChars[pick(rng)];
  return out;
}

// A manual trigger without a logical date runs at `now` under Airflow 3's run id
// (manual__<time>_<random>); the id is drawn here because Decide draws no ids.
Event WithManualRunId(const Event& event, Time now) {
  const auto* t = std::get_if<TriggerRun>(&event);
  if (!t || t->type != store::RunType::kManual || !t->run_id.empty() || t->logical_date) {
    return event;
  }
  TriggerRun filled = *t;
  filled.logical_date = now;
  filled.run_id = MakeManualRunId(now, RandomRunIdSuffix());
  return filled;
}

bool MustNotBeLost(const Event& event) {
  return std::holds_alternative<TaskFinished>(event) ||
         std::holds_alternative<TaskStarted>(event) || std::holds_alternative<DagsChanged>(event);
}

}  // namespace

Status Scheduler::DeferStale(const Event& event) {
  const std::string run = std::to_string(EventRun(event).value_or(0));
  if (MustNotBeLost(event)) {
    retry_events_.push_back(event);
    next_wakeup_ = services_->clock->Now() + Millis(1000);
  }
  return UnavailableError("run " + run +
                          " is being read again from the store after a failed "
                          "commit; try again in a moment");
}

Status Scheduler::Process(const Event& original_event, CommandResult* result,
                          const Relayed* relayed) {
  struct PassTimer {
    const std::function<void(std::chrono::microseconds)>& observer;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    ~PassTimer() {
      if (observer) {
        observer(std::chrono::duration_cast<std::chrono::microseconds>(
            std::chrono::steady_clock::now() - start));
      }
    }
  } timer{pass_observer_};
  if (options_.partitions > 0) {
    // Several active schedulers: a command for a DAG another one holds is not decided here (it
    // gave the partition up a moment ago); Unavailable leaves a relayed one pending for it.
    ASSIGN_OR_RETURN(std::optional<std::string> dag, CommandDag(original_event, *services_->store));
    if (dag && !Owns(*dag)) {
      const int p = dag::PartitionOf(*dag, options_.partitions);
      if (pending_takeup_.count(p)) {
        return UnavailableError("DAG '" + *dag + "' is in partition " + std::to_string(p) +
                                ", which this scheduler is taking up; try again in a moment");
      }
      return UnavailableError("DAG '" + *dag + "' is scheduled by the holder of partition " +
                              std::to_string(p) + ", not by this scheduler");
    }
  }
  // A command about a finished run needs that run in the snapshot first.
  int64_t run = 0;
  if (auto* c = std::get_if<ClearTasks>(&original_event)) run = c->run;
  if (auto* m = std::get_if<MarkTask>(&original_event)) run = m->run;
  if (const std::optional<int64_t> about = EventRun(original_event);
      about && stale_runs_.count(*about)) {
    return DeferStale(original_event);
  }
  if (run != 0 && !snapshot_.runs.count(run)) {
    ASSIGN_OR_RETURN(std::optional<store::DagRun> r, services_->store->GetRun(run));
    if (!r) return NotFoundError("no run with key " + std::to_string(run));
    auto dit = snapshot_.dags.find(r->dag_id);
    ASSIGN_OR_RETURN(
        RunView view,
        ReadRunView(std::move(*r), dit != snapshot_.dags.end() ? dit->second.dag : nullptr));
    snapshot_.runs.emplace(run, std::move(view));
  }
  const Time now = services_->clock->Now();
  if (const auto* prune = std::get_if<PruneRuns>(&original_event)) return Prune(*prune, result);
  if (options_.partitions > 0 && (std::holds_alternative<TriggerRun>(original_event) ||
                                  std::holds_alternative<Backfill>(original_event))) {
    // Several active schedulers make runs: start after the newest key, so that a command clashes
    // with another's run only when both make one at the same moment (then it is decided again).
    ASSIGN_OR_RETURN(int64_t max_key, services_->store->MaxRunId());
    if (max_key > keys_.last()) keys_ = RunKeySource(max_key);
  }
  const Event event = WithManualRunId(original_event, now);
  RETURN_IF_ERROR(NoteTakenRunIds(event, now));
  // A refused commit is resolved (run key or run id already used) and decided again, at most a
  // few times; what cannot be resolved drops this one plan and the loop goes on.
  Status s;
  for (int attempt = 0; attempt < 3; ++attempt) {
    Plan plan = Decide(snapshot_, event, now, keys_);
    if (!plan.refused.ok()) {
      if (run != 0 && store::IsTerminal(snapshot_.runs.at(run).run.state))
        snapshot_.runs.erase(run);
      return plan.refused;
    }
    std::optional<store::Mutation::CommandAnswer> answer;
    if (relayed) {
      answer = store::Mutation::CommandAnswer{
          relayed->id, (*relayed->answer)(CommandResult{plan.created_runs, {}})};
    }
    s = Apply(plan, std::move(answer));
    if (s.ok()) {
      if (result) result->created_runs = plan.created_runs;
      return OkStatus();
    }
    if (plan.created_runs.empty() || s.code() == StatusCode::kAborted ||
        s.code() == StatusCode::kUnavailable) {
      break;
    }
    Result<bool> resolved = ResolveRefusedRuns(plan, s);
    if (!resolved.ok() || !*resolved) break;
    services_->logger->Warn("scheduler", s.ToString() + "; deciding again");
  }
  if (MustNotBeLost(event)) {
    retry_events_.push_back(event);  // must not be lost: retried on the next tick
    next_wakeup_ = services_->clock->Now() + Millis(1000);
  }
  return s;
}

Status Scheduler::Prune(const PruneRuns& event, CommandResult* result) {
  // Batches, oldest first, each decided and committed on its own: a long history is deleted
  // in bounded transactions and memory; a dry run lists everything in one read.
  const int batch = event.dry_run ? 0 : 2000;
  Time before = event.before;
  for (;;) {
    store::RunFilter filter;
    filter.ended_before = before;
    filter.limit = batch;
    ASSIGN_OR_RETURN(snapshot_.prune_candidates, services_->store->ListRuns(filter));
    const size_t found = snapshot_.prune_candidates.size();
    // Several active schedulers: each deletes its own DAGs' runs (another's may be cleared back
    // to running meanwhile, which only its holder sees). A batch with none of its own pages on
    // past them.
    Time last_ended{};
    const bool pageable = found == static_cast<size_t>(batch) && batch > 0 &&
                          snapshot_.prune_candidates.back().ended_at.has_value();
    if (pageable) last_ended = *snapshot_.prune_candidates.back().ended_at;
    std::erase_if(snapshot_.prune_candidates,
                  [this](const store::DagRun& r) { return !Owns(r.dag_id); });
    if (pageable && snapshot_.prune_candidates.empty()) {
      before = last_ended;
      continue;
    }
    Plan plan = Decide(snapshot_, event, services_->clock->Now(), keys_);
    snapshot_.prune_candidates.clear();
    if (!plan.refused.ok()) return plan.refused;
    if (result) {
      result->pruned_runs.insert(result->pruned_runs.end(), plan.deleted_runs.begin(),
                                 plan.deleted_runs.end());
    }
    if (event.dry_run) return OkStatus();
    RETURN_IF_ERROR(Apply(plan));
    if (plan.deleted_runs.empty() || found < static_cast<size_t>(batch)) return OkStatus();
  }
}

void Scheduler::RemoveRunLogs(const store::DagRun& run) {
  // Ids are checked again before they become a path: a record written by an older version is
  // skipped rather than trusted.
  if (!dag::CheckDagId(run.dag_id).ok() || !dag::CheckRunId(run.run_id).ok()) return;
  const std::filesystem::path dag_dir =
      std::filesystem::path(services_->config.SchedulerDir()) / "logs" / run.dag_id;
  std::error_code ec;
  std::filesystem::remove_all(dag_dir / run.run_id, ec);
  if (ec) {
    services_->logger->Warn("retention", "cannot remove the logs of " + run.dag_id + "/" +
                                             run.run_id + ": " + ec.message());
  }
  std::filesystem::remove(dag_dir, ec);  // only when it is now empty
}

Status Scheduler::NoteTakenRunIds(const Event& event, Time now) {
  // Decide sees only active runs; the store also holds finished ones whose ids a trigger or a
  // backfill could reuse. Look those few ids up so the clash is refused with a clear message.
  std::vector<std::pair<std::string, std::string>> candidates;
  // A generated id is also looked up in its older 'Z' form (LegacyRunId): Decide counts either.
  if (const auto* t = std::get_if<TriggerRun>(&event)) {
    if (t->run_id.empty()) {
      const Time logical = t->logical_date.value_or(now);
      candidates.emplace_back(t->dag_id, MakeRunId(t->type, logical));
      candidates.emplace_back(t->dag_id, LegacyRunId(t->type, logical));
    } else {
      candidates.emplace_back(t->dag_id, t->run_id);
    }
  } else if (const auto* b = std::get_if<Backfill>(&event)) {
    auto it = snapshot_.dags.find(b->dag_id);
    if (it != snapshot_.dags.end() && it->second.dag && it->second.dag->schedule &&
        b->from <= b->to) {
      for (const dag::ScheduledRun& r : BackfillRuns(*it->second.dag, b->from, b->to, 10001)) {
        candidates.emplace_back(b->dag_id, MakeRunId(store::RunType::kBackfill, r.logical_date));
        candidates.emplace_back(b->dag_id, LegacyRunId(store::RunType::kBackfill, r.logical_date));
      }
    }
  }
  for (const auto& [dag_id, run_id] : candidates) {
    ASSIGN_OR_RETURN(std::optional<store::DagRun> found, services_->store->FindRun(dag_id, run_id));
    if (found) snapshot_.taken_run_ids.emplace(dag_id, run_id);
  }
  return OkStatus();
}

Result<bool> Scheduler::ResolveRefusedRuns(const Plan& plan, const Status& refusal) {
  // Another process may have used the next run keys (`dags test` beside a server): continue
  // after the largest key in the store.
  std::set<int64_t> created(plan.created_runs.begin(), plan.created_runs.end());
  ASSIGN_OR_RETURN(int64_t max_key, services_->store->MaxRunId());
  bool resolved = max_key >= *created.begin();
  if (max_key > keys_.last()) keys_ = RunKeySource(max_key);
  for (const store::DagRun& r : plan.runs) {
    if (!created.count(r.id)) continue;
    ASSIGN_OR_RETURN(std::optional<store::DagRun> found,
                     services_->store->FindRun(r.dag_id, r.run_id));
    if (!found) continue;
    resolved = true;
    snapshot_.taken_run_ids.emplace(r.dag_id, r.run_id);
    auto it = snapshot_.dags.find(r.dag_id);
    if (r.type == store::RunType::kScheduled && it != snapshot_.dags.end()) {
      // That interval already has its run: the schedule goes on after it.
      std::optional<Time>& last = it->second.record.last_scheduled_logical_date;
      if (!last || *last < r.logical_date) last = r.logical_date;
    }
  }
  if (!resolved) {
    // Unknown cause: stop creating scheduled runs for the DAGs involved rather than failing
    // every later commit with this plan's runs in it.
    for (const store::DagRun& r : plan.runs) {
      if (!created.count(r.id) || r.type != store::RunType::kScheduled) continue;
      auto it = snapshot_.dags.find(r.dag_id);
      if (it == snapshot_.dags.end()) continue;
      it->second.scheduling_blocked = refusal.ToString();
      services_->logger->Error("scheduler", "DAG '" + r.dag_id +
                                                "': scheduling stopped until its file is "
                                                "reloaded: " +
                                                refusal.ToString());
      resolved = true;
    }
  }
  return resolved;
}

Status Scheduler::CommitWithRetry(const store::Mutation& m) {
  if (m.empty()) return OkStatus();
  Status s;
  for (int attempt = 0; attempt < 5; ++attempt) {
    s = services_->store->Commit(m);
    if (s.ok()) {
      ++commits_;
      return s;
    }
    if (s.code() != StatusCode::kAborted) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20 << attempt));
  }
  return s.With("committing scheduler state");
}

bool Scheduler::ChangesListings(const Plan& plan) const {
  // Plans carry the runs they touched, mostly unchanged (a task's end updates its run's view).
  if (!plan.created_runs.empty() || !plan.deleted_runs.empty()) return true;
  for (const store::DagRun& r : plan.runs) {
    auto before = snapshot_.runs.find(r.id);
    if (before == snapshot_.runs.end() || !(before->second.run == r)) return true;
  }
  for (const store::DagRecord& d : plan.dags) {
    auto before = snapshot_.dags.find(d.dag_id);
    if (before == snapshot_.dags.end() || !(before->second.record == d)) return true;
  }
  return false;
}

std::optional<Scheduler::Probe> Scheduler::ProbeOf(const Plan& plan) const {
  for (const TaskInstance& ti : plan.task_instances) {
    auto rit = snapshot_.runs.find(ti.run_id);
    const TaskInstance* before = nullptr;
    if (rit != snapshot_.runs.end()) {
      auto it = rit->second.tis.find(ti.task_id);
      if (it != rit->second.tis.end()) before = &it->second;
    }
    if (before == nullptr || before->state != ti.state || before->try_number != ti.try_number) {
      return Probe{ti.run_id, ti.task_id, ti.state, ti.try_number};
    }
  }
  return std::nullopt;
}

Status Scheduler::CommitOnce(const store::Mutation& m, const std::optional<Probe>& probe) {
  Status s = CommitWithRetry(m);
  if (s.ok() || s.code() != StatusCode::kUnavailable || (!probe && !m.command_answer)) return s;
  // Whether it landed: the probed row holds the commit's last write of it (a group may write a
  // task instance twice: up_for_retry, then queued again). Without a task instance to read, a
  // relayed command's answer tells: only this scheduler's commit can have answered it (another
  // one's would have fenced this one out first).
  auto landed = [&]() -> Result<bool> {
    if (!probe) return services_->store->RelayedCommandAnswered(m.command_answer->id);
    Probe expected = *probe;
    for (const TaskInstance& ti : m.task_instances) {
      if (ti.run_id == expected.run && ti.task_id == expected.task) {
        expected.state = ti.state;
        expected.try_number = ti.try_number;
      }
    }
    ASSIGN_OR_RETURN(std::optional<TaskInstance> ti,
                     services_->store->GetTaskInstance(expected.run, expected.task));
    return ti && ti->state == expected.state && ti->try_number == expected.try_number;
  };
  // The store reconnects on its own. The loop waits until it can read the probed row (nothing
  // can be committed meanwhile anyway): deciding the event again without knowing would record
  // its transitions twice when the commit had landed. Only a stop ends the wait undecided, and
  // the next start's recovery reads whatever landed. A read that fails otherwise than
  // Unavailable (the store answered, with an error) is not waited for.
  for (int attempt = 0;; ++attempt) {
    if (attempt > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(attempt < 4 ? 100 << attempt : 1000));
    }
    Result<bool> read = landed();
    if (read.ok()) {
      if (*read) {
        services_->logger->Warn("scheduler", s.ToString() + "; the commit had landed");
        return OkStatus();
      }
      return s;
    }
    if (read.status().code() != StatusCode::kUnavailable) {
      services_->logger->Error("scheduler", s.ToString() +
                                                "; whether the commit landed is unknown (reading "
                                                "it back failed: " +
                                                read.status().ToString() + ")");
      return s;
    }
    if (attempt == 5) {
      services_->logger->Error("scheduler", s.ToString() +
                                                "; whether the commit landed is unknown (the "
                                                "store cannot be read: " +
                                                read.status().ToString() + "); waiting for it");
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return s;
  }
}

Status Scheduler::Apply(const Plan& plan, std::optional<store::Mutation::CommandAnswer> answer) {
  store::Mutation m;
  m.command_answer = std::move(answer);
  m.dags = plan.dags;
  std::set<int64_t> created(plan.created_runs.begin(), plan.created_runs.end());
  for (const store::DagRun& r : plan.runs) (created.count(r.id) ? m.new_runs : m.runs).push_back(r);
  m.task_instances = plan.task_instances;
  m.events = plan.events;
  for (const store::DagRun& r : plan.deleted_runs) m.delete_runs.push_back(r.id);
  const bool listings_changed = ChangesListings(plan);
  RETURN_IF_ERROR(CommitOnce(m, ProbeOf(plan)));
  if (listings_changed) listing_changes_.fetch_add(1, std::memory_order_release);
  const std::vector<store::DagRun> finished = FoldPlan(plan, &snapshot_);
  WithLaunchBatch([&] { AfterCommit(plan, finished); });
  return OkStatus();
}

void Scheduler::WithLaunchBatch(const std::function<void()>& effects) {
  if (launch_batch_ != nullptr) {
    effects();
    return;
  }
  std::vector<PendingStart> batch;
  launch_batch_ = &batch;
  try {
    effects();
  } catch (...) {
    // A bug the loop logs: the tries collected so far were decided by durable plans, so they
    // are still started (or abandoned), never left waiting at their gates.
    launch_batch_ = nullptr;
    if (!batch.empty()) CommitStarts(std::move(batch));
    throw;
  }
  launch_batch_ = nullptr;
  if (!batch.empty()) CommitStarts(std::move(batch));
}

void Scheduler::CommitStarts(std::vector<PendingStart> starts) {
  PlanGroup group;
  std::vector<PendingStart*> accepted, alone;
  const Time now = services_->clock->Now();
  size_t next = 0;
  try {
    for (; next < starts.size(); ++next) {
      PendingStart& p = starts[next];
      if (stale_runs_.count(p.key.run)) {
        p.abandon(UnavailableError("run " + std::to_string(p.key.run) +
                                   " is being read again from the store"));
        continue;
      }
      RunKeySource keys = keys_;
      Plan plan = Decide(snapshot_, TaskStarted{p.key.run, p.key.task, p.key.try_number, p.handle},
                         now, keys);
      if (!plan.refused.ok()) {
        p.abandon(plan.refused);
      } else if (!Groupable(plan)) {
        alone.push_back(&p);  // decided again and committed on its own below
      } else {
        AddToGroup(&group, std::move(plan));
        accepted.push_back(&p);
      }
    }
  } catch (...) {
    // A bug the loop logs: nothing of the group is committed, so every try not yet resolved is
    // abandoned at its gate and the snapshot is the store's again.
    RollBack(&group);
    const Status bug = InternalError("the scheduler failed while recording the try's start");
    for (PendingStart* p : accepted) p->abandon(bug);
    for (PendingStart* p : alone) p->abandon(bug);
    for (size_t k = next; k < starts.size(); ++k) starts[k].abandon(bug);
    throw;
  }
  if (!accepted.empty()) {
    Status s = CommitGroup(&group);
    if (s.ok()) {
      // The gates open now, after the commit (and its read-back) that may have taken a while:
      // the lease is checked again right before.
      if (options_.before_effects) options_.before_effects();
      for (PendingStart* p : accepted) p->start();
      WithLaunchBatch([&] {
        for (const auto& [plan, finished] : group.plans) AfterCommit(plan, finished);
      });
    } else {
      for (PendingStart* p : accepted) p->abandon(s);
    }
  }
  for (PendingStart* p : alone) {
    Status s = SaveHandleOnLoop(p->key, p->handle);
    if (s.ok()) {
      p->start();
    } else {
      p->abandon(s);
    }
  }
}

bool Scheduler::Groupable(const Plan& plan) {
  return plan.created_runs.empty() && plan.deleted_runs.empty() && plan.dags.empty() &&
         plan.definitions.empty();
}

void Scheduler::AddToGroup(PlanGroup* group, Plan plan) {
  if (group->plans.empty()) group->cancelling_before = snapshot_.cancelling;
  group->listings_changed = group->listings_changed || ChangesListings(plan);
  if (!group->probe) group->probe = ProbeOf(plan);
  store::Mutation& m = group->mutation;
  m.runs.insert(m.runs.end(), plan.runs.begin(), plan.runs.end());
  m.task_instances.insert(m.task_instances.end(), plan.task_instances.begin(),
                          plan.task_instances.end());
  m.events.insert(m.events.end(), plan.events.begin(), plan.events.end());
  for (const store::DagRun& r : plan.runs) group->touched.insert(r.id);
  for (const TaskInstance& ti : plan.task_instances) group->touched.insert(ti.run_id);
  // Folded now, before it is durable, so the next plan is decided on top of it; undone by
  // reading the touched runs again if the commit fails.
  std::vector<store::DagRun> finished = FoldPlan(plan, &snapshot_);
  group->plans.emplace_back(std::move(plan), std::move(finished));
}

Status Scheduler::CommitGroup(PlanGroup* group) {
  Status s = CommitOnce(group->mutation, group->probe);
  if (s.ok()) {
    if (group->listings_changed) listing_changes_.fetch_add(1, std::memory_order_release);
    return s;
  }
  RollBack(group);
  return s;
}

void Scheduler::RollBack(PlanGroup* group) {
  if (group->plans.empty()) return;
  snapshot_.cancelling = std::move(group->cancelling_before);
  ReloadRuns(group->touched);
}

void Scheduler::AfterCommit(const Plan& plan, const std::vector<store::DagRun>& finished) {
  for (const TaskInstance& ti : plan.task_instances) {
    if (!store::IsActive(ti.state)) live_.erase(TryKey{ti.run_id, ti.task_id, ti.try_number});
  }
  if (run_finished_) {
    for (const store::DagRun& r : finished) run_finished_(r);
  }
  // A try's start or end evaluates only the timers it can change, so an earlier wakeup stays
  // until it fires; a stale one costs a tick that finds nothing to do.
  if (plan.next_wakeup && (!next_wakeup_ || *plan.next_wakeup < *next_wakeup_)) {
    next_wakeup_ = plan.next_wakeup;
  }
  RunEffects(plan);
}

void Scheduler::RunEffects(const Plan& plan) {
  // Effects run only now that the plan is durable.
  if (options_.before_effects && (!plan.stops.empty() || !plan.launches.empty())) {
    options_.before_effects();
  }
  for (const store::DagRun& r : plan.deleted_runs) RemoveRunLogs(r);
  for (const StopTry& stop : plan.stops) StopTryEffect(stop);
  for (const LaunchTry& launch : plan.launches) Launch(launch);
}

void Scheduler::ProcessFinishedGroup(std::vector<Event> events) {
  const auto started = std::chrono::steady_clock::now();
  const Time now = services_->clock->Now();
  PlanGroup group;
  std::vector<size_t> grouped;  // the events behind group.plans
  size_t next = 0;
  try {
    for (; next < events.size(); ++next) {
      const Event& event = events[next];
      if (const std::optional<int64_t> run = EventRun(event); run && stale_runs_.count(*run)) {
        DeferStale(event).IgnoreError();
        continue;
      }
      RunKeySource keys = keys_;  // a plan that creates runs is decided again by Process
      Plan plan = Decide(snapshot_, event, now, keys);
      if (!plan.refused.ok()) {
        if (plan.refused.code() != StatusCode::kNotFound) {
          services_->logger->Error("scheduler", plan.refused.ToString());
        }
        continue;
      }
      if (!Groupable(plan)) break;
      AddToGroup(&group, std::move(plan));
      grouped.push_back(next);
    }
  } catch (...) {
    // A bug the loop logs: the folded plans are undone and every event of the group is retried.
    RollBack(&group);
    for (size_t k = 0; k < events.size(); ++k) retry_events_.push_back(events[k]);
    next_wakeup_ = services_->clock->Now() + Millis(1000);
    throw;
  }
  if (!grouped.empty()) {
    Status s = CommitGroup(&group);
    if (s.ok()) {
      WithLaunchBatch([&] {
        for (const auto& [plan, finished] : group.plans) AfterCommit(plan, finished);
      });
    } else {
      services_->logger->Error("scheduler", s.ToString() + "; " + std::to_string(grouped.size()) +
                                                " finished tries are retried in a second");
      for (size_t k : grouped) retry_events_.push_back(events[k]);
      next_wakeup_ = services_->clock->Now() + Millis(1000);
    }
  }
  if (pass_observer_) {
    pass_observer_(std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started));
  }
  for (; next < events.size(); ++next) {
    Status s = Process(events[next], nullptr);
    if (!s.ok() && s.code() != StatusCode::kNotFound) {
      services_->logger->Error("scheduler", s.ToString());
    }
  }
}

// ---- effects -------------------------------------------------------------------------------

nlohmann::json Scheduler::TemplateContext(const RunView& view, const std::string& task,
                                          int try_number) {
  const store::DagRun& r = view.run;
  nlohmann::json params = nlohmann::json::object();
  if (view.dag) {
    for (const auto& [name, p] : view.dag->params) params[name] = p.default_value;
  }
  if (r.conf.is_object()) {
    for (const auto& [k, v] : r.conf.items()) params[k] = v;
  }
  // Only tasks that published outputs: a 1,000-task fan-out must not copy 1,000 empty objects
  // into every launch.
  nlohmann::json tasks = nlohmann::json::object();
  for (const auto& [id, ti] : view.tis) {
    if (ti.outputs.is_object() && !ti.outputs.empty()) tasks[id] = {{"outputs", ti.outputs}};
  }
  nlohmann::json context =
      dag::RunTemplateValues({r.dag_id, r.run_id, store::RunTypeName(r.type), task, r.logical_date,
                              r.data_interval_start, r.data_interval_end, params});
  context["dag"] = {{"id", r.dag_id}, {"dag_id", r.dag_id}};
  context["task"] = {{"id", task}, {"task_id", task}};
  context["try_number"] = try_number;
  context["params"] = std::move(params);
  context["tasks"] = std::move(tasks);
  return context;
}

Result<nlohmann::json> Scheduler::PreviousSuccessValues(const store::DagRun& r,
                                                        const dag::TaskSpec& spec) {
  const std::vector<std::string>& names = dag::PreviousSuccessTemplateVariables();
  bool referenced = dag::ReferencesAnyOf(spec.fields, names);
  for (const auto& [k, v] : spec.env) referenced = referenced || dag::ReferencesAnyOf(v, names);
  if (!referenced) return nlohmann::json::object();
  // A finished run is in the store, not in the snapshot (which holds the active runs); every
  // plan is committed before its launches, so a run that succeeded just now is found.
  ASSIGN_OR_RETURN(std::vector<store::DagRun> found,
                   services_->store->ListRuns({.dag_id = r.dag_id,
                                               .state = store::RunState::kSuccess,
                                               .limit = 1,
                                               .logical_date_before = r.logical_date}));
  std::optional<dag::PreviousSuccessfulRun> prev;
  if (!found.empty()) {
    const store::DagRun& p = found.front();
    prev = dag::PreviousSuccessfulRun{p.data_interval_start, p.data_interval_end, p.started_at,
                                      p.ended_at};
  }
  return dag::PreviousSuccessTemplateValues(prev);
}

std::shared_ptr<Scheduler::TryContext> Scheduler::MakeContext(
    const RunView& view, const dag::TaskSpec& spec, const TaskInstance& ti, nlohmann::json fields,
    std::map<std::string, std::string> env) {
  TryKey key{view.run.id, ti.task_id, ti.try_number};
  auto ctx = std::make_shared<TryContext>(link_, key, view.dag);
  ctx->Init(view.run, &spec, std::move(fields), std::move(env),
            services_->config.SchedulerDir() + "/" + ti.log_path, services_);
  return ctx;
}

void Scheduler::Launch(const LaunchTry& launch) {
  auto rit = snapshot_.runs.find(launch.run);
  if (rit == snapshot_.runs.end()) return;
  const RunView& view = rit->second;
  const TaskInstance& ti = view.tis.at(launch.task);
  const dag::TaskSpec* spec = view.dag ? view.dag->FindTask(launch.task) : nullptr;
  operators::TaskType* type = spec ? registry_->Find(spec->type) : nullptr;
  auto fail = [&](const std::string& why, bool retryable = false) {
    Post(TaskFinished{launch.run,
                      launch.task,
                      launch.try_number,
                      {false, -1, nlohmann::json::object(), why, retryable}});
  };
  if (!type) return fail("unknown task type");
  nlohmann::json context = TemplateContext(view, launch.task, launch.try_number);
  Result<nlohmann::json> previous = PreviousSuccessValues(view.run, *spec);
  if (!previous.ok()) {
    // The store may be busy for a moment: a retry can fix this.
    return fail("cannot read the previous successful run for prev_*_success: " +
                    previous.status().message(),
                /*retryable=*/true);
  }
  context.update(*previous);
  std::map<std::string, std::string> env;
  for (const auto& [k, v] : spec->env) {
    Result<std::string> rendered = dag::RenderTemplate(v, context);
    if (!rendered.ok())
      return fail("template error in env " + k + ": " + rendered.status().message());
    env[k] = *rendered;
  }
  // Shell scripts get their values as quoted variables; every other field is rendered as text.
  nlohmann::json unrendered = spec->fields;
  std::map<std::string, std::string> script_values;
  for (const std::string& field : type->ShellScriptFields(spec->fields)) {
    Result<dag::ShellRendering> script =
        dag::RenderShellTemplate(unrendered[field].get<std::string>(), context, env);
    if (!script.ok()) return fail("template error: " + script.status().With(field).message());
    unrendered[field] = std::move(script->script);
    script_values.merge(script->env);
  }
  Result<nlohmann::json> fields = dag::RenderJson(unrendered, context);
  if (!fields.ok()) return fail("template error: " + fields.status().message());
  env.merge(script_values);
  auto ctx = MakeContext(view, *spec, ti, std::move(*fields), std::move(env));
  // The log's directory is made by whoever writes the log first (the try's process or
  // AppendLog), not here on the loop.
  live_[ctx->key()] = ctx;
  type->Start(ctx);
}

void Scheduler::StopTryEffect(const StopTry& stop) {
  auto it = live_.find(TryKey{stop.run, stop.task, stop.try_number});
  if (it == live_.end()) return;
  std::shared_ptr<TryContext> ctx = it->second;
  ctx->AppendLog("[sparkplane] stopping: " + stop.reason);
  const dag::TaskSpec& spec = ctx->spec();
  operators::TaskType* type = registry_->Find(spec.type);
  if (type) type->Cancel(ctx, ctx->handle(), options_.stop_grace);
}

Status Scheduler::SaveHandleOnLoop(const TryKey& key, const nlohmann::json& handle) {
  // A try this scheduler no longer acts on (its run ended, it was cleared, or its partition was
  // given up) must not start: its handle would be recorded by nobody, and a new holder would
  // launch it again. A run being read again (stale) is decided once it is back.
  if (!stale_runs_.count(key.run)) {
    auto run = snapshot_.runs.find(key.run);
    auto ti = run == snapshot_.runs.end() ? decltype(run->second.tis.end()){}
                                          : run->second.tis.find(key.task);
    if (run == snapshot_.runs.end() || ti == run->second.tis.end() ||
        ti->second.try_number != key.try_number || !store::IsActive(ti->second.state)) {
      return FailedPreconditionError("try " + std::to_string(key.try_number) + " of task '" +
                                     key.task + "' of run " + std::to_string(key.run) +
                                     " is no longer this scheduler's to start");
    }
  }
  return Process(TaskStarted{key.run, key.task, key.try_number, handle}, nullptr);
}

}  // namespace sp::scheduler
