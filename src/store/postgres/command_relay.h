// Relayed commands: a command (trigger, pause, clear, ...) given on a PostgreSQL store where no
// scheduler acts (the CLI on a standby's pod, another machine) reaches the active scheduler
// through the database instead of being refused.
//
// The sender inserts the control request into `relayed_commands` and NOTIFYs
// `sparkplane_commands`; the active scheduler's CommandInbox LISTENs there, reads the pending
// commands and decides each on its loop. A decision's commit marks its command done with the
// answer (Mutation::command_answer), so a command is applied once or not at all, whatever
// crashes in between: a command the active scheduler died on stays pending for the next one.
// The answer NOTIFYs `sparkplane_answers`. A sender that gives up withdraws its command
// (pending -> withdrawn), and a command expires when its sender's wait is over (database clock),
// even if the sender died meanwhile: a commit that would answer a withdrawn or expired command
// fails whole, so such a command is never applied. Notifications are hints: both sides also read
// the table once a second.
//
// Thread safety: none; each object is used by one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/postgres/connection.h"
#include "store/postgres/lease.h"

namespace sp::store::postgres {

struct RelayedCommand {
  int64_t id = 0;
  std::string request;  // the control request, JSON text as sent
  std::string sender;
};

// The sender's side, on a session of its own.
class CommandRelay {
 public:
  static Result<std::unique_ptr<CommandRelay>> Open(const std::string& url);

  // Queues `request` for the holder of `partition` (the active scheduler, or with several
  // partitions the one scheduling the command's DAG) and wakes it; returns the command's id. The
  // command expires `ttl` after it was queued. Answered or expired commands older than a day are
  // forgotten here.
  Result<int64_t> Send(const nlohmann::json& request, const std::string& sender,
                       std::chrono::milliseconds ttl, int partition = 1);
  // Waits up to `timeout` for the answer of command `id`; nullopt while it is still pending.
  Result<std::optional<nlohmann::json>> AwaitAnswer(int64_t id, std::chrono::milliseconds timeout);
  // Takes command `id` back: true when it was still pending (it will never be applied), false
  // when it was answered meanwhile (read the answer with AwaitAnswer).
  Result<bool> Withdraw(int64_t id);

 private:
  explicit CommandRelay(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}
  std::unique_ptr<Connection> conn_;
};

// On a PostgreSQL store with a scheduler lease registered for this command (`lease`, not held):
// takes the lease (nullopt: no scheduler acts; the caller applies the command itself under the
// lease), or relays `request` to the active scheduler and returns its answer. While the command
// waits, the lease is tried once a second: if the active scheduler is gone with no one to take
// over, the command is withdrawn and nullopt returned with the lease held. A store that is away
// for a moment is waited for. Unavailable when no answer came within `wait` (the command is
// withdrawn: it was not applied); an error that is not transient withdraws it too. With several
// partitions, `partition` is the command's DAG's: its holder, or the caller taking it, applies it.
Result<std::optional<nlohmann::json>> RelayOrTakeLease(
    SchedulerLease& lease, const std::string& url, const nlohmann::json& request,
    const std::string& sender, std::chrono::milliseconds wait, int partition = 1);

// The active scheduler's side, on a session of its own.
class CommandInbox {
 public:
  static Result<std::unique_ptr<CommandInbox>> Open(const std::string& url);

  // The pending commands for these partitions that have not expired, oldest first (at most
  // `limit`).
  Result<std::vector<RelayedCommand>> Pending(int limit, const std::set<int>& partitions = {1});
  // Waits up to `timeout` for a new command's notification; true when one came. Answers go
  // through the scheduler's fenced Store::Commit (Mutation::command_answer), never through here.
  Result<bool> AwaitCommand(std::chrono::milliseconds timeout);

 private:
  explicit CommandInbox(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}
  std::unique_ptr<Connection> conn_;
};

}  // namespace sp::store::postgres
