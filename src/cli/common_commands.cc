// Helpers shared by the subcommands: errors, the command path to the server, run lookup and
// formatting.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <thread>

#include "api/control_socket.h"
#include "cli/commands.h"
#include "common/json_limits.h"
#include "dag/ids.h"
#include "scheduler/scheduler.h"
#include "store/open.h"
#include "store/postgres/command_relay.h"

namespace sp::cli {

int Fail(const Status& s) {
  return Fail(s.message());
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "sparkplane: error: %s\n", message.c_str());
  return 1;
}

namespace {

// How long a relayed command waits for the active scheduler.
constexpr std::chrono::seconds kRelayWait{60};

}  // namespace

Result<nlohmann::json> RunCommand(Runtime& rt, const nlohmann::json& request) {
  // The server, else the lock to apply the command here. Neither at once means a server is
  // starting (lock taken, socket not yet bound) or another command holds the lock for a moment:
  // both pass, so ask again for a while before calling the server unresponsive.
  const auto deadline = std::chrono::steady_clock::now() + kLockWait;
  int lock = -1;
  for (;;) {
    Result<nlohmann::json> sent =
        api::SendControlRequest(rt.config.SocketPath(), request, Millis(60000));
    if (sent.ok() || sent.status().code() != StatusCode::kUnavailable) return sent;
    lock = ::open(rt.config.LockPath().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0) {
      return UnavailableError("cannot open " + rt.config.LockPath() + ": " + std::strerror(errno));
    }
    if (::flock(lock, LOCK_EX | LOCK_NB) == 0) break;
    ::close(lock);
    if (std::chrono::steady_clock::now() >= deadline) {
      return UnavailableError("a server holds " + rt.config.LockPath() +
                              " but does not answer on " + rt.config.SocketPath());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // No server: apply the command here, holding the server lock so none starts meanwhile (on
  // SQLite). On a PostgreSQL store a server elsewhere may be active: then only it may write, and
  // the command is relayed to it through the database.
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  Result<std::unique_ptr<store::postgres::SchedulerLease>> lease = store::RegisterScheduler(
      rt.config.StoreLocation(), std::string(host) + " (command)", rt.config.failover_timeout);
  Status leased = lease.status();
  std::map<int, int64_t> held;  // read before the keeper's thread may touch the lease
  if (leased.ok() && *lease) {
    // On PostgreSQL the scheduler lease, not this lock, keeps a server from deciding beside the
    // command (one started meanwhile waits as a standby): let go of the lock, so that a command
    // relayed for up to kRelayWait holds up neither other commands nor a server's start here.
    ::close(lock);
    lock = -1;
    // Several active schedulers: the command goes to the holder of its DAG's partition.
    Result<scheduler::Event> event = api::ParseControlRequest(request);
    Result<std::optional<std::string>> dag =
        event.ok() ? scheduler::CommandDag(*event, *rt.store)
                   : Result<std::optional<std::string>>(event.status());
    if (!dag.ok()) {
      (*lease)->Release();  // registered for nothing: marked stopped, not left looking gone
      if (!event.ok()) return api::ControlResponse(event.status());
      return dag.status();
    }
    const int partition = *dag ? dag::PartitionOf(**dag, (*lease)->partitions()) : 1;
    Result<store::StoreLocation> where = store::ParseStoreLocation(rt.config.StoreLocation());
    Result<std::optional<nlohmann::json>> relayed =
        where.ok() ? store::postgres::RelayOrTakeLease(
                         **lease, where->target, request,
                         std::string(host) + " (pid " + std::to_string(::getpid()) + ")",
                         kRelayWait, partition)
                   : Result<std::optional<nlohmann::json>>(where.status());
    if (!relayed.ok() || *relayed) {
      (*lease)->Release();
      if (!relayed.ok()) return relayed.status();
      return std::move(**relayed);
    }
    // No scheduler acts on it: this command holds the lease (or its DAG's partition). Retention
    // (no DAG of its own) covers every DAG, so it needs every partition.
    const bool retention = std::holds_alternative<scheduler::PruneRuns>(*event);
    for (int p = 2; retention && p <= (*lease)->partitions(); ++p) {
      Result<bool> taken = (*lease)->TryAcquire(p);
      if (!taken.ok() || !*taken) {
        (*lease)->Release();
        if (!taken.ok()) return taken.status();
        return FailedPreconditionError(
            "scheduler partition " + std::to_string(p) +
            " is held by a running server: the servers apply their own `retention` setting; "
            "run this where none runs");
      }
    }
    held = (*lease)->held();
    rt.store->FencePartitions(held);
  }
  // While the command runs, the lease's session must not look frozen to a standby.
  std::unique_ptr<store::postgres::LeaseKeeper> keeper;
  if (leased.ok() && *lease) {
    keeper = std::make_unique<store::postgres::LeaseKeeper>(
        lease->get(), [](const Status&) {}, [](const std::string&) {});
  }
  if (!leased.ok()) {
    if (lock >= 0) ::close(lock);
    return leased;
  }
  scheduler::SchedulerOptions opts;
  opts.dags_folder = rt.config.dags_folder;
  opts.parallelism = 0;  // offline: decide and record, never launch
  opts.create_scheduled_runs = false;
  opts.recover_tries = false;
  const bool partitioned = *lease && (*lease)->partitions() > 1;
  if (partitioned) opts.partitions = (*lease)->partitions();
  rt.logger = std::make_unique<Logger>(rt.clock, LogLevel::kError);
  rt.services.logger = rt.logger.get();
  scheduler::Scheduler sched(&rt.services, rt.registry.get(), opts);
  if (partitioned) sched.SetPartitions(held);
  Result<nlohmann::json> out = nlohmann::json();
  Status started = sched.Start();
  if (!started.ok()) {
    out = started;
  } else {
    Result<scheduler::Event> ev = api::ParseControlRequest(request);
    out = ev.ok() ? api::ControlResponse(sched.Execute(*ev)) : api::ControlResponse(ev.status());
  }
  keeper.reset();
  if (*lease) (*lease)->Release();
  if (lock >= 0) ::close(lock);
  return out;
}

Result<std::string> ReadPasswordLine() {
  std::string line;
  if (!std::getline(std::cin, line) || line.empty()) {
    return InvalidArgumentError("--password-stdin: standard input held no password");
  }
  if (line.back() == '\r') line.pop_back();
  return line;
}

Result<store::DagRun> ResolveRun(store::Store& store, const std::vector<std::string>& args) {
  if (args.size() == 1) {
    char* end = nullptr;
    long long key = std::strtoll(args[0].c_str(), &end, 10);
    if (*end != '\0' || key <= 0) {
      return InvalidArgumentError("expected a run KEY (a number) or DAG_ID RUN_ID; got '" +
                                  args[0] + "'");
    }
    ASSIGN_OR_RETURN(std::optional<store::DagRun> r, store.GetRun(key));
    if (!r) return NotFoundError("no run with key " + args[0]);
    return *r;
  }
  if (args.size() != 2) return InvalidArgumentError("expected KEY or DAG_ID RUN_ID");
  if (args[1] == "latest") {
    store::RunFilter f;
    f.dag_id = args[0];
    f.limit = 1;
    ASSIGN_OR_RETURN(std::vector<store::DagRun> runs, store.ListRuns(f));
    if (runs.empty()) return NotFoundError("DAG '" + args[0] + "' has no runs");
    return runs[0];
  }
  // DAG_ID KEY: run ids are never all digits (dag/ids.h), so a number is a run key.
  if (!args[1].empty() && args[1].size() < 19 &&
      std::all_of(args[1].begin(), args[1].end(), [](char c) { return c >= '0' && c <= '9'; })) {
    ASSIGN_OR_RETURN(std::optional<store::DagRun> r, store.GetRun(std::stoll(args[1])));
    if (!r || r->dag_id != args[0]) {
      return NotFoundError("DAG '" + args[0] + "' has no run with key " + args[1]);
    }
    return *r;
  }
  ASSIGN_OR_RETURN(std::optional<store::DagRun> r, store.FindRun(args[0], args[1]));
  if (!r) return NotFoundError("DAG '" + args[0] + "' has no run '" + args[1] + "'");
  return *r;
}

std::string FormatOptionalTime(const std::optional<Time>& t) {
  return t ? FormatTime(*t) : "-";
}

std::string FormatDurationBetween(const std::optional<Time>& a, const std::optional<Time>& b) {
  if (!a || !b) return "-";
  Millis d = *b - *a;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(d.count()) / 1000.0);
  return buf;
}

Result<nlohmann::json> ParseConf(const std::string& conf) {
  if (conf.empty()) return nlohmann::json::object();
  Result<nlohmann::json> j = ParseJsonBounded(conf);
  if (!j.ok()) return InvalidArgumentError("--conf: " + j.status().message());
  if (!j->is_object()) {
    return InvalidArgumentError("--conf must be a JSON object, e.g. '{\"rows\": 100}'; got " +
                                conf);
  }
  return j;
}

}  // namespace sp::cli
