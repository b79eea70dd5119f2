// Parsing of /proc/PID/stat; see proc_stat.h.
#include "executor/internal/proc_stat.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>

#include "executor/internal/unique_fd.h"

namespace sp::executor::internal {

namespace {

// Splits off the next space-separated field of `rest`.
std::string_view NextField(std::string_view* rest) {
  size_t start = rest->find_first_not_of(' ');
  if (start == std::string_view::npos) {
    *rest = {};
    return {};
  }
  size_t end = rest->find(' ', start);
  if (end == std::string_view::npos) end = rest->size();
  std::string_view field = rest->substr(start, end - start);
  *rest = rest->substr(end);
  return field;
}

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

std::optional<ProcStat> ParseProcStat(std::string_view text) {
  size_t close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(close + 1);
  ProcStat stat;
  // Field 3 is the first after the command name.
  for (int field = 3; field <= 22; ++field) {
    std::string_view value = NextField(&rest);
    if (value.empty()) return std::nullopt;
    if (field == 3) {
      stat.state = value[0];
    } else if (field == 5) {
      if (!ParseNumber(value, &stat.pgrp)) return std::nullopt;
    } else if (field == 22) {
      if (!ParseNumber(value, &stat.start_ticks)) return std::nullopt;
    }
  }
  return stat;
}

std::optional<ProcStat> ReadProcStat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  char path[64];
  std::snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  // The line is well under 1 KiB plus the command name (at most 64 bytes on current kernels).
  char buf[2048];
  size_t len = 0;
  while (len < sizeof(buf)) {
    ssize_t n = ::read(fd.get(), buf + len, sizeof(buf) - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
  }
  if (len == 0) return std::nullopt;
  return ParseProcStat(std::string_view(buf, len));
}

}  // namespace sp::executor::internal
