// Names of the store's enums as they appear in the database, the API and the CLI (snake_case),
// and the state predicates the scheduler relies on. The names are part of the on-disk format:
// renaming one needs a migration.
#include "store/records.h"

#include <array>
#include <string_view>
#include <utility>

namespace sp::store {
namespace {

constexpr std::array<std::pair<RunState, const char*>, 5> kRunStateNames = {{
    {RunState::kQueued, "queued"},
    {RunState::kRunning, "running"},
    {RunState::kSuccess, "success"},
    {RunState::kFailed, "failed"},
    {RunState::kCancelled, "cancelled"},
}};

constexpr std::array<std::pair<RunType, const char*>, 4> kRunTypeNames = {{
    {RunType::kScheduled, "scheduled"},
    {RunType::kManual, "manual"},
    {RunType::kBackfill, "backfill"},
    {RunType::kTest, "test"},
}};

constexpr std::array<std::pair<TaskState, const char*>, 9> kTaskStateNames = {{
    {TaskState::kNone, "none"},
    {TaskState::kScheduled, "scheduled"},
    {TaskState::kQueued, "queued"},
    {TaskState::kRunning, "running"},
    {TaskState::kSuccess, "success"},
    {TaskState::kFailed, "failed"},
    {TaskState::kUpForRetry, "up_for_retry"},
    {TaskState::kUpstreamFailed, "upstream_failed"},
    {TaskState::kSkipped, "skipped"},
}};

template <typename Enum, size_t N>
const char* NameOf(const std::array<std::pair<Enum, const char*>, N>& table, Enum value) {
  for (const auto& [e, name] : table) {
    if (e == value) return name;
  }
  return "unknown";  // only reachable with a value cast from an out-of-range integer
}

template <typename Enum, size_t N>
std::optional<Enum> ParseName(const std::array<std::pair<Enum, const char*>, N>& table,
                              std::string_view text) {
  for (const auto& [e, name] : table) {
    if (text == name) return e;
  }
  return std::nullopt;
}

}  // namespace

const char* RunStateName(RunState s) {
  return NameOf(kRunStateNames, s);
}
const char* RunTypeName(RunType t) {
  return NameOf(kRunTypeNames, t);
}
const char* TaskStateName(TaskState s) {
  return NameOf(kTaskStateNames, s);
}

std::optional<RunState> ParseRunState(const std::string& s) {
  return ParseName(kRunStateNames, s);
}
std::optional<RunType> ParseRunType(const std::string& s) {
  return ParseName(kRunTypeNames, s);
}
std::optional<TaskState> ParseTaskState(const std::string& s) {
  return ParseName(kTaskStateNames, s);
}

bool IsTerminal(RunState s) {
  switch (s) {
    case RunState::kSuccess:
    case RunState::kFailed:
    case RunState::kCancelled:
      return true;
    case RunState::kQueued:
    case RunState::kRunning:
      return false;
  }
  return false;
}

bool IsTerminal(TaskState s) {
  switch (s) {
    case TaskState::kSuccess:
    case TaskState::kFailed:
    case TaskState::kUpstreamFailed:
    case TaskState::kSkipped:
      return true;
    case TaskState::kNone:
    case TaskState::kScheduled:
    case TaskState::kQueued:
    case TaskState::kRunning:
    case TaskState::kUpForRetry:
      return false;
  }
  return false;
}

bool IsActive(TaskState s) {
  return s == TaskState::kQueued || s == TaskState::kRunning;
}

}  // namespace sp::store
