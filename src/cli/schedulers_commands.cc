// `sparkplane schedulers list`: the scheduler instances registered on a PostgreSQL store, which
// one is active (holds the lease), their heartbeats (ages on the database's clock), and what the
// active one holds (runs in flight, their queued or running tries, clusters not deleted, and the
// relayed commands waiting for it); with several partitions, the partitions each one holds and
// the runs, tries and clusters of their DAGs.
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "cli/table.h"
#include "common/join.h"
#include "scheduler/scheduler.h"
#include "store/open.h"
#include "store/postgres/lease.h"

namespace sp::cli {

int SchedulersList(const GlobalOptions& g, bool all) {
  Result<Config> config = ResolveConfig(g.config);
  if (!config.ok()) return Fail(config.status());
  Result<store::StoreLocation> where = store::ParseStoreLocation(config->StoreLocation());
  if (!where.ok()) return Fail(where.status());
  if (where->kind != store::StoreLocation::Kind::kPostgres) {
    return Fail(
        "schedulers: the store is SQLite, where one server runs per data directory; "
        "several schedulers share a PostgreSQL store (--store postgresql://...)");
  }
  Result<std::vector<store::postgres::SchedulerInstance>> list =
      store::postgres::ListSchedulers(where->target);
  if (!list.ok()) return Fail(list.status());
  Result<store::postgres::SchedulerHoldings> holdings =
      store::postgres::CountHoldings(where->target);
  if (!holdings.ok()) return Fail(holdings.status());
  // Several partitions: what each instance holds, counted by partition.
  std::map<int, scheduler::PartitionHoldings> by_partition;
  if (!list->empty() && list->front().of > 1) {
    Result<std::unique_ptr<store::Store>> reads = store::OpenStore(config->StoreLocation());
    if (!reads.ok()) return Fail(reads.status());
    Result<std::map<int, scheduler::PartitionHoldings>> counted =
        scheduler::HoldingsByPartition(**reads, list->front().of);
    if (!counted.ok()) return Fail(counted.status());
    by_partition = std::move(*counted);
  }
  nlohmann::json out = nlohmann::json::array();
  Table table({"INSTANCE", "HOST", "PID", "ROLE", "STARTED", "HEARTBEAT", "HOLDS"});
  for (const store::postgres::SchedulerInstance& s : *list) {
    if ((s.stopped_at_ms || !s.connected) && !all) continue;
    // Without an open session it was killed, frozen past the session timeout, or cut off.
    std::string role = s.active          ? "active"
                       : s.stopped_at_ms ? "stopped"
                       : !s.connected    ? "gone"
                       : !s.serves       ? "command"
                                         : "standby";
    std::string started = FormatTime(FromUnixMillis(s.started_at_ms));
    nlohmann::json holds = nullptr;
    std::string holds_text = "-";
    if (s.active && s.of > 1) {
      // Several schedulers: each holds the DAGs of its partitions.
      scheduler::PartitionHoldings sum;
      for (int p : s.partitions) {
        const scheduler::PartitionHoldings& h = by_partition[p];
        sum.runs += h.runs;
        sum.tries += h.tries;
        sum.clusters += h.clusters;
      }
      holds = {{"partitions", s.partitions},
               {"runs", sum.runs},
               {"tries", sum.tries},
               {"clusters", sum.clusters}};
      holds_text = "partitions " + JoinNumbers(s.partitions) + ": " + std::to_string(sum.runs) +
                   " runs, " + std::to_string(sum.tries) + " tries, " +
                   std::to_string(sum.clusters) + " clusters";
    } else if (s.active) {
      holds = {{"runs", holdings->runs},
               {"tries", holdings->tries},
               {"clusters", holdings->clusters},
               {"commands", holdings->commands}};
      holds_text = std::to_string(holdings->runs) + " runs, " + std::to_string(holdings->tries) +
                   " tries, " + std::to_string(holdings->clusters) + " clusters";
      if (holdings->commands > 0) {
        holds_text += ", " + std::to_string(holdings->commands) + " relayed commands waiting";
      }
    }
    out.push_back({{"instance", s.id},
                   {"host", s.host},
                   {"pid", s.pid},
                   {"role", role},
                   {"started_at", started},
                   {"heartbeat_age_ms", s.heartbeat_age_ms},
                   {"holds", holds}});
    table.Add({std::to_string(s.id), s.host, std::to_string(s.pid), role, started,
               std::to_string(s.heartbeat_age_ms / 1000) + "s ago", holds_text});
  }
  if (g.json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    table.Print();
  }
  return 0;
}

}  // namespace sp::cli
