// TaskContext's non-virtual helpers; see task_type.h.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/private_dirs.h"
#include "operators/task_type.h"

namespace sp::operators {

void TaskContext::SaveHandleThen(const nlohmann::json& handle, std::function<void()> start,
                                 std::function<void(const Status&)> abandon) {
  Status saved = SaveHandle(handle);
  if (saved.ok()) {
    start();
  } else {
    abandon(saved);
  }
}

void TaskContext::AppendLog(const std::string& line) const {
  if (log_path_.empty()) return;
  constexpr int kFlags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
  int fd = ::open(log_path_.c_str(), kFlags, 0600);
  if (fd < 0 && errno == ENOENT &&
      MakePrivateDirs(std::filesystem::path(log_path_).parent_path().string()).ok()) {
    fd = ::open(log_path_.c_str(), kFlags, 0600);
  }
  if (fd < 0) return;  // best effort: a log line must never fail the try
  // One write per line, so lines from concurrent writers (O_APPEND) do not interleave.
  std::string text = line + "\n";
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

}  // namespace sp::operators
