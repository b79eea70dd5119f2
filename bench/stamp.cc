// sp_stamp: the command the latency benchmark's chain tasks run. It appends one line
//
//   TAG START_NS END_NS
//
// to FILE, where START_NS is CLOCK_REALTIME on entering main() and END_NS just before exiting, so
// (start of task i+1) - (end of task i) is the scheduler's task-to-task latency plus one fork/exec.
// Linked statically when the toolchain can (no dynamic loader: its ~0.3 ms would be counted as
// scheduler latency). Plain C library calls only, for the same reason.
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace {

long long NowNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

}  // namespace

int main(int argc, char** argv) {
  const long long start = NowNs();
  if (argc != 3) {
    const char usage[] = "usage: sp_stamp FILE TAG\n";
    (void)!write(2, usage, sizeof usage - 1);
    return 2;
  }
  int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return 1;
  char line[256];
  int n = std::snprintf(line, sizeof line, "%s %lld %lld\n", argv[2], start, NowNs());
  // O_APPEND and one write() per line: lines of concurrent tasks never interleave.
  bool ok = n > 0 && write(fd, line, static_cast<size_t>(n)) == n;
  close(fd);
  return ok ? 0 : 1;
}
