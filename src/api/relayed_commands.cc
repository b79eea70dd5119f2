// RelayedCommandPump (see relayed_commands.h).
#include "api/relayed_commands.h"

#include <chrono>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "api/control_socket.h"
#include "common/json_limits.h"

namespace sp::api {

RelayedCommandPump::RelayedCommandPump(std::unique_ptr<store::postgres::CommandInbox> inbox,
                                       scheduler::Scheduler* scheduler, store::Store* store,
                                       Logger* logger)
    : inbox_(std::move(inbox)),
      scheduler_(scheduler),
      store_(store),
      logger_(logger),
      thread_([this] { Run(); }) {}

RelayedCommandPump::~RelayedCommandPump() {
  stopping_.store(true);
  thread_.join();
}

void RelayedCommandPump::Run() {
  while (!stopping_.load()) {
    Result<std::vector<store::postgres::RelayedCommand>> pending =
        inbox_->Pending(100, scheduler_->Partitions());
    if (pending.ok()) {
      for (const store::postgres::RelayedCommand& command : *pending) {
        bool handled = false;
        try {
          handled = Handle(command);
        } catch (const std::exception& e) {
          // A bug; the command stays pending (and expires) rather than ending the server.
          logger_->Error("relay",
                         "relayed command " + std::to_string(command.id) + ": " + e.what());
        }
        if (stopping_.load() || !handled) break;
      }
    }
    // Woken by the next command's NOTIFY, else a second later (a lost session, a missed
    // notification); an unreachable store is not polled faster than that.
    Result<bool> woken = inbox_->AwaitCommand(std::chrono::milliseconds(1000));
    if (!woken.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  }
}

bool RelayedCommandPump::Handle(const store::postgres::RelayedCommand& command) {
  const std::string what =
      "relayed command " + std::to_string(command.id) + " from " + command.sender;
  Result<nlohmann::json> request = ParseJsonBounded(command.request);
  Result<scheduler::Event> event =
      request.ok() ? ParseControlRequest(*request) : Result<scheduler::Event>(request.status());
  Result<scheduler::CommandResult> result = event.status();
  if (event.ok() && std::holds_alternative<scheduler::PruneRuns>(*event)) {
    // Retention commits in batches, so its answer could not be its decision's: a sender that
    // gave up would be told "not applied" of a prune under way. The active server applies its
    // own `retention` setting.
    result = FailedPreconditionError(
        "retention is not relayed to the active scheduler: it applies its own `retention` "
        "setting; run `sparkplane db clean` where it runs");
  } else if (event.ok()) {
    result = scheduler_->SubmitRelayed(
        std::move(*event), command.id,
        [](const scheduler::CommandResult& r) { return ControlResponse(r).dump(); });
    if (result.ok()) return true;  // answered by the commit
  }
  const StatusCode code = result.ok() ? StatusCode::kOk : result.status().code();
  if (code == StatusCode::kUnavailable || code == StatusCode::kAborted) {
    logger_->Warn("relay", what + " stays pending: " + result.status().ToString());
    return false;
  }
  // A refusal commits nothing: its answer is a commit of its own, fenced like the scheduler's,
  // so a scheduler that lost its lease (whose decisions fail FailedPrecondition too) leaves the
  // command to the one that took over.
  store::Mutation answer;
  answer.command_answer =
      store::Mutation::CommandAnswer{command.id, ControlResponse(result).dump()};
  Status answered = store_->Commit(answer);
  if (!answered.ok()) {
    logger_->Warn("relay", "cannot answer " + what + ": " + answered.ToString());
    return false;
  }
  return true;
}

}  // namespace sp::api
