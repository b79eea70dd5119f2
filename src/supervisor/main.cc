// sparkplane-supervisor: the parent of one task try's command, started by the server with
// posix_spawn (the protocol is in executor/supervisor_protocol.h). It waits at the start gate,
// runs the command, and writes how it ended next to the try's log, so the result survives the
// server. Plain system calls only (no C++ library, so it links against musl where that is
// installed): it is exec'd for every try and must start in microseconds.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "executor/supervisor_protocol.h"

namespace {

using sp::executor::kGateClosedExitCode;
using sp::executor::kLaunchFailedExitCode;
using sp::executor::kOutputFailedExitCode;
using sp::executor::kStopFileSuffix;
using sp::executor::kSupervisorGateFd;

void WriteAll(int fd, const char* s, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

void Say(const char* a, const char* b = "", const char* c = "", const char* d = "") {
  const char* parts[] = {a, b, c, d};
  for (const char* s : parts) WriteAll(2, s, strlen(s));
}

[[noreturn]] void CannotExecute(const char* program) {
  Say("sparkplane: cannot execute '", program, "': ", strerror(errno));
  Say("\n");
  _exit(kLaunchFailedExitCode);
}

// `word` and the decimal `value` and a newline into `buf` (room for 64 bytes); returns the length.
size_t FormatLine(char* buf, const char* word, unsigned long value) {
  size_t n = 0;
  for (const char* w = word; *w != '\0' && n < 40; ++w) buf[n++] = *w;
  char digits[24];
  size_t d = 0;
  do {
    digits[d++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (d > 0) buf[n++] = digits[--d];
  buf[n++] = '\n';
  return n;
}

// "exit N\n" / "signal N\n" / "unstarted 0\n" into `path` through `path`.tmp and a rename (readers
// never see a partial record). No fsync: the record must outlive the server process, which the page
// cache does; after a power loss every try is gone anyway and a lost record means a retry — the
// store's own commits (WAL, synchronous=NORMAL) make the same trade.
void WriteRecordLine(const char* path, const char* buf, size_t n) {
  size_t len = strlen(path);
  char* tmp = static_cast<char*>(malloc(len + 5));
  if (tmp == nullptr) return;
  memcpy(tmp, path, len);
  memcpy(tmp + len, ".tmp", 5);
  int fd = ::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd >= 0) {
    bool ok = ::write(fd, buf, n) == static_cast<ssize_t>(n);
    ok = ::close(fd) == 0 && ok;
    if (ok) ::rename(tmp, path);
  }
  free(tmp);
}

void WriteRecord(const char* path, int status) {
  char buf[64];
  const size_t n = WIFSIGNALED(status) ? FormatLine(buf, "signal ", WTERMSIG(status))
                                       : FormatLine(buf, "exit ", WEXITSTATUS(status));
  WriteRecordLine(path, buf, n);
}

// Creates the missing directories above `path` (0700: logs are private), like `mkdir -p`.
void MakeParents(const char* path) {
  size_t len = strlen(path);
  char* dir = static_cast<char*>(malloc(len + 1));
  if (dir == nullptr) return;
  memcpy(dir, path, len + 1);
  for (size_t k = 1; k < len; ++k) {
    if (dir[k] != '/') continue;
    dir[k] = '\0';
    if (::mkdir(dir, 0700) != 0 && errno != EEXIST) break;
    dir[k] = '/';
  }
  free(dir);
}

// The try's log becomes stdout and stderr (appended; made with its directories if missing).
// Here rather than in the server, so creating files stays off the scheduler's loop thread.
bool OpenOutput(const char* path) {
  constexpr int kFlags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
  int fd = ::open(path, kFlags, 0600);
  if (fd < 0 && errno == ENOENT) {
    MakeParents(path);
    fd = ::open(path, kFlags, 0600);
  }
  if (fd < 0) return false;
  bool ok = ::dup2(fd, 1) == 1 && ::dup2(fd, 2) == 2;
  ::close(fd);
  return ok;
}

// Lowers this try's priority by `nice` (1..19): the program inherits the nice value. This
// process shares the server's session, hence its scheduling autogroup where the kernel makes
// them, so the value weighs against the server's own threads.
void LowerPriority(const char* nice) {
  int value = atoi(nice);
  if (value <= 0 || value > 19) return;
  (void)::nice(value);
}

// Gives up the controlling terminal of the server's session (a server started from a shell has
// one): a program that opens /dev/tty to prompt (ssh, sudo) fails at once instead of stopping
// for ever on SIGTTIN in a background process group. Never as a session leader, whose
// TIOCNOTTY would hang up the terminal's foreground group.
void DropTerminal() {
  if (::getsid(0) == ::getpid()) return;
  int fd = ::open("/dev/tty", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return;
  ::ioctl(fd, TIOCNOTTY);
  ::close(fd);
}

long long MonotonicMillis() {
  timespec t;
  ::clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<long long>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

// "<record>.stop" (freed by the caller), or null.
char* StopPath(const char* record) {
  size_t len = strlen(record);
  size_t suffix = strlen(kStopFileSuffix);
  char* path = static_cast<char*>(malloc(len + suffix + 1));
  if (path == nullptr) return nullptr;
  memcpy(path, record, len);
  memcpy(path + len, kStopFileSuffix, suffix + 1);
  return path;
}

// The stop file's grace in milliseconds, or -1 while there is none (see executor/try_files.h).
long long StopGrace(const char* stop_path) {
  if (stop_path == nullptr) return -1;
  int fd = ::open(stop_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[32];
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  buf[n > 0 ? n : 0] = '\0';
  if (buf[0] < '0' || buf[0] > '9') return -1;  // not written yet: looked at again in a second
  return atoll(buf);
}

// Waits for the program to end and returns its wait status. Once a second meanwhile: marks the
// output's modification time (`heartbeat`: stdout is the try's log), so that a server on another
// host sharing the log's volume sees the try alive, and looks for the stop file such a server
// writes: SIGTERM to the group then, SIGKILL to the program after the file's grace (`*stopped`).
int AwaitProgram(pid_t pid, bool heartbeat, const char* record, bool* stopped) {
  sigset_t child_ended;
  sigemptyset(&child_ended);
  sigaddset(&child_ended, SIGCHLD);
  char* stop_path = nullptr;  // made at the first look
  long long kill_at = -1;     // monotonic ms of the SIGKILL, once a stop came
  bool killed = false;
  // The first beat and look come after a second: most tries have ended by then, and a watcher
  // counts its first look at the log as a sign of life anyway.
  long long next_beat = MonotonicMillis() + 1000;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) _exit(kLaunchFailedExitCode);
    const long long now = MonotonicMillis();
    if (now >= next_beat) {
      next_beat = now + 1000;
      if (heartbeat) ::futimens(1, nullptr);
      if (stop_path == nullptr) stop_path = StopPath(record);
      long long grace = kill_at < 0 ? StopGrace(stop_path) : -1;
      if (grace >= 0) {
        ::kill(-::getpgrp(), SIGTERM);
        kill_at = now + grace;
      }
    }
    if (kill_at >= 0 && !killed && now >= kill_at) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    long long wake = next_beat;
    if (kill_at >= 0 && !killed && kill_at < wake) wake = kill_at;
    const long long left = wake > now ? wake - now : 1;
    timespec wait = {static_cast<time_t>(left / 1000), static_cast<long>(left % 1000) * 1000000};
    ::sigtimedwait(&child_ended, nullptr, &wait);
  }
  free(stop_path);
  *stopped = kill_at >= 0;
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  bool gate = false;
  const char* record = nullptr;
  const char* cwd = nullptr;
  const char* output = nullptr;
  bool announce = false;
  const char* nice = nullptr;
  int i = 1;
  for (; i < argc; ++i) {
    if (strcmp(argv[i], "--gate") == 0) {
      gate = true;
    } else if (strcmp(argv[i], "--record") == 0 && i + 1 < argc) {
      record = argv[++i];
    } else if (strcmp(argv[i], "--cwd") == 0 && i + 1 < argc) {
      cwd = argv[++i];
    } else if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) {
      output = argv[++i];
    } else if (strcmp(argv[i], "--announce") == 0) {
      announce = true;
    } else if (strcmp(argv[i], "--nice") == 0 && i + 1 < argc) {
      nice = argv[++i];
    } else if (strcmp(argv[i], "--") == 0) {
      ++i;
      break;
    } else {
      Say("sparkplane-supervisor: unexpected argument '", argv[i],
          "' (it is started by sparkplane, not by hand)\n");
      return 2;
    }
  }
  if (i + 1 >= argc) {
    Say("usage: sparkplane-supervisor [--gate] [--record PATH] [--output PATH] [--announce] "
        "[--nice N] [--cwd DIR] -- PROGRAM ARGV0 [ARGS...]\n");
    return 2;
  }
  const char* program = argv[i];
  char** program_argv = argv + i + 1;
  DropTerminal();
  if (nice != nullptr) LowerPriority(nice);

  if (gate) {
    char byte = 0;
    ssize_t n;
    do {
      n = ::read(kSupervisorGateFd, &byte, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
      // The server went away before opening the gate: nothing ran. Said in the record (the try's
      // directory may not exist yet), so that whoever adopts the try starts it again.
      if (record != nullptr) {
        MakeParents(record);
        static constexpr char kUnstarted[] = "unstarted 0\n";
        WriteRecordLine(record, kUnstarted, sizeof kUnstarted - 1);
      }
      _exit(kGateClosedExitCode);
    }
    ::close(kSupervisorGateFd);
  }
  if (output != nullptr && !OpenOutput(output)) {
    // stderr is /dev/null here: the exit code (and the record) is all the server learns.
    if (record != nullptr) WriteRecord(record, kOutputFailedExitCode << 8);
    _exit(kOutputFailedExitCode);
  }
  if (announce) {
    char line[64];
    WriteAll(
        1, line,
        FormatLine(line, "[sparkplane] started process ", static_cast<unsigned long>(::getpid())));
  }
  // After the gate: the directory is the one that exists when the try really starts.
  if (cwd != nullptr && ::chdir(cwd) != 0) {
    Say("sparkplane: cannot change to working directory '", cwd, "': ", strerror(errno));
    Say("\n");
    _exit(kLaunchFailedExitCode);
  }
  if (record == nullptr) {
    ::execv(program, program_argv);
    CannotExecute(program);
  }

  // SIGCHLD stays blocked here so that the wait below can also wake every second; the program
  // gets the mask it would have had.
  sigset_t child_ended, unblocked;
  sigemptyset(&child_ended);
  sigaddset(&child_ended, SIGCHLD);
  ::sigprocmask(SIG_BLOCK, &child_ended, &unblocked);
  pid_t pid = ::fork();
  if (pid < 0) CannotExecute(program);
  if (pid == 0) {
    ::sigprocmask(SIG_SETMASK, &unblocked, nullptr);
    ::execv(program, program_argv);
    CannotExecute(program);
  }
  // A stop sent to the group is for the program; this process outlives it to record the end.
  const int stops[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT};
  for (int sig : stops) ::signal(sig, SIG_IGN);
  bool stopped = false;
  const int status = AwaitProgram(pid, output != nullptr, record, &stopped);
  WriteRecord(record, status);
  if (stopped) ::kill(-::getpgrp(), SIGKILL);  // the stop's stragglers, and this process
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    struct rlimit no_core = {0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);  // the program's core (if any) was dumped already
    ::signal(sig, SIG_DFL);
    ::kill(::getpid(), sig);
    _exit(128 + sig);
  }
  return WEXITSTATUS(status);
}
