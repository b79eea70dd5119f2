// Following and stopping a recorded try through its files; see try_files.h.
#include "executor/try_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "executor/supervisor_protocol.h"

namespace sp::executor {

namespace {

constexpr Millis kPoll{200};

bool Exists(const std::string& path) {
  return ::access(path.c_str(), F_OK) == 0;
}

// Whether `path`'s directory lists its name (read from the directory itself).
bool ListedIn(const std::string& path) {
  const std::filesystem::path p(path);
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(p.parent_path(), ec)) {
    if (entry.path().filename() == p.filename()) return true;
  }
  return Exists(path);
}

// Waits until the record exists (kRecorded), the output's mark stays still for `silence`
// (kSilent), or `stop` is set.
TryEnd AwaitFiles(const TryFiles& files, Millis silence, const std::atomic<bool>& stop) {
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
    if (now - moved >= silence) {
      // The supervisor writes the record before it stops marking: look once more, in a fresh
      // listing of its directory (a network file system may keep "no such file" for a name it
      // looked up before, but opening a directory revalidates it).
      return ListedIn(files.exit_record) ? TryEnd::kRecorded : TryEnd::kSilent;
    }
    std::this_thread::sleep_for(kPoll);
  }
}

}  // namespace

std::string StopFileOf(const std::string& exit_record) {
  return exit_record + kStopFileSuffix;
}

TryEnd AwaitTryEnd(const ProcessHandle& h, const TryFiles& files, Millis silence,
                   const std::atomic<bool>& stop) {
  if (IsHere(h)) {
    if (!AwaitEnd(h, stop)) return TryEnd::kStopping;
    return Exists(files.exit_record) ? TryEnd::kRecorded : TryEnd::kSilent;
  }
  return AwaitFiles(files, silence, stop);
}

Status StopTry(const ProcessHandle& h, const TryFiles& files, Millis grace, Millis silence) {
  if (IsHere(h)) {
    ProcessSupervisor::TerminateForeign(h, grace);
    return OkStatus();
  }
  if (Exists(files.exit_record)) return OkStatus();
  // Whole or not at all: a supervisor never reads a stop file without its grace.
  const std::string path = StopFileOf(files.exit_record);
  const std::string tmp = path + ".tmp";
  const std::string text = std::to_string(grace.count()) + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool written =
      fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  if (fd >= 0) written = ::close(fd) == 0 && written;
  if (!written || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return FailedPreconditionError("process " + std::to_string(h.pid) +
                                   " could not be asked to stop (writing " + path + " failed)");
  }
  std::atomic<bool> never{false};
  if (AwaitFiles(files, silence, never) == TryEnd::kRecorded) return OkStatus();
  return UnavailableError("process " + std::to_string(h.pid) + " fell silent for " +
                          std::to_string(silence.count() / 1000) +
                          " s without recording its end (its host or supervisor is gone, or the "
                          "logs are not on a volume this server shares)");
}

}  // namespace sp::executor
