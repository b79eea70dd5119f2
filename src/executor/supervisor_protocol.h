// How ProcessSupervisor starts `sparkplane-supervisor` (src/supervisor/main.cc), the small
// process that runs one gated or recorded child so the server never fork()s itself:
//
//   sparkplane-supervisor [--gate] [--record PATH] [--output PATH] [--announce] [--nice N]
//                         [--cwd DIR] -- PROGRAM ARGV0 ...
//
// It is started with posix_spawn as the leader of a new process group in the server's session
// (it gives up the session's controlling terminal, if any), with the child's environment, stdin
// (/dev/null) and stdout/stderr (the log, or /dev/null with --output). --nice N (1..19): it
// raises its nice value (the program's too) by N. --gate: it first reads one byte from fd 3 (the
// start gate); EOF exits kGateClosedExitCode without running anything (with --record it first
// records "unstarted 0", its directories made 0700 if missing, so that a server adopting the try
// knows it never ran and schedules it again without spending a try). --output: then it opens
// PATH for appending (0600, its missing directories made 0700) as stdout and stderr, so the
// server's loop never creates a try's log; if it cannot, it exits kOutputFailedExitCode
// (recorded as such with --record). --announce: it writes "[sparkplane] started process PID"
// (its own pid, the one the handle names) to stdout. --cwd: then it changes to DIR (a directory
// gone by then is reported on stderr, exit kLaunchFailedExitCode). Without --record it then
// execs PROGRAM in place (same pid and start time, so the handle stays valid).
// With --record it stays as the program's parent: it ignores SIGTERM/SIGINT/SIGHUP (a stop sent
// to the process group reaches the program, and the supervisor lives to record how it ended),
// writes "exit N" or "signal N" to PATH (through PATH.tmp and a rename) and ends the same
// way. Meanwhile, once a second: with --output too it marks the output's modification time (the
// try's heartbeat for servers on other hosts), and when PATH.stop appears (its text: a grace in
// milliseconds) it sends SIGTERM to its group, SIGKILL to the program after the grace, and
// SIGKILL to what is left of the group once the end is recorded (executor/try_files.h). A program
// that cannot be executed is reported on stderr ("sparkplane: cannot execute ...") with exit
// kLaunchFailedExitCode. When the server ends, a try's group becomes orphaned:
// one with a stopped member gets SIGHUP then SIGCONT from the kernel, which the recording
// supervisor ignores and the program handles as it would a hang-up.
//
// Thread safety: constants only.
#pragma once

namespace sp::executor {

inline constexpr const char* kSupervisorName = "sparkplane-supervisor";
// Exit status of a gated child whose gate closed without a release (the server went away).
inline constexpr int kGateClosedExitCode = 125;
// Exit status of a child that could not exec (as shells report it).
inline constexpr int kLaunchFailedExitCode = 127;
// Exit status of a supervisor that could not open its --output file (nothing was run).
inline constexpr int kOutputFailedExitCode = 122;
// Appended to the record's path: the stop file a server on another host writes.
inline constexpr const char* kStopFileSuffix = ".stop";
// The descriptor the gate arrives on in the supervisor.
inline constexpr int kSupervisorGateFd = 3;

}  // namespace sp::executor
