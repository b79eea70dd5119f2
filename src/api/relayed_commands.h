// RelayedCommandPump: the active scheduler's end of commands relayed through a PostgreSQL store
// (store/postgres/command_relay.h): `sparkplane dags trigger` and the other commands given
// where no scheduler acts on that store.
//
// A thread of its own waits for a NOTIFY on the inbox's session (or a second: a notification is
// a hint), reads the pending commands oldest first and decides each on the scheduler's loop, as
// the control socket does: the request is parsed by ParseControlRequest and answered with
// ControlResponse. A decision that commits answers its command in the same transaction
// (Scheduler::SubmitRelayed); one that is refused commits nothing and is answered here, through
// the scheduler's own fenced store (a scheduler that lost its lease answers nothing). A command
// the scheduler could not decide now (the store unavailable, this scheduler fenced or stopping)
// stays pending: the next pass, or the next active scheduler, takes it, until it expires.
// Retention (`db clean`) is refused: it commits in batches, so it could not be answered by its
// decision's commit, and the active server applies its own `retention` setting.
//
// Thread safety: the constructor starts the thread; the destructor stops and joins it (within
// a second).
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "common/log.h"
#include "scheduler/scheduler.h"
#include "store/postgres/command_relay.h"
#include "store/store.h"

namespace sp::api {

class RelayedCommandPump {
 public:
  // `store` is the scheduler's (fenced) store.
  RelayedCommandPump(std::unique_ptr<store::postgres::CommandInbox> inbox,
                     scheduler::Scheduler* scheduler, store::Store* store, Logger* logger);
  ~RelayedCommandPump();
  RelayedCommandPump(const RelayedCommandPump&) = delete;
  RelayedCommandPump& operator=(const RelayedCommandPump&) = delete;

 private:
  void Run();
  // Decides one command; false when it stays pending (try again on the next pass).
  bool Handle(const store::postgres::RelayedCommand& command);

  std::unique_ptr<store::postgres::CommandInbox> inbox_;
  scheduler::Scheduler* scheduler_;
  store::Store* store_;
  Logger* logger_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace sp::api
