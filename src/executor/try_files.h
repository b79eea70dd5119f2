// Following and stopping a recorded try through its files, from wherever they can be read: the
// try may run in another process space (another host, a restarted pod; see ProcessSpace) when
// the logs are on a volume both share.
//
// A recording sparkplane-supervisor that writes the try's output (--record and --output) marks
// that file's modification time every second while the program runs (its heartbeat), writes
// the exit record when it ends, and stops the program when a stop file appears beside the
// record (executor/supervisor_protocol.h). So from anywhere the files reach:
// - the record present: the try ended, ReadExitRecord tells how;
// - the output's modification time moving: it runs;
// - neither for `silence`: its supervisor (or its host) is gone, or the files are not shared
//   with this host at all. Only then is the try taken as lost.
// Times are compared with themselves only (did the mark move?), never with this host's clock, so
// clock skew between hosts does not matter.
//
// Thread safety: stateless functions; each blocks the calling thread.
#pragma once

#include <atomic>
#include <string>

#include "common/clock.h"
#include "common/status.h"
#include "executor/process.h"

namespace sp::executor {

struct TryFiles {
  std::string exit_record;  // the supervisor's --record
  std::string output;       // its --output (the try's log)
};

// The stop file's path for a record ("<record>.stop").
std::string StopFileOf(const std::string& exit_record);

enum class TryEnd {
  kRecorded,  // the exit record exists
  kSilent,    // no record and no heartbeat for `silence`
  kStopping,  // `stop` was set first
};

// Waits for the end of the try `h` names. Here, through the process (AwaitEnd; its end without
// a record is kSilent); elsewhere, through `files` as above.
TryEnd AwaitTryEnd(const ProcessHandle& h, const TryFiles& files, Millis silence,
                   const std::atomic<bool>& stop);

// Stops the try `h` names and returns once it ended. Here: ProcessSupervisor::TerminateForeign.
// Elsewhere: writes the stop file (through a temporary name and a rename; its text is `grace` in
// milliseconds: SIGTERM to the program's group, SIGKILL to the program after `grace`) and waits
// for the record, or for `silence` without a heartbeat. Errors: FailedPrecondition when the stop
// file cannot be written (the try still runs); Unavailable when it fell silent without a record.
Status StopTry(const ProcessHandle& h, const TryFiles& files, Millis grace, Millis silence);

}  // namespace sp::executor
