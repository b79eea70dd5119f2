// Scheduler: the event loop that owns all run state. One thread runs the loop; everything else
// (task completions from the process reaper, commands from the CLI/API) enters through Post()
// or Submit(). For each event the loop calls the pure Decide(), commits the Plan in one store
// transaction (Apply), updates its Snapshot and only then carries out the Plan's effects:
// launching tries through their TaskType and stopping them.
//
// Start() loads the DAG folder and every active run from the store and recovers tries that were
// in flight when a previous server died: a try with a handle is handed to its TaskType's
// Recover(); a queued try without a handle never started, so it is scheduled again without
// counting as a try.
//
// Thread safety: Post/Submit/Stop are thread-safe; everything else runs on the loop thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "dag/dag_folder.h"
#include "operators/registry.h"
#include "operators/task_type.h"
#include "scheduler/decide.h"
#include "scheduler/event.h"
#include "scheduler/snapshot.h"
#include "store/store.h"

namespace sp::scheduler {

struct SchedulerOptions {
  std::string dags_folder;
  int parallelism = 32;
  Millis dag_rescan_interval = Millis(2000);
  Millis stop_grace = Millis(10000);  // SIGTERM -> SIGKILL for cancelled or timed-out tries
  // False in `dags test` and for offline commands: no runs are created from schedules.
  bool create_scheduled_runs = true;
  // False for offline commands and `dags test`: other runs' tries are not touched.
  bool recover_tries = true;
  // False for `dags test`: only the test's own run is loaded.
  bool load_active_runs = true;
  // Called after each commit and before its effects (starting or stopping tries): a server
  // sharing a PostgreSQL store waits there until its lease is known to be still its own, so a
  // server that was frozen past a takeover starts nothing (store/postgres/lease.h).
  std::function<void()> before_effects;
  // Several active schedulers on one PostgreSQL store (store/postgres/lease.h): how many
  // partitions the DAGs are spread over; this scheduler loads, schedules and takes commands for
  // the DAGs of the partitions it holds (SetPartitions, ChangePartitions) only. 0: every DAG.
  int partitions = 0;
};

// The outcome of a command (trigger, cancel, ...) submitted to the loop.
struct CommandResult {
  std::vector<int64_t> created_runs;
  std::vector<store::DagRun> pruned_runs;  // PruneRuns: deleted (or, dry run, to be deleted)
};

// The DAG a command (trigger, backfill, pause, cancel, clear, mark) is about, its run's read from
// `store` for the commands that name a run; nullopt for other events (and a run `store` lacks).
Result<std::optional<std::string>> CommandDag(const Event& event, store::Store& store);

// What the holder of each partition acts on (several active schedulers, `schedulers list`): the
// active runs of its DAGs, their queued or running tries, and the clusters of those runs that
// are not deleted; partitions with none are absent.
struct PartitionHoldings {
  int64_t runs = 0;
  int64_t tries = 0;
  int64_t clusters = 0;
};
Result<std::map<int, PartitionHoldings>> HoldingsByPartition(store::Store& store, int partitions);

class Scheduler {
 public:
  Scheduler(operators::Services* services, const operators::TaskTypeRegistry* registry,
            SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Loads DAGs and active runs, recovers in-flight tries. Call once, before Run().
  Status Start();

  // Runs the loop on the calling thread until Stop().
  void Run();
  // Runs the loop on a new thread.
  void RunInBackground();
  // Asks the loop to end. Running tries are left alone (a restart recovers them).
  void Stop();
  void Join();

  // Queues an event; returns at once.
  void Post(Event event);
  // Queues a command and waits until it has been decided and committed.
  Result<CommandResult> Submit(Event event);
  // The answer a relayed command's commit records, made from its result.
  using RelayAnswer = std::function<std::string(const CommandResult&)>;
  // Submit() for command `relayed_id` relayed through the database
  // (store/postgres/command_relay.h): the commit of its decision also marks it done with
  // answer(result) (store::Mutation::command_answer), so it is applied once or not at all. A
  // decision that is refused commits nothing and leaves the command pending for the caller to
  // answer. Not for PruneRuns, which commits in batches.
  Result<CommandResult> SubmitRelayed(Event event, int64_t relayed_id, RelayAnswer answer);
  // Decides and applies a command at once; loop thread only (or before the loop runs).
  Result<CommandResult> Execute(const Event& event);

  // Several active schedulers (SchedulerOptions::partitions): the partitions held at start,
  // each with its epoch (the store is fenced on them). Before Start() only.
  void SetPartitions(std::map<int, int64_t> held);
  // Takes up the DAGs of `gained` (their active runs are loaded and their tries adopted, as at a
  // start) and gives up those of `dropped` (forgotten here, their tries left running for the
  // next holder to adopt); `done` is called once nothing of `dropped` is acted on any more.
  // Thread-safe; returns at once.
  void ChangePartitions(std::map<int, int64_t> gained, std::set<int> dropped,
                        std::function<void()> done);
  // Thread-safe: whether this scheduler takes commands for `dag_id` now, and if not, the
  // partition whose holder does (0 when it does).
  int PartitionElsewhere(const std::string& dag_id) const;
  // Thread-safe: the partitions held now ({1} without partitions: the single lease's).
  std::set<int> Partitions() const;

  // Called on the loop thread whenever a run reaches a terminal state.
  void SetRunFinishedObserver(std::function<void(const store::DagRun&)> fn);
  // Called on the loop thread after each scheduling pass (its plan committed, effects started)
  // with how long it took: metrics, and the HTTP API's event feed reads the new state events.
  void SetPassObserver(std::function<void(std::chrono::microseconds)> fn);
  // Called on the loop thread after each DAG folder rescan with every file's result.
  void SetDagsLoadedObserver(std::function<void(const std::vector<dag::LoadedFile>&)> fn);

  // Loop-thread only (tests, `dags test`).
  const Snapshot& snapshot() const { return snapshot_; }
  const dag::DagFolder& dag_folder() const { return folder_; }
  size_t live_tries() const { return live_.size(); }
  int64_t commits() const { return commits_; }
  // How many of this scheduler's commits created, changed or deleted runs or changed a DAG's
  // record (paused, last scheduled date); readable from any thread (the HTTP API keeps rendered
  // run and DAG lists until it moves).
  int64_t listing_changes() const { return listing_changes_.load(std::memory_order_acquire); }

 private:
  class TryContext;
  // What a try's context holds instead of a raw Scheduler*: cleared when the scheduler is
  // destroyed, so a task-type thread that finishes later never touches a dead scheduler.
  struct Link {
    explicit Link(Scheduler* s) : owner(s) {}
    std::mutex mu;
    Scheduler* owner;
  };
  struct Queued {
    std::optional<Event> event;
    std::function<void()> closure;
  };
  // A relayed command being decided (SubmitRelayed) and how to answer it.
  struct Relayed {
    int64_t id = 0;
    const RelayAnswer* answer = nullptr;
  };
  // One task instance a commit moves to a new state or try: reading it back tells whether a
  // commit whose answer was lost (the session died after COMMIT was sent) landed.
  struct Probe {
    int64_t run = 0;
    std::string task;
    store::TaskState state{};
    int try_number = 0;
  };
  // Plans decided one after another and committed in one transaction (group commit); each is
  // folded into the snapshot as it is added, so the next is decided on top of it.
  struct PlanGroup {
    std::vector<std::pair<Plan, std::vector<store::DagRun>>> plans;  // with the runs it ended
    store::Mutation mutation;
    std::set<int64_t> touched;  // runs the plans change
    bool listings_changed = false;
    std::optional<Probe> probe;
    std::set<TryKey> cancelling_before;  // the snapshot's, restored if the commit fails
  };
  // A try whose gate opens once its handle is durable (TaskContext::SaveHandleThen).
  struct PendingStart {
    TryKey key;
    nlohmann::json handle;
    std::function<void()> start;
    std::function<void(const Status&)> abandon;
  };

  // Decides and applies `event`; `relayed`: the relayed command whose answer its commit records
  // (SubmitRelayed).
  Status Process(const Event& event, CommandResult* result, const Relayed* relayed = nullptr);
  // Group commit: TaskFinished events that were waiting together are decided one after the
  // other (each sees the ones before it folded into the snapshot) and committed in one
  // transaction; their effects run once it is durable. A plan that creates, deletes or
  // reschedules runs ends the group and goes through Process alone. If the commit fails, the
  // runs the group touched are read again from the store and its events retried on the next
  // tick, as Process does with one event.
  void ProcessFinishedGroup(std::vector<Event> events);
  // Commits `plan` (with the answer of the relayed command being decided, if any), folds it
  // into the snapshot and runs its effects.
  Status Apply(const Plan& plan,
               std::optional<store::Mutation::CommandAnswer> answer = std::nullopt);
  // What follows a durable commit of `plan`, already folded into the snapshot (`finished`: the
  // runs it ended): live tries forgotten, observers told, the next wakeup, then the effects.
  void AfterCommit(const Plan& plan, const std::vector<store::DagRun>& finished);
  void RunEffects(const Plan& plan);
  // Runs `effects` (which launch tries) so that the handles their gated tries save are committed
  // together afterwards (CommitStarts) instead of one transaction each; nested calls join the
  // outer batch.
  void WithLaunchBatch(const std::function<void()>& effects);
  // Decides the TaskStarted of each pending try, commits them in one transaction, then opens
  // their gates; if the commit fails, the runs are read again and every try is abandoned.
  void CommitStarts(std::vector<PendingStart> starts);
  // Whether a plan can join a group: one that creates, deletes or reschedules runs cannot (a
  // refused insert is resolved and decided again by Process).
  static bool Groupable(const Plan& plan);
  void AddToGroup(PlanGroup* group, Plan plan);
  // Commits the group; when that fails, its runs are read again from the store (ReloadRuns) and
  // its stops forgotten, so the snapshot is the store's again.
  Status CommitGroup(PlanGroup* group);
  // Makes the snapshot the store's again after the group's plans were folded but not committed.
  void RollBack(PlanGroup* group);
  // Whether committing `plan` changes a run or a DAG record (for listing_changes()), judged
  // against the snapshot.
  bool ChangesListings(const Plan& plan) const;
  // A run as the store holds it, with its task instances and index, on `dag`.
  Result<RunView> ReadRunView(store::DagRun run, dag::DagPtr dag);
  // Replaces the snapshot's view of these runs with the store's (after a failed group commit);
  // a run the store cannot be read for stays in stale_runs_ until it can.
  void ReloadRuns(const std::set<int64_t>& runs);
  // An event about a stale run: kept for the next tick when it must not be lost; Unavailable.
  Status DeferStale(const Event& event);
  Status NoteTakenRunIds(const Event& event, Time now);
  // Retention: decides and applies PruneRuns in batches read from the store.
  Status Prune(const PruneRuns& event, CommandResult* result);
  void RemoveRunLogs(const store::DagRun& run);
  // After the store refused a plan that created runs: true when the cause was found and fixed
  // in the snapshot (keys re-seeded, clashing run ids noted, or the DAG's scheduling blocked).
  Result<bool> ResolveRefusedRuns(const Plan& plan, const Status& refusal);
  Status CommitWithRetry(const store::Mutation& m);
  // CommitWithRetry, and when the store lost its answer (Unavailable), whether it landed anyway,
  // read back through `probe`'s row (expecting the mutation's last write of it) or, without one,
  // the relayed command the mutation answers, until the store answers or the scheduler stops: a
  // landed commit is a success (retrying its events would record their transitions twice, and a
  // re-read would drop its effects).
  Status CommitOnce(const store::Mutation& m, const std::optional<Probe>& probe);
  // The probe of `plan` against the snapshot it was decided on (before it is folded).
  std::optional<Probe> ProbeOf(const Plan& plan) const;
  void Launch(const LaunchTry& launch);
  void StopTryEffect(const StopTry& stop);
  Status RescanDags();
  Status ApplyDagChanges(const dag::FolderChanges& changes);
  // Loads the active runs of the DAGs `take` says yes to, adopts their tries and recovers them
  // (RecoverRuns for just those runs).
  Status LoadActiveRuns(const std::function<bool(const std::string&)>& take);
  // Whether `dag_id` is scheduled here (always, without partitions).
  bool Owns(const std::string& dag_id) const;
  // The folder's changes limited to the DAGs scheduled here.
  dag::FolderChanges Owned(dag::FolderChanges changes) const;
  // ChangePartitions on the loop thread.
  void TakePartitions(const std::map<int, int64_t>& gained, const std::set<int>& dropped,
                      const std::function<void()>& done);
  // Forgets the DAGs, runs and live tries of these partitions (their tries keep running).
  void Forget(const std::set<int>& partitions);
  // Takes up the partitions of pending_takeup_ as a start would load them; on a failure they are
  // forgotten again and tried anew a second later.
  void TakeUpPending();
  Status SaveHandleOnLoop(const TryKey& key, const nlohmann::json& handle);
  void RecoverTry(RunView& view, store::TaskInstance& ti);
  nlohmann::json TemplateContext(const RunView& view, const std::string& task, int try_number);
  // The prev_*_success values for a try of `spec` in run `r`, read from the store only when the
  // task references them (as Airflow reads them lazily); an empty object when it does not.
  Result<nlohmann::json> PreviousSuccessValues(const store::DagRun& r, const dag::TaskSpec& spec);
  std::shared_ptr<TryContext> MakeContext(const RunView& view, const dag::TaskSpec& spec,
                                          const store::TaskInstance& ti, nlohmann::json fields,
                                          std::map<std::string, std::string> env);
  void RunLoop();
  bool OnLoopThread() const;

  operators::Services* services_;
  const operators::TaskTypeRegistry* registry_;
  SchedulerOptions options_;
  dag::DagFolder folder_;
  Snapshot snapshot_;
  RunKeySource keys_{0};
  std::optional<Time> next_wakeup_;
  Time next_rescan_{};
  std::map<TryKey, std::shared_ptr<TryContext>> live_;
  std::function<void(const store::DagRun&)> run_finished_;
  std::function<void(const std::vector<dag::LoadedFile>&)> dags_loaded_;
  std::function<void(std::chrono::microseconds)> pass_observer_;
  int64_t commits_ = 0;
  std::atomic<int64_t> listing_changes_{0};
  std::vector<Event> retry_events_;  // events whose commit failed; retried on the next tick
  // Runs whose snapshot view is not the store's (a failed group commit whose re-read failed
  // too): events for them wait in retry_events_ until ReloadRuns succeeds.
  std::set<int64_t> stale_runs_;
  // Set (loop thread) while a launch batch collects its tries' handles.
  std::vector<PendingStart>* launch_batch_ = nullptr;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Queued> queue_;
  bool stopping_ = false;
  std::thread::id loop_thread_;
  std::thread thread_;
  std::shared_ptr<Link> link_ = std::make_shared<Link>(this);

  // Several partitions: the ones held (loop thread writes; any thread reads under owned_mu_).
  mutable std::mutex owned_mu_;
  std::map<int, int64_t> owned_;
  // Loop thread: held (and fenced) but not loaded yet, taken up again at takeup_retry_at_.
  std::map<int, int64_t> pending_takeup_;
  Time takeup_retry_at_{};
};

}  // namespace sp::scheduler
