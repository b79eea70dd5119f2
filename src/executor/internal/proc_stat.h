// Reading /proc/PID/stat: the process state and its start time (clock ticks since boot), which
// together with the pid identify a process across pid reuse.
//
// Thread safety: stateless functions.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace sp::executor::internal {

struct ProcStat {
  char state = '?';          // field 3: R, S, D, Z, T, X, ...
  pid_t pgrp = 0;            // field 5
  uint64_t start_ticks = 0;  // field 22
};

// Parses the text of /proc/PID/stat. The command name (field 2) may hold spaces and
// parentheses, so fields are counted after the last ')'.
std::optional<ProcStat> ParseProcStat(std::string_view text);

// Reads and parses /proc/PID/stat; nullopt when the process does not exist.
std::optional<ProcStat> ReadProcStat(pid_t pid);

}  // namespace sp::executor::internal
