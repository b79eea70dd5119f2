// What the bash and spark_submit types share about tries they adopt from a saved handle: the
// files it names, whether to watch it, stopping such a try here or in another process space, and
// the words a try's log gets about it. Private to operators/. Header-only, stateless.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "executor/process.h"
#include "executor/try_files.h"
#include "operators/task_type.h"

namespace sp::operators::internal {

// The files the try's supervisor writes, as the saved handle names them: its exit record
// ("exit_record"; "" in handles saved before exit records existed) and its log ("log";
// `log_path`, the try's log as this server names it, in handles saved without one). A server with
// a data directory of its own reads the other's files by their own paths.
inline executor::TryFiles TryFilesOf(const nlohmann::json& handle, const std::string& log_path) {
  auto text = [&handle](const char* key, std::string fallback) {
    auto it = handle.is_object() ? handle.find(key) : handle.end();
    return handle.is_object() && it != handle.end() && it->is_string() ? it->get<std::string>()
                                                                       : fallback;
  };
  return executor::TryFiles{text("exit_record", ""), text("log", log_path)};
}

// Whether an adopted try may still run and is worth watching: running here, or elsewhere (only
// its files can tell).
inline bool Watchable(const executor::ProcessHandle& h) {
  const executor::ProcessLiveness live = executor::CheckProcess(h);
  return live == executor::ProcessLiveness::kRunning ||
         live == executor::ProcessLiveness::kElsewhere;
}

// Stops an adopted try (not our child): here by its process group, elsewhere through its stop
// file (executor::StopTry). FailedPrecondition: it could not be reached and may still run (a
// try elsewhere without an exit record, a stop file that cannot be written); Unavailable: it fell
// silent without recording its end.
inline Status StopAdoptedTry(const executor::ProcessHandle& h, const executor::TryFiles& files,
                             Millis grace, Millis silence) {
  if (executor::IsHere(h) || !files.exit_record.empty()) {
    return executor::StopTry(h, files, grace, silence);
  }
  return FailedPreconditionError("process " + std::to_string(h.pid) +
                                 " runs on another host or pod and has no exit record to stop "
                                 "it through");
}

// ", through its log and exit record (it runs on another host or pod)" for a try elsewhere.
inline std::string DescribeWatch(const executor::ProcessHandle& h) {
  return executor::IsHere(h) ? ""
                             : " through its log and exit record (it runs on another host or "
                               "pod)";
}

// Why an adopted try that recorded no exit is lost.
inline std::string DescribeLoss(const executor::ProcessHandle& h, Millis silence) {
  if (executor::IsHere(h)) return "ended without recording its exit (it was killed)";
  return "ran on another host or pod and showed no sign of life for " +
         std::to_string(silence.count() / 1000) +
         " s (no heartbeat on its log, no exit record: its host or supervisor is gone, or the "
         "logs are not on a volume this server shares)";
}

// The result of an adopted try whose exit record says it never started (ExitInfo::never_started).
inline TaskResult NeverStarted() {
  TaskResult r;
  r.exit_code = -1;
  r.never_started = true;
  r.message = "the try never started: the server that launched it stopped before starting it";
  return r;
}

}  // namespace sp::operators::internal
