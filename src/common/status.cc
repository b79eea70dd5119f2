#include "common/status.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace sp {

const char* StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kInvalidArgument: return "INVALID_ARGUMENT";
    case StatusCode::kNotFound: return "NOT_FOUND";
    case StatusCode::kAlreadyExists: return "ALREADY_EXISTS";
    case StatusCode::kFailedPrecondition: return "FAILED_PRECONDITION";
    case StatusCode::kAborted: return "ABORTED";
    case StatusCode::kUnavailable: return "UNAVAILABLE";
    case StatusCode::kDeadlineExceeded: return "DEADLINE_EXCEEDED";
    case StatusCode::kCancelled: return "CANCELLED";
    case StatusCode::kPermissionDenied: return "PERMISSION_DENIED";
    case StatusCode::kUnauthenticated: return "UNAUTHENTICATED";
    case StatusCode::kResourceExhausted: return "RESOURCE_EXHAUSTED";
    case StatusCode::kInternal: return "INTERNAL";
  }
  return "UNKNOWN";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(StatusCodeName(code_)) + ": " + message_;
}

namespace internal {
namespace {
std::atomic<long> g_bug_count{0};  // a process-wide counter, read-only to everyone but BugHit
}

void CheckFailed(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "sparkplane: fatal: check failed: %s at %s:%d\n", cond, file, line);
  std::abort();
}

void BugHit(const std::string& msg, const char* file, int line) {
  g_bug_count.fetch_add(1);
  std::fprintf(stderr, "sparkplane: bug: %s at %s:%d\n", msg.c_str(), file, line);
#ifndef NDEBUG
  std::abort();
#endif
}

long BugCount() { return g_bug_count.load(); }
}  // namespace internal

}  // namespace sp
