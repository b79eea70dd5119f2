// Following and stopping a recorded try through its files; see try_files.h.
#include "executor/try_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace sp::executor {

namespace {

constexpr Millis kPoll{200};
// The supervisor looks for the stop file once a second; then SIGKILL comes after the grace.
constexpr Millis kStopReach{3'000};

bool Exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

// Waits until the record exists (kRecorded), the output's mark stays still for `silence`
// (kSilent), `deadline` passes (kSilent too: not seen to end), or `stop` is set.
TryEnd AwaitFiles(const TryFiles& files, Millis silence,
                  std::chrono::steady_clock::time_point deadline, const std::atomic<bool>& stop) {
  using Steady = std::chrono::steady_clock;
  bool seen = false;
  timespec mark{};
  Steady::time_point moved = Steady::now();
  for (;;) {
    if (stop.load()) return TryEnd::kStopping;
    if (Exists(files.exit_record)) return TryEnd::kRecorded;
    struct stat st;
    if (::stat(files.output.c_str(), &st) == 0 &&
        (!seen || st.st_mtim.tv_sec != mark.tv_sec || st.st_mtim.tv_nsec != mark.tv_nsec)) {
      // The first look is a sign of life too: a mark this host has not seen move yet.
      seen = true;
      mark = st.st_mtim;
      moved = Steady::now();
    }
    const Steady::time_point now = Steady::now();
    if (now - moved >= silence || now >= deadline) {
      // The supervisor writes the record before it stops marking: look once more.
      return Exists(files.exit_record) ? TryEnd::kRecorded : TryEnd::kSilent;
    }
    std::this_thread::sleep_for(kPoll);
  }
}

}  // namespace

std::string StopFileOf(const std::string& exit_record) {
  return exit_record + ".stop";
}

TryEnd AwaitTryEnd(const ProcessHandle& h, const TryFiles& files, Millis silence,
                   const std::atomic<bool>& stop) {
  if (IsHere(h)) {
    if (!AwaitEnd(h, stop)) return TryEnd::kStopping;
    return Exists(files.exit_record) ? TryEnd::kRecorded : TryEnd::kSilent;
  }
  return AwaitFiles(files, silence, std::chrono::steady_clock::time_point::max(), stop);
}

Status StopTry(const ProcessHandle& h, const TryFiles& files, Millis grace, Millis silence) {
  if (IsHere(h)) {
    ProcessSupervisor::TerminateForeign(h, grace);
    return OkStatus();
  }
  if (Exists(files.exit_record)) return OkStatus();
  const std::string path = StopFileOf(files.exit_record);
  const std::string text = std::to_string(grace.count()) + "\n";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool written =
      fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (fd >= 0) written = ::close(fd) == 0 && written;
  if (!written) return UnavailableError("cannot write the stop file " + path);
  std::atomic<bool> never{false};
  AwaitFiles(files, silence, std::chrono::steady_clock::now() + grace + kStopReach, never);
  return OkStatus();
}

}  // namespace sp::executor
