// Runtime: the objects a command needs (config, clock, logger, store, process supervisor, task
// types), built once per invocation and torn down in reverse order.
#pragma once

#include <memory>

#include "cli/config.h"
#include "common/clock.h"
#include "common/log.h"
#include "executor/process.h"
#include "operators/registry.h"
#include "store/store.h"

namespace sp::cli {

struct Runtime {
  Config config;
  RealClock clock;
  std::unique_ptr<Logger> logger;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<executor::ProcessSupervisor> processes;
  operators::Services services;
  std::unique_ptr<operators::TaskTypeRegistry> registry;
};

// Who owns the local clusters a runtime starts (their guards watch it, clusters/lifetime.h).
enum class ClusterOwner {
  kThisProcess,  // a command: the clusters go when this process is gone
  kServerLock,   // the server: they go when no process holds its lock (a restart keeps them)
};

// Resolves config, creates the data directories and opens the store.
// `fence_epoch`: the scheduler lease this process holds on a PostgreSQL store (0: none); the
// store refuses commits once another instance has taken the lease (Store::FenceWrites), from
// before the task types (which may write, e.g. warm pools) exist.
Result<std::unique_ptr<Runtime>> OpenRuntime(const ConfigFlags& flags,
                                             ClusterOwner owner = ClusterOwner::kThisProcess,
                                             int64_t fence_epoch = 0);

}  // namespace sp::cli
