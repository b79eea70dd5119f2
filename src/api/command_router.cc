// CommandRouter (see command_router.h).
#include "api/command_router.h"

#include <utility>

#include "api/control_socket.h"
#include "store/postgres/command_relay.h"

namespace sp::api {

CommandRouter::CommandRouter(scheduler::Scheduler* scheduler, store::Store* reads,
                             std::string relay_url, std::string sender)
    : scheduler_(scheduler),
      reads_(reads),
      relay_url_(std::move(relay_url)),
      sender_(std::move(sender)) {}

Result<scheduler::CommandResult> CommandRouter::Submit(const nlohmann::json& request) {
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(scheduler::Event event, ParseControlRequest(request));
    if (relay_url_.empty()) return scheduler_->Submit(std::move(event));
    ASSIGN_OR_RETURN(std::optional<std::string> dag, scheduler::CommandDag(event, *reads_));
    const int elsewhere = dag ? scheduler_->PartitionElsewhere(*dag) : 0;
    Result<scheduler::CommandResult> done =
        elsewhere == 0 ? scheduler_->Submit(std::move(event)) : Relay(request, elsewhere);
    // Given up (or taken up) between the look and the decision: route it once more.
    if (done.ok() || attempt > 0 || done.status().code() != StatusCode::kUnavailable ||
        done.status().message().find("is scheduled by the holder of partition") ==
            std::string::npos) {
      return done;
    }
  }
}

Result<scheduler::CommandResult> CommandRouter::Relay(const nlohmann::json& request,
                                                      int partition) {
  using store::postgres::CommandRelay;
  ASSIGN_OR_RETURN(std::unique_ptr<CommandRelay> relay, CommandRelay::Open(relay_url_));
  ASSIGN_OR_RETURN(int64_t id, relay->Send(request, sender_, kRelayWait, partition));
  Result<std::optional<nlohmann::json>> answer = relay->AwaitAnswer(id, kRelayWait);
  if (answer.ok() && *answer) return CommandResultOf(**answer);
  // Not answered in time (or the wait failed): take it back unless it was answered meanwhile.
  Result<bool> withdrawn = relay->Withdraw(id);
  if (withdrawn.ok() && !*withdrawn) {
    ASSIGN_OR_RETURN(std::optional<nlohmann::json> late,
                     relay->AwaitAnswer(id, std::chrono::milliseconds(0)));
    if (late) return CommandResultOf(*late);
  }
  if (!withdrawn.ok()) {
    return withdrawn.status().With("withdraw relayed command " + std::to_string(id) +
                                   " (it may still be applied: see `sparkplane runs list`)");
  }
  if (!answer.ok()) return answer.status().With("relayed command " + std::to_string(id));
  return UnavailableError("no scheduler holding partition " + std::to_string(partition) +
                          " took the command within " + std::to_string(kRelayWait.count() / 1000) +
                          " s; it was withdrawn and not applied");
}

Result<scheduler::CommandResult> CommandResultOf(const nlohmann::json& answer) {
  if (!answer.is_object()) return InternalError("a relayed command's answer is not an object");
  if (!answer.value("ok", false)) {
    const std::string name = answer.value("code", "INTERNAL");
    StatusCode code = StatusCode::kInternal;
    for (int c = 0; c <= static_cast<int>(StatusCode::kInternal); ++c) {
      if (name == StatusCodeName(static_cast<StatusCode>(c))) code = static_cast<StatusCode>(c);
    }
    return Status(code, answer.value("error", std::string("the command failed")));
  }
  scheduler::CommandResult result;
  if (const auto it = answer.find("created_runs"); it != answer.end() && it->is_array()) {
    for (const nlohmann::json& key : *it) {
      if (key.is_number_integer()) result.created_runs.push_back(key.get<int64_t>());
    }
  }
  return result;
}

}  // namespace sp::api
