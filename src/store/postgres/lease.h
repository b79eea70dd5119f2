// SchedulerLease: at most one scheduler acts on a PostgreSQL store at a time, and a standby takes
// over within seconds when it dies or freezes — with every write of the one it replaced refused.
//
// Each `sparkplane server` on the database registers an instance row (`schedulers`) and keeps a
// session of its own. The active one holds a session advisory lock on it: a kill -9 ends the
// session at once, and `idle_session_timeout` (`failover_timeout`, 6 s by default; the holder
// heartbeats every second) ends the session of a frozen one (SIGSTOP, a paused VM), which
// releases the lock. A standby polls pg_try_advisory_lock; on success it increments the lease's
// epoch (the fencing token) in `scheduler_lease`. The store refuses any Commit whose transaction
// does not find its own epoch there (Store::FenceWrites), so a holder that wakes up after losing
// the lock cannot write; its heartbeat fails too and it exits, leaving its tries to the new holder
// to adopt. Heartbeats and ages use the database's clock, never a scheduler host's.
//
// Several active schedulers (`scheduler_partitions` above 1): every DAG belongs to one of that many
// partitions (dag::PartitionOf) and each partition is a lease of its own (a row of
// `scheduler_lease`, an advisory lock, an epoch). Servers share them out: each takes free ones up
// to its fair share (the partitions over the live servers, rounded up) and gives up those above
// it, so a server that joins gets some and a dead one's are taken within a second or two. One
// session holds all of an instance's locks, so a freeze or a kill loses them all at once: the
// instance then exits, as a single holder does. With one partition it is the single lease above.
//
// Thread safety: none; one thread (the server's lease thread) uses a SchedulerLease.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "store/postgres/connection.h"

namespace sp::store::postgres {

struct SchedulerInstance {
  int64_t id = 0;
  bool serves = true;  // a server (false: a command applied without one)
  std::string host;
  int pid = 0;
  int64_t started_at_ms = 0;  // unix milliseconds, database clock
  int64_t heartbeat_age_ms = 0;
  bool active = false;          // holds the lease (or a partition) now
  std::vector<int> partitions;  // the partitions it holds (several schedulers)
  int of = 1;                   // how many partitions the database has
  bool connected = false;       // its session is open (else it was killed, frozen past the timeout,
                                // or cut off)
  std::optional<int64_t> stopped_at_ms;
};

// What the active scheduler holds (one decides at a time, so it holds all of it): runs queued or
// running, their task instances queued or running, clusters not deleted, and the commands relayed
// to it that it has not answered yet (store/postgres/command_relay.h).
struct SchedulerHoldings {
  int64_t runs = 0;
  int64_t tries = 0;
  int64_t clusters = 0;
  int64_t commands = 0;
};

class SchedulerLease {
 public:
  // How long the holder's session may stay silent (frozen, cut off) before PostgreSQL ends it
  // and a standby may take over: `failover_timeout` in the configuration.
  static constexpr std::chrono::milliseconds kDefaultFailoverTimeout{6000};
  static constexpr std::chrono::milliseconds kMinFailoverTimeout{6000};
  static constexpr int kMaxPartitions = 64;

  // Registers this process as a scheduler instance on the (migrated) database at `url`; while it
  // holds the lease, its session ends after `failover_timeout` without a command. As a standby,
  // it gives a holder whose session a PostgreSQL restart ended as long after the restart to take
  // its lease back. `partitions`: a server's `scheduler_partitions` (1 to kMaxPartitions); the
  // database is set up for that many when no scheduler holds any, else a different number is
  // refused. 0 (a command): as many as the database has. `serves`: a server (commands do not
  // count when the partitions are shared out).
  static Result<std::unique_ptr<SchedulerLease>> Register(
      const std::string& url, const std::string& host, int pid,
      std::chrono::milliseconds failover_timeout = kDefaultFailoverTimeout, int partitions = 1,
      bool serves = true);

  int64_t instance() const { return instance_; }
  // How many partitions the database has (1: a single scheduler lease).
  int partitions() const { return partitions_; }
  // The partitions this instance holds, each with its epoch (the fencing token).
  const std::map<int, int64_t>& held() const { return held_; }
  // The epoch this instance holds partition 1 (the single lease) at; 0 when it does not.
  int64_t epoch() const;

  // One attempt to take `partition` (1: the single lease, becoming the active scheduler); true
  // when it did (its epoch is then new).
  Result<bool> TryAcquire(int partition = 1);
  // "instance 3 on host h (pid 42)", the holder of `partition` for messages; "none" when no one
  // holds it.
  Result<std::string> DescribeHolder(int partition = 1);
  // Several partitions: takes free ones (their holder gone) up to this instance's fair share and
  // returns those it took, with their epochs.
  Result<std::map<int, int64_t>> TakeShare();
  // Several partitions: those held above the fair share (a server joined), to give up with
  // Give() once nothing of theirs is acted on any more.
  Result<std::set<int>> Surplus();
  // Lets go of these partitions (their holder is cleared; the next taker moves the epoch).
  Status Give(const std::set<int>& partitions);
  // Several partitions: from now on the other servers count this one in their fair shares
  // (called once this server can take partitions up, so none is given up for it before).
  Status StartSharing();
  // Refreshes this instance's heartbeat. For the holder: FailedPrecondition when another
  // instance holds the lease (stop acting at once); Unavailable when this session ended (a
  // PostgreSQL restart, a terminated session, a freeze past the timeout): try Reclaim().
  Status Heartbeat();
  // After Heartbeat() answered Unavailable: takes the lock again on a new session, and keeps the
  // lease only if no one took it over meanwhile (the epoch and holder are still ours). Ok: go on;
  // FailedPrecondition: another instance holds it, stop at once; Unavailable: try again later
  // (commits are fenced meanwhile, so going on is safe).
  Status Reclaim();
  // A clean stop: marks the instance stopped and releases the lease.
  void Release();

 private:
  SchedulerLease(std::unique_ptr<Connection> conn, std::chrono::milliseconds failover_timeout)
      : conn_(std::move(conn)), failover_timeout_(failover_timeout) {}
  // Makes the database hold `partitions` lease rows when no scheduler holds any.
  Status SetUpPartitions(int partitions);
  // TryAcquire once the lock is held: false (or an error) when it must not be kept.
  Result<bool> TakeOver(int partition);
  // Lets go of `partition`'s lock, however many times this session took it.
  void DropLock(int partition);
  // How many partitions this instance should hold: all of them over the live servers (this one
  // and the others that share, StartSharing), rounded up.
  Result<int> FairShare();

  std::unique_ptr<Connection> conn_;
  // Also how long after PostgreSQL's own start a holder whose session the restart ended may take
  // its lease back before this instance takes over.
  std::chrono::milliseconds failover_timeout_;
  int64_t instance_ = 0;
  int partitions_ = 1;
  std::map<int, int64_t> held_;
};

// How a server's partitions change hands with its scheduler loop (several partitions): the
// loop first stops acting on partitions it gives up, then the lease lets go of them.
class PartitionOwner {
 public:
  virtual ~PartitionOwner() = default;
  // Whether it takes changes now (partitions are shared out only then).
  virtual bool Ready() const = 0;
  // Take up these partitions (at these epochs) and give up `dropped`; `done` is called once the
  // dropped ones are no longer acted on (from any thread).
  virtual void ChangePartitions(std::map<int, int64_t> gained, std::set<int> dropped,
                                std::function<void()> done) = 0;
};

// LeaseKeeper: the holder's heartbeat, on a thread of its own from the moment the lease is
// taken (a server's start-up can outlast the session timeout). Every second it calls
// Heartbeat(); when the session ended (a PostgreSQL restart, a terminated session) it tries
// Reclaim(); once another instance holds the lease it calls `on_lost` (which must stop this
// process's acting at once: the server exits). Other failures (the database unreachable) are
// retried. AwaitValid() returns at once while the last heartbeat is recent (3 s) and otherwise
// waits for the next verdict: effects that must not follow a loss (starting a try) call it.
// With several partitions and an `owner`, each heartbeat also shares the partitions out
// (TakeShare, Surplus) once the owner is Ready(): gains and drops go to the owner, and a dropped
// partition's lock is let go of only once the owner said it is done with it. The owner is
// taken to act already on the partitions held when the keeper is made.
class LeaseKeeper {
 public:
  LeaseKeeper(SchedulerLease* lease, std::function<void(const Status&)> on_lost,
              std::function<void(const std::string&)> warn, PartitionOwner* owner = nullptr);
  ~LeaseKeeper();  // stops the heartbeat (then Release() the lease)
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  void AwaitValid();

 private:
  void Run();
  // One round of sharing the partitions out (keeper thread).
  void Rebalance();

  SchedulerLease* lease_;
  PartitionOwner* owner_;
  std::set<int> dropping_;                      // keeper thread: given to the owner to drop
  std::shared_ptr<std::atomic<bool>> dropped_;  // set by the owner's `done`
  std::set<int> told_;    // keeper thread: the partitions the owner acts on (or is taking up)
  bool sharing_ = false;  // keeper thread: StartSharing() done
  std::function<void(const Status&)> on_lost_;
  std::function<void(const std::string&)> warn_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                          // mu_
  std::chrono::steady_clock::time_point last_ok_;  // mu_
  std::thread thread_;
};

// Every registered instance, the active one first, then newest first (`sparkplane schedulers
// list`).
Result<std::vector<SchedulerInstance>> ListSchedulers(const std::string& url);

// What the active instance holds, counted in one statement (index scans: runs by state, then
// their task instances by primary key).
Result<SchedulerHoldings> CountHoldings(const std::string& url);

}  // namespace sp::store::postgres
