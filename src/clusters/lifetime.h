// The guard of a local cluster: a small process, started with the cluster and detached from the
// process that started it (its own session; not that process's child), that deletes the
// cluster when it must not live on, even when no scheduler runs any more:
//   - at its deadline (max_age after creation);
//   - after its idle timeout: the master has reported no running application for that long
//     since the cluster was ready (asked every poll through its web UI's /json/; a master that
//     does not answer changes nothing);
//   - when its owner has been gone for the owner grace: the owner is the process holding the
//     server's lock file (a restarted server takes the lock again within the grace, and the
//     guard goes on), or, for a cluster made by a CLI command, that process (pid + start time).
// The lifetime in the handle file, when it holds one, wins over the flags (a pooled cluster
// takes the lifetime of the run that takes it); so does its `owner_lock` (a server that took over
// the cluster's run, with another lock file: LocalClusterBackend::Adopt). It also cleans up after
// daemons that all died. It reads what to stop from the cluster's handle file (<dir>/handle.json,
// the handle the backend last made durable), so daemons added by a scale are stopped too; it ends
// by itself when that file is gone (the cluster was deleted normally). A deletion by the guard
// stops the daemons (SIGTERM, SIGKILL after the grace), keeps their logs, removes the handle file
// and writes <dir>/guard.log with the reason; the server's reaper marks the record deleted later.
//
// Started as `<guard_command...> -- --handle-file F [--deadline-ms T] [--idle-timeout-ms D]
// [--lock L | --owner-pid P --owner-start S] --grace-ms G` (GuardArgs); the CLI parses those
// flags back (ParseGuardArgs) and calls RunGuard. StartGuard double-forks so the guard is
// adopted by init and never left a zombie of the server.
#pragma once

#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "clusters/cluster_backend.h"
#include "common/clock.h"
#include "common/status.h"
#include "executor/process.h"
#include "spark/local_cluster.h"

namespace sp::clusters {

struct GuardOptions {
  std::string handle_file;
  Lifetime lifetime;
  std::string owner_lock;                        // "" : `owner` is the owner
  std::optional<executor::ProcessHandle> owner;  // when there is no lock
  Millis owner_grace{30000};
  Millis poll{1000};
  Millis stop_grace{10000};
};

// The arguments that follow the guard command.
std::vector<std::string> GuardArgs(const GuardOptions& options);
// Parses GuardArgs' output; InvalidArgument naming the bad flag.
Result<GuardOptions> ParseGuardArgs(const std::vector<std::string>& args);

// Starts `command` + GuardArgs(options) detached (see the header comment) and returns once it
// runs. The guard's stdout and stderr go to `log_file`.
Status StartGuard(const std::vector<std::string>& command, const GuardOptions& options,
                  const std::string& log_file);

// The guard command's first step: forks; the calling process exits (0) once the child runs in
// a session of its own with stdout and stderr appended to `log_file` and stdin on /dev/null;
// returns in that child. An error (the log cannot be opened, fork fails) returns in the caller.
Status DetachGuard(const std::string& log_file);

// Watches until the cluster is deleted normally (the handle file is gone: returns "") or must
// go (deletes it and returns the reason), or `stop`.
Result<std::string> RunGuard(const GuardOptions& options, const Clock& clock,
                             std::stop_token stop = {});

// True when the handle names at least one daemon and every one it names has exited (pid +
// start time), as the guard and LocalClusterBackend::Running judge a cluster gone.
bool DaemonsGone(const spark::LocalClusterHandle& handle);

// The handle file's key for the lock file of the server that answers for the cluster now.
inline constexpr char kOwnerLockKey[] = "owner_lock";

// The handle file of a cluster dir, and writing it (0600, atomically).
std::string HandleFile(const std::string& cluster_dir);
Status WriteHandleFile(const std::string& path, const nlohmann::json& handle);

}  // namespace sp::clusters
