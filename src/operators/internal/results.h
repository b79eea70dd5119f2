// Small helpers the task types share for ending tries, sizing and writing "[sparkplane] ..."
// lines to a try's log. Private to operators/. Header-only, stateless.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "common/status.h"
#include "operators/task_type.h"

namespace sp::operators::internal {

// Size of a try's log (0 when it does not exist yet): where this try's output starts, and how
// much a scan has to read.
inline uint64_t LogSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

inline TaskResult Failed(std::string message, bool retryable, int exit_code = -1) {
  TaskResult r;
  r.success = false;
  r.exit_code = exit_code;
  r.message = std::move(message);
  r.retryable = retryable;
  return r;
}

inline TaskResult Succeeded(nlohmann::json outputs, std::string message) {
  TaskResult r;
  r.success = true;
  r.exit_code = 0;
  r.outputs = std::move(outputs);
  r.message = std::move(message);
  return r;
}

// Whether a retry may fix what `s` reports: bad input, a missing file or name, or a conflict stay
// as they are until a user acts; store and network trouble may pass.
inline bool IsRetryable(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kFailedPrecondition:
    case StatusCode::kNotFound:
    case StatusCode::kAlreadyExists:
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnauthenticated:
      return false;
    default:
      return true;
  }
}

inline void Log(const TaskContext& ctx, const std::string& line) {
  ctx.AppendLog("[sparkplane] " + line);
}

// Logs `message` and ends the try as failed.
inline void Fail(const std::shared_ptr<TaskContext>& ctx, const std::string& message,
                 bool retryable, int exit_code = -1) {
  Log(*ctx, message);
  ctx->Complete(Failed(message, retryable, exit_code));
}

}  // namespace sp::operators::internal
