// CommandRouter: where a command given to a server (its control socket, the HTTP API) is decided.
// This server's loop decides it, unless several schedulers act on one PostgreSQL store
// (`scheduler_partitions` above 1) and another one holds the partition of the command's DAG: then
// the command is relayed to that one through the database (store/postgres/command_relay.h) and
// its answer returned, as a command given where no scheduler runs is. A command whose partition
// changes hands meanwhile is routed once more.
//
// Thread safety: Submit may be called from several threads at once (each relay has a session of
// its own).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"
#include "scheduler/scheduler.h"
#include "store/store.h"

namespace sp::api {

class CommandRouter {
 public:
  // How long a relayed command waits for its answer before it is withdrawn.
  static constexpr std::chrono::milliseconds kRelayWait{60000};

  // `relay_url`: the PostgreSQL store's URL when DAGs are partitioned among several schedulers;
  // empty: this scheduler decides every command. `reads`: a store to look runs up in.
  CommandRouter(scheduler::Scheduler* scheduler, store::Store* reads, std::string relay_url,
                std::string sender);

  // Decides the control request `request` (ParseControlRequest) here or where its DAG is held.
  Result<scheduler::CommandResult> Submit(const nlohmann::json& request);

 private:
  Result<scheduler::CommandResult> Relay(const nlohmann::json& request, int partition);

  scheduler::Scheduler* scheduler_;
  store::Store* reads_;
  std::string relay_url_;
  std::string sender_;
};

// The CommandResult a ControlResponse answer carries (a relayed command's answer).
Result<scheduler::CommandResult> CommandResultOf(const nlohmann::json& answer);

}  // namespace sp::api
